using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace StrawberryPhi.Web.Data.Migrations
{
    /// <inheritdoc />
    public partial class DatasetReflectionErrors : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<long>(
                name: "ReflectionErrors",
                table: "Datasets",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "ReflectionErrors",
                table: "Datasets");
        }
    }
}

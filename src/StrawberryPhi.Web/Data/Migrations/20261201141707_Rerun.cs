using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace StrawberryPhi.Web.Data.Migrations
{
    /// <inheritdoc />
    public partial class Rerun : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<Guid>(
                name: "RerunOfJobId",
                table: "Jobs",
                type: "TEXT",
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "IX_Jobs_RerunOfJobId",
                table: "Jobs",
                column: "RerunOfJobId");

            migrationBuilder.AddForeignKey(
                name: "FK_Jobs_Jobs_RerunOfJobId",
                table: "Jobs",
                column: "RerunOfJobId",
                principalTable: "Jobs",
                principalColumn: "Id",
                onDelete: ReferentialAction.SetNull);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropForeignKey(
                name: "FK_Jobs_Jobs_RerunOfJobId",
                table: "Jobs");

            migrationBuilder.DropIndex(
                name: "IX_Jobs_RerunOfJobId",
                table: "Jobs");

            migrationBuilder.DropColumn(
                name: "RerunOfJobId",
                table: "Jobs");
        }
    }
}

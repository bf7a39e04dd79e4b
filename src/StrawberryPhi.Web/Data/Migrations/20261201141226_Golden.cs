using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace StrawberryPhi.Web.Data.Migrations
{
    /// <inheritdoc />
    public partial class Golden : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<Guid>(
                name: "GoldenId",
                table: "EvalRuns",
                type: "TEXT",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "Golden",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    ProviderId = table.Column<Guid>(type: "TEXT", nullable: false),
                    Model = table.Column<string>(type: "TEXT", maxLength: 300, nullable: false),
                    SetId = table.Column<Guid>(type: "TEXT", nullable: false),
                    CaptureRunId = table.Column<Guid>(type: "TEXT", nullable: false),
                    ComparisonSetId = table.Column<Guid>(type: "TEXT", nullable: true),
                    CreatedAt = table.Column<DateTime>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_Golden", x => x.Id);
                    table.ForeignKey(
                        name: "FK_Golden_EvalRuns_CaptureRunId",
                        column: x => x.CaptureRunId,
                        principalTable: "EvalRuns",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Restrict);
                });

            migrationBuilder.CreateIndex(
                name: "IX_Golden_CaptureRunId",
                table: "Golden",
                column: "CaptureRunId");

            migrationBuilder.CreateIndex(
                name: "IX_Golden_CreatedAt",
                table: "Golden",
                column: "CreatedAt");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "Golden");

            migrationBuilder.DropColumn(
                name: "GoldenId",
                table: "EvalRuns");
        }
    }
}

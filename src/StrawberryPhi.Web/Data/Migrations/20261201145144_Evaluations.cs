using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace StrawberryPhi.Web.Data.Migrations
{
    /// <inheritdoc />
    public partial class Evaluations : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<Guid>(
                name: "RerunOfJobId",
                table: "Jobs",
                type: "TEXT",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "ChatCache",
                columns: table => new
                {
                    Key = table.Column<string>(type: "TEXT", nullable: false),
                    CreatedAt = table.Column<DateTime>(type: "TEXT", nullable: false),
                    Text = table.Column<string>(type: "TEXT", nullable: false),
                    FinishReason = table.Column<string>(type: "TEXT", nullable: true),
                    LatencyMs = table.Column<double>(type: "REAL", nullable: false),
                    PromptTokens = table.Column<int>(type: "INTEGER", nullable: true),
                    CompletionTokens = table.Column<int>(type: "INTEGER", nullable: true),
                    Cost = table.Column<double>(type: "REAL", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_ChatCache", x => x.Key);
                });

            migrationBuilder.CreateTable(
                name: "ChatPresets",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    Name = table.Column<string>(type: "TEXT", maxLength: 100, nullable: false),
                    ParametersJson = table.Column<string>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_ChatPresets", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "EvalSets",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    Name = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    CreatedAt = table.Column<DateTime>(type: "TEXT", nullable: false),
                    ItemCount = table.Column<int>(type: "INTEGER", nullable: false),
                    DatasetId = table.Column<Guid>(type: "TEXT", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_EvalSets", x => x.Id);
                    table.ForeignKey(
                        name: "FK_EvalSets_Datasets_DatasetId",
                        column: x => x.DatasetId,
                        principalTable: "Datasets",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.SetNull);
                });

            migrationBuilder.CreateTable(
                name: "PlaygroundSessions",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    Title = table.Column<string>(type: "TEXT", nullable: false),
                    CreatedAt = table.Column<DateTime>(type: "TEXT", nullable: false),
                    UpdatedAt = table.Column<DateTime>(type: "TEXT", nullable: false),
                    StateJson = table.Column<string>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_PlaygroundSessions", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "EvalItems",
                columns: table => new
                {
                    SetId = table.Column<Guid>(type: "TEXT", nullable: false),
                    Index = table.Column<int>(type: "INTEGER", nullable: false),
                    ItemId = table.Column<string>(type: "TEXT", nullable: false),
                    MessagesJson = table.Column<string>(type: "TEXT", nullable: false),
                    Reference = table.Column<string>(type: "TEXT", nullable: false),
                    MetadataJson = table.Column<string>(type: "TEXT", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_EvalItems", x => new { x.SetId, x.Index });
                    table.ForeignKey(
                        name: "FK_EvalItems_EvalSets_SetId",
                        column: x => x.SetId,
                        principalTable: "EvalSets",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "EvalRuns",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    SetId = table.Column<Guid>(type: "TEXT", nullable: false),
                    Status = table.Column<string>(type: "TEXT", maxLength: 20, nullable: false),
                    CreatedAt = table.Column<DateTime>(type: "TEXT", nullable: false),
                    StartedAt = table.Column<DateTime>(type: "TEXT", nullable: true),
                    FinishedAt = table.Column<DateTime>(type: "TEXT", nullable: true),
                    ModelsJson = table.Column<string>(type: "TEXT", nullable: false),
                    GradersJson = table.Column<string>(type: "TEXT", nullable: false),
                    Concurrency = table.Column<int>(type: "INTEGER", nullable: false),
                    Fresh = table.Column<bool>(type: "INTEGER", nullable: false),
                    Total = table.Column<int>(type: "INTEGER", nullable: false),
                    Error = table.Column<string>(type: "TEXT", nullable: true),
                    ClientRequestId = table.Column<string>(type: "TEXT", nullable: true),
                    GoldenId = table.Column<Guid>(type: "TEXT", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_EvalRuns", x => x.Id);
                    table.ForeignKey(
                        name: "FK_EvalRuns_EvalSets_SetId",
                        column: x => x.SetId,
                        principalTable: "EvalSets",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Restrict);
                });

            migrationBuilder.CreateTable(
                name: "EvalResults",
                columns: table => new
                {
                    RunId = table.Column<Guid>(type: "TEXT", nullable: false),
                    ModelIndex = table.Column<int>(type: "INTEGER", nullable: false),
                    ItemIndex = table.Column<int>(type: "INTEGER", nullable: false),
                    ItemId = table.Column<string>(type: "TEXT", nullable: false),
                    CreatedAt = table.Column<DateTime>(type: "TEXT", nullable: false),
                    Answer = table.Column<string>(type: "TEXT", nullable: false),
                    Extracted = table.Column<string>(type: "TEXT", nullable: false),
                    Pass = table.Column<bool>(type: "INTEGER", nullable: false),
                    Score = table.Column<double>(type: "REAL", nullable: false),
                    Reason = table.Column<string>(type: "TEXT", nullable: false),
                    GradesJson = table.Column<string>(type: "TEXT", nullable: false),
                    Error = table.Column<string>(type: "TEXT", nullable: true),
                    FinishReason = table.Column<string>(type: "TEXT", nullable: true),
                    LatencyMs = table.Column<double>(type: "REAL", nullable: false),
                    PromptTokens = table.Column<int>(type: "INTEGER", nullable: true),
                    CompletionTokens = table.Column<int>(type: "INTEGER", nullable: true),
                    Cost = table.Column<double>(type: "REAL", nullable: true),
                    Cached = table.Column<bool>(type: "INTEGER", nullable: false),
                    FormatValid = table.Column<bool>(type: "INTEGER", nullable: false),
                    Reflected = table.Column<bool>(type: "INTEGER", nullable: false),
                    FirstExtracted = table.Column<string>(type: "TEXT", nullable: true),
                    FirstPass = table.Column<bool>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_EvalResults", x => new { x.RunId, x.ModelIndex, x.ItemIndex });
                    table.ForeignKey(
                        name: "FK_EvalResults_EvalRuns_RunId",
                        column: x => x.RunId,
                        principalTable: "EvalRuns",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

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
                name: "IX_Jobs_RerunOfJobId",
                table: "Jobs",
                column: "RerunOfJobId");

            migrationBuilder.CreateIndex(
                name: "IX_ChatPresets_Name",
                table: "ChatPresets",
                column: "Name",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_EvalRuns_ClientRequestId",
                table: "EvalRuns",
                column: "ClientRequestId",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_EvalRuns_CreatedAt",
                table: "EvalRuns",
                column: "CreatedAt");

            migrationBuilder.CreateIndex(
                name: "IX_EvalRuns_SetId",
                table: "EvalRuns",
                column: "SetId");

            migrationBuilder.CreateIndex(
                name: "IX_EvalRuns_Status",
                table: "EvalRuns",
                column: "Status");

            migrationBuilder.CreateIndex(
                name: "IX_EvalSets_CreatedAt",
                table: "EvalSets",
                column: "CreatedAt");

            migrationBuilder.CreateIndex(
                name: "IX_EvalSets_DatasetId",
                table: "EvalSets",
                column: "DatasetId");

            migrationBuilder.CreateIndex(
                name: "IX_Golden_CaptureRunId",
                table: "Golden",
                column: "CaptureRunId");

            migrationBuilder.CreateIndex(
                name: "IX_Golden_CreatedAt",
                table: "Golden",
                column: "CreatedAt");

            migrationBuilder.CreateIndex(
                name: "IX_PlaygroundSessions_UpdatedAt",
                table: "PlaygroundSessions",
                column: "UpdatedAt");

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

            migrationBuilder.DropTable(
                name: "ChatCache");

            migrationBuilder.DropTable(
                name: "ChatPresets");

            migrationBuilder.DropTable(
                name: "EvalItems");

            migrationBuilder.DropTable(
                name: "EvalResults");

            migrationBuilder.DropTable(
                name: "Golden");

            migrationBuilder.DropTable(
                name: "PlaygroundSessions");

            migrationBuilder.DropTable(
                name: "EvalRuns");

            migrationBuilder.DropTable(
                name: "EvalSets");

            migrationBuilder.DropIndex(
                name: "IX_Jobs_RerunOfJobId",
                table: "Jobs");

            migrationBuilder.DropColumn(
                name: "RerunOfJobId",
                table: "Jobs");
        }
    }
}

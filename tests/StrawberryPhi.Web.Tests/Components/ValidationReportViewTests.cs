using Bunit;
using StrawberryPhi.Web.Components.Shared;

namespace StrawberryPhi.Web.Tests.Components;

public sealed class ValidationReportViewTests : ComponentTest
{
    [Fact]
    public void Render_ReportWithDefects_CountsEveryCodeAndListsEachIssueAtItsLine()
    {
        var report = Validate("with-defects.jsonl");

        var cut = Render<ValidationReportView>(p => p.Add(c => c.Report, report));

        var counts = cut.Find("[data-testid=code-counts]").TextContent;
        foreach (var code in report.Counts.Keys)
        {
            Assert.Contains(code, counts, StringComparison.Ordinal);
        }
        Assert.Equal($"{report.Errors} errors", cut.Find("[data-testid=error-count]").TextContent.Trim());
        var lines = cut.FindAll("[data-testid=issue-line]").Select(e => e.TextContent.Trim()).ToList();
        Assert.Contains("3", lines);
        Assert.Contains("8", lines);
        Assert.Contains("10", lines);
    }

    [Fact]
    public void ClickLine_AsksToOpenThatLine()
    {
        var report = Validate("with-defects.jsonl");
        long? opened = null;
        var cut = Render<ValidationReportView>(p => p.Add(c => c.Report, report).Add(c => c.OnOpenLine, line => opened = line));

        cut.FindAll("[data-testid=issue-line]").First(e => e.TextContent.Trim() == "8").Click();

        Assert.Equal(8, opened);
    }

    [Fact]
    public void ClickCodeRow_FiltersTheIssuesToThatCode()
    {
        var report = Validate("with-defects.jsonl");
        var cut = Render<ValidationReportView>(p => p.Add(c => c.Report, report));

        cut.FindAll("[data-testid=code-counts] tbody tr").First(r => r.TextContent.Contains("invalid_json", StringComparison.Ordinal)).Click();

        var messages = cut.FindAll("[data-testid=issue-table] tbody tr");
        var row = Assert.Single(messages);
        Assert.Contains("invalid_json", row.TextContent, StringComparison.Ordinal);
        Assert.Contains("8", row.QuerySelector("[data-testid=issue-line]")!.TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_CleanReport_SaysSo()
    {
        var report = Validate("reflection-sample.jsonl");

        var cut = Render<ValidationReportView>(p => p.Add(c => c.Report, report));

        Assert.Contains("No issues", cut.Markup, StringComparison.Ordinal);
        Assert.Empty(cut.FindAll("[data-testid=issue-table]"));
    }
}

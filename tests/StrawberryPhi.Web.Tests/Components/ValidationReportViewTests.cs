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
    public async Task ClickLine_AsksToOpenThatLine()
    {
        var report = Validate("with-defects.jsonl");
        var opened = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        var cut = Render<ValidationReportView>(p => p.Add(c => c.Report, report).Add(c => c.OnOpenLine, line => opened.TrySetResult(line)));

        await cut.FindAll("[data-testid=issue-line]").First(e => e.TextContent.Trim() == "8").ClickAsync(new());

        Assert.Equal(8, await opened.Task.WaitAsync(Wait));
    }

    [Fact]
    public async Task ClickCodeRow_FiltersTheIssuesToThatCode()
    {
        var report = Validate("with-defects.jsonl");
        var cut = Render<ValidationReportView>(p => p.Add(c => c.Report, report));

        await cut.FindAll("[data-testid=code-counts] tbody tr").First(r => r.TextContent.Contains("invalid_json", StringComparison.Ordinal)).ClickAsync(new());

        cut.WaitForAssertion(() =>
        {
            var row = Assert.Single(cut.FindAll("[data-testid=issue-table] tbody tr"));
            Assert.Contains("invalid_json", row.TextContent, StringComparison.Ordinal);
            Assert.Contains("8", row.QuerySelector("[data-testid=issue-line]")!.TextContent, StringComparison.Ordinal);
        }, Wait);
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

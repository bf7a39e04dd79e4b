using Spectre.Console;
using StrawberryPhi.Core.Catalog;
using StrawberryPhi.Core.Datasets;
using StrawberryPhi.Core.Text;
using StrawberryPhi.Core.Tokens;
using StrawberryPhi.Core.Validation;

namespace StrawberryPhi.Cli.Output;

/// <summary>The human form of a validation report.</summary>
internal static class ReportRenderer
{
    public static void Render(IAnsiConsole console, ValidationReport report, bool listIssues, int maxPerCode)
    {
        var kind = report.Kind == DatasetKind.Preference ? "preference JSONL" : "chat JSONL";
        console.MarkupLine($"[bold]{Markup.Escape(Path.GetFileName(report.File))}[/]  {kind} · {report.Examples:N0} examples · {ByteSize.Format(report.Bytes)} · {report.Elapsed.TotalSeconds:0.00} s");

        var info = report.Counts.Sum(c => c.Value) - report.Errors - report.Warnings;
        var verdict = report.ProviderErrors > 0
            ? $"[red]✗ {Plural.Of(report.ProviderErrors, "error")}[/]"
            : "[green]✓ no errors[/]";
        console.MarkupLine($"{verdict} · [yellow]{Plural.Of(report.Warnings, "warning")}[/] · [blue]{info:N0} info[/]");
        if (report.Reflection is { } checkedReflection)
        {
            // A verdict of its own: an opt-in quality check that the provider does not make.
            console.MarkupLine(report.ReflectionErrors > 0
                ? $"Reflection format: [red]✗ {Plural.Of(report.ReflectionErrors, "error")}[/] ({checkedReflection.ValidExamples:N0} of {Plural.Of(checkedReflection.ExamplesChecked, "example")} well formed; the provider does not check this)"
                : $"Reflection format: [green]✓ all {Plural.Of(checkedReflection.ExamplesChecked, "example")} well formed[/]");
        }
        if (report.Uncounted > 0)
        {
            console.MarkupLine($"[dim]{Plural.Of(report.Uncounted, "example")} could not be read, so {(report.Uncounted == 1 ? "its tokens are" : "their tokens are")} not counted below.[/]");
        }
        console.WriteLine();

        if (report.Counts.Count > 0)
        {
            var bySeverity = report.Issues.GroupBy(i => i.Code).ToDictionary(g => g.Key, g => g.First().Severity);
            var table = new Table().Border(TableBorder.Rounded).Title("Issues by code")
                .AddColumn("severity").AddColumn("code").AddColumn(new TableColumn("count").RightAligned());
            foreach (var (code, count) in report.Counts.OrderByDescending(c => bySeverity.GetValueOrDefault(c.Key)).ThenBy(c => c.Key, StringComparer.Ordinal))
            {
                var severity = bySeverity.TryGetValue(code, out var s) ? s : Severity.Info;
                table.AddRow(new Markup(Colored(severity)), new Text(code), new Text(count.ToString("N0")));
            }
            console.Write(table);

            if (listIssues && report.Issues.Count > 0)
            {
                console.WriteLine();
                console.MarkupLine($"[bold]Issues[/] (up to {maxPerCode} of each code; --max-per-code lists more, --format json gives them to scripts)");
                foreach (var issue in report.Issues)
                {
                    var where = issue.Line == 0 ? "file" : $"line {issue.Line}";
                    console.MarkupLine($"  {where,-11} {Colored(issue.Severity, pad: true)} [dim]{Markup.Escape(issue.Code)}[/]  {Markup.Escape(issue.Path)}  {Markup.Escape(issue.Message)}");
                }
            }
            console.WriteLine();
        }

        RenderTokens(console, report.Tokens);
        if (report.Reflection is { } reflection)
        {
            console.WriteLine();
            console.MarkupLine("[bold]Reflection[/]");
            console.MarkupLine($"  {reflection.ValidExamples:N0} of {reflection.ExamplesChecked:N0} examples well-formed · {reflection.ShareWithReflection:P1} have a reflection · {reflection.ReflectionsPerExample:0.00} reflections per example");
            console.MarkupLine($"  token shares: thinking {reflection.ThinkingShare:P1} · reflection {reflection.ReflectionShare:P1} · output {reflection.OutputShare:P1}");
        }
        if (report.Estimate is { } estimate)
        {
            console.WriteLine();
            RenderEstimate(console, estimate);
        }
    }

    private static void RenderTokens(IAnsiConsole console, TokenStatistics tokens)
    {
        console.MarkupLine($"[bold]Tokens[/] ({tokens.Encoding}, counted like the OpenAI Cookbook)");
        console.MarkupLine($"  total {tokens.Total:N0} · assistant {tokens.Assistant:N0} · over the {tokens.TokenLimit:N0}-token limit: {tokens.OverLimit:N0}");
        console.MarkupLine($"  per example: {Describe(tokens.PerExample)}");
        console.MarkupLine($"  assistant per example: {Describe(tokens.AssistantPerExample)}");
        if (tokens.Histogram.Count > 1)
        {
            var chart = new BarChart().Width(70).Label("  examples by tokens");
            foreach (var bin in tokens.Histogram)
            {
                chart.AddItem($"{bin.From:N0}–{bin.To - 1:N0}", bin.Count, Color.Blue);
            }
            console.Write(chart);
        }
    }

    private static void RenderEstimate(IAnsiConsole console, FineTuneEstimate estimate)
    {
        console.MarkupLine($"[bold]Estimate[/] for {Markup.Escape(estimate.Model)} (catalog of {estimate.CatalogAsOf:yyyy-MM-dd})");
        var cost = estimate.CostUsd is { } usd ? $" ≈ [bold]${usd:N2}[/] at ${estimate.PricePer1M:N2} per 1M tokens"
            : estimate.Notices.Any(n => n.Code == "model_shut_down") ? " (no cost: the model is shut down)" : " (no price in the catalog)";
        console.MarkupLine($"  {Plural.Of(estimate.Epochs, "epoch")} (recommended for {Plural.Of(estimate.Examples, "example")}) × {Plural.Of(estimate.TokensPerEpoch, "token")} = {estimate.BilledTokens:N0} billed tokens{cost}");
        foreach (var notice in estimate.Notices)
        {
            console.MarkupLine($"  {Colored(notice.Severity)} {Markup.Escape(notice.Message)}");
        }
    }

    private static string Describe(Distribution d) => d.Count == 0 ? "no examples"
        : $"min {d.Min:N0} · p5 {d.P5:N1} · median {d.Median:N1} · mean {d.Mean:N1} · p95 {d.P95:N1} · max {d.Max:N0}";

    private static string Colored(Severity severity, bool pad = false)
    {
        var (word, color) = severity switch
        {
            Severity.Error => ("error", "red"),
            Severity.Warning => ("warning", "yellow"),
            _ => ("info", "blue"),
        };
        return $"[{color}]{(pad ? word.PadRight(7) : word)}[/]";
    }

}

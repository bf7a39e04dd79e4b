using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;
using StrawberryPhi.Core.Evaluation;
using StrawberryPhi.Core.Validation;

namespace StrawberryPhi.Cli.Commands;

/// <summary><c>phi eval grade</c>: the studio's graders on answers produced elsewhere.</summary>
internal static class EvalCommand
{
    public static Command Create(CliContext context)
    {
        var eval = new Command("eval", "Evaluation: grade answers with the studio's graders.");
        var file = CommonOptions.FileArgument("JSONL: one object per line with \"answer\" and \"reference\" (GSM8K's \"#### 42\" accepted).");
        var grader = new Option<string>("--grader", "-g") { Description = $"One of: {string.Join(", ", Graders.Names)}.", Required = true }
            .AcceptOnlyFromAmong([.. Graders.Names]);
        var tolerance = new Option<double>("--tolerance") { Description = "numeric: the largest difference that still passes.", DefaultValueFactory = _ => 1e-6 };
        var format = CommonOptions.Format();
        var grade = new Command("grade", "Grade each line's answer against its reference; answers are read from <output> when present.") { file, grader, tolerance, format };
        grade.SetAction(async (parse, cancellationToken) =>
        {
            var path = CommonOptions.ExistingFile(parse.GetValue(file)!);
            var name = parse.GetValue(grader)!;
            var results = new List<(long Line, bool Pass, string Extracted, string Reason)>();
            long number = 0;
            await foreach (var line in File.ReadLinesAsync(path, cancellationToken))
            {
                number++;
                if (string.IsNullOrWhiteSpace(line))
                {
                    continue;
                }
                results.Add(GradeLine(number, line, name, parse.GetValue(tolerance)));
            }
            var passed = results.Count(r => r.Pass);
            if (parse.GetValue(format) == "json")
            {
                var json = new JsonObject
                {
                    ["results"] = new JsonArray([.. results.Select(r => (JsonNode)new JsonObject { ["line"] = r.Line, ["pass"] = r.Pass, ["extracted"] = r.Extracted, ["reason"] = r.Reason })]),
                    ["passed"] = passed,
                    ["total"] = results.Count,
                };
                await context.Output.WriteLineAsync(json.ToJsonString());
                return ExitCodes.Ok;
            }
            var table = new Table().Border(TableBorder.Rounded).AddColumn(new TableColumn("line").RightAligned()).AddColumn("pass").AddColumn("extracted").AddColumn("reason");
            foreach (var r in results)
            {
                table.AddRow(r.Line.ToString(CultureInfo.InvariantCulture), r.Pass ? "[green]yes[/]" : "[red]no[/]", Markup.Escape(r.Extracted), Markup.Escape(r.Reason));
            }
            context.Console.Write(table);
            await context.Output.WriteLineAsync($"{passed} of {results.Count} passed ({name}).");
            return ExitCodes.Ok;
        });
        eval.Add(grade);
        return eval;
    }

    /// <summary>One line graded; a line that cannot be read fails, saying why (the others are still graded).</summary>
    private static (long, bool, string, string) GradeLine(long number, string line, string grader, double tolerance)
    {
        try
        {
            using var document = JsonDocument.Parse(line);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || Text(root, "answer") is not { } answer || Text(root, "reference") is not { } reference)
            {
                return (number, false, "", "the line needs \"answer\" and \"reference\" (strings, or numbers)");
            }
            var grade = Graders.Grade(grader, answer, reference, tolerance);
            return (number, grade.Pass, grade.Extracted, grade.Reason);
        }
        catch (JsonException e)
        {
            return (number, false, "", $"the line is not JSON: {JsonProblem.Describe(e)}");
        }
    }

    private static string? Text(JsonElement element, string name) => element.TryGetProperty(name, out var value) ? value.ValueKind switch
    {
        JsonValueKind.String => value.GetString(),
        JsonValueKind.Number => value.GetRawText(),
        _ => null,
    } : null;
}

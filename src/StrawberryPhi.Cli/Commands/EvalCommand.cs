using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;
using StrawberryPhi.Cli.Studio;
using StrawberryPhi.Core.Evaluation;
using StrawberryPhi.Core.Validation;

namespace StrawberryPhi.Cli.Commands;

/// <summary><c>phi eval grade</c>: the studio's graders on answers produced elsewhere.</summary>
internal static class EvalCommand
{
    public static Command Create(CliContext context)
    {
        var eval = new Command("eval", "Evaluation: run sets against models through a studio, show and export runs, grade answers produced elsewhere.");
        eval.Add(Run(context));
        eval.Add(Show(context));
        eval.Add(Export(context));
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

    private static readonly string[] Final = ["succeeded", "failed", "cancelled"];

    private static Argument<string> RunId() => new("run") { Description = "The run's id (as phi eval run prints it)." };

    private static Command Run(CliContext context)
    {
        var studio = JobsCommand.Studio();
        var set = new Option<string>("--set") { Description = "A JSONL file to upload as a set (messages or prompt, and reference per line), or a set's id.", Required = true };
        var models = new Option<string[]>("--model", "-m") { Description = "CONNECTION/MODEL, repeatable (1 to 8).", Required = true, AllowMultipleArgumentsPerToken = true };
        var grader = new Option<string>("--grader", "-g") { Description = "exact, normalized, numeric, contains, regex or json.", DefaultValueFactory = _ => "numeric" }
            .AcceptOnlyFromAmong([.. Graders.Names]);
        var tolerance = new Option<double?>("--tolerance") { Description = "numeric: the largest difference that still passes." };
        var temperature = new Option<double?>("--temperature") { Description = "For every model (0: greedy)." };
        var maxTokens = new Option<int?>("--max-tokens") { Description = "max_completion_tokens for every model." };
        var concurrency = new Option<int?>("--concurrency") { Description = "Requests at once per connection (default 4)." };
        var fresh = new Option<bool>("--fresh") { Description = "Ask again even where an identical request has a stored answer." };
        var wait = new Option<bool>("--watch") { Description = "Show progress until the run ends, then its summary." };
        var format = CommonOptions.Format();
        var command = new Command("run", "Start an evaluation run: every item of a set sent to each model and graded.")
        {
            studio, set, models, grader, tolerance, temperature, maxTokens, concurrency, fresh, wait, format,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var client = JobsCommand.Client(parse, studio);
            var setArgument = parse.GetValue(set)!;
            string setId;
            if (File.Exists(setArgument))
            {
                var created = await client.PostFileAsync("api/evals/sets", setArgument, cancellationToken);
                setId = created["id"]!.GetValue<string>();
                if (parse.GetValue(format) != "json")
                {
                    await context.Output.WriteLineAsync($"Uploaded {Path.GetFileName(setArgument)}: set {setId}, {created["itemCount"]} items.");
                }
            }
            else if (Guid.TryParse(setArgument, out _))
            {
                setId = setArgument;
            }
            else
            {
                throw new CommandFailedException($"--set is a JSONL file or a set's id; \"{setArgument}\" is neither.");
            }
            var providers = (await client.GetAsync("api/providers", cancellationToken)).AsArray();
            var parameters = new JsonObject();
            if (parse.GetValue(temperature) is { } t) { parameters["temperature"] = t; }
            if (parse.GetValue(maxTokens) is { } m) { parameters["max_completion_tokens"] = m; }
            var modelList = new JsonArray();
            foreach (var name in parse.GetValue(models)!)
            {
                var (providerId, modelId) = JobsCommand.Route(providers, name);
                modelList.Add(new JsonObject { ["providerId"] = providerId, ["model"] = modelId, ["parameters"] = parameters.DeepClone() });
            }
            var graderJson = new JsonObject { ["type"] = parse.GetValue(grader) };
            if (parse.GetValue(tolerance) is { } tol) { graderJson["tolerance"] = tol; }
            var run = await client.PostAsync("api/evals/runs", new JsonObject
            {
                ["setId"] = setId,
                ["models"] = modelList,
                ["graders"] = new JsonArray(graderJson),
                ["concurrency"] = parse.GetValue(concurrency),
                ["fresh"] = parse.GetValue(fresh),
            }, cancellationToken, "phi-" + Guid.NewGuid().ToString("N"));
            var id = run["id"]!.GetValue<string>();
            if (!parse.GetValue(wait))
            {
                await context.Output.WriteLineAsync(parse.GetValue(format) == "json" ? run.ToJsonString() : $"Started run {id} ({run["total"]} answers to get). Follow it: phi eval show {id}");
                return ExitCodes.Ok;
            }
            return await WatchAsync(context, client, id, parse.GetValue(format) == "json", cancellationToken);
        });
        return command;
    }

    private static async Task<int> WatchAsync(CliContext context, StudioClient client, string id, bool json, CancellationToken cancellationToken)
    {
        string? last = null;
        while (true)
        {
            var run = await client.GetAsync($"api/evals/runs/{Uri.EscapeDataString(id)}", cancellationToken);
            var status = run["status"]!.GetValue<string>();
            if (Final.Contains(status))
            {
                await WriteRunAsync(context, run, json);
                return status == "succeeded" ? ExitCodes.Ok : ExitCodes.DataErrors;
            }
            var line = $"{status}: {run["done"]} of {run["total"]}" + (run["etaSeconds"] is JsonValue eta ? $", about {eta.GetValue<double>():N0} s left" : "");
            if (!json && line != last)
            {
                await context.Output.WriteLineAsync(line);
            }
            last = line;
            await Task.Delay(TimeSpan.FromSeconds(1), context.Time, cancellationToken);
        }
    }

    private static Command Show(CliContext context)
    {
        var studio = JobsCommand.Studio();
        var id = RunId();
        var format = CommonOptions.Format();
        var command = new Command("show", "A run's status and, per model, accuracy with its 95% interval, the reflection metrics, latency, tokens and cost.") { studio, id, format };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var client = JobsCommand.Client(parse, studio);
            await WriteRunAsync(context, await client.GetAsync($"api/evals/runs/{Uri.EscapeDataString(parse.GetValue(id)!)}", cancellationToken), parse.GetValue(format) == "json");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static async Task WriteRunAsync(CliContext context, JsonNode run, bool json)
    {
        if (json)
        {
            await context.Output.WriteLineAsync(run.ToJsonString());
            return;
        }
        await context.Output.WriteLineAsync($"Run {run["id"]} on {run["setName"]}: {run["status"]}, {run["done"]} of {run["total"]} answers" + (run["error"] is JsonValue e ? $" ({e})" : ""));
        var table = new Table().Border(TableBorder.Rounded).AddColumn("model").AddColumn(new TableColumn("accuracy (95% CI)").RightAligned())
            .AddColumn(new TableColumn("first → final").RightAligned()).AddColumn(new TableColumn("net gain").RightAligned()).AddColumn(new TableColumn("format valid").RightAligned())
            .AddColumn(new TableColumn("reflected").RightAligned()).AddColumn(new TableColumn("p50 latency").RightAligned()).AddColumn(new TableColumn("tokens").RightAligned())
            .AddColumn(new TableColumn("cost").RightAligned());
        static string Percent(JsonNode? value) => value is null ? "—" : (value.GetValue<double>() * 100).ToString("0.#", CultureInfo.InvariantCulture) + "%";
        foreach (var m in run["models"]!.AsArray())
        {
            table.AddRow(Markup.Escape(m!["model"]!.GetValue<string>()), $"{Percent(m["accuracy"])} ({Percent(m["ciLow"])}–{Percent(m["ciHigh"])}) n={m["n"]}",
                $"{Percent(m["firstAccuracy"])} → {Percent(m["finalAccuracy"])}", $"{m["deltaWrongToRight"]}↑ {m["deltaRightToWrong"]}↓ {Percent(m["netGain"])}",
                Percent(m["formatValidRate"]), Percent(m["reflectionRate"]), m["latencyP50Ms"] is JsonValue l ? $"{l.GetValue<double>():N0} ms" : "—",
                $"{m["promptTokens"]} + {m["completionTokens"]}", $"${m["cost"]!.GetValue<decimal>():0.####}");
        }
        context.Console.Write(table);
        if (run["agreement"] is JsonObject agreement)
        {
            await context.Output.WriteLineAsync($"Agreement with the golden outputs: {Percent(agreement["rate"])} ({Percent(agreement["ciLow"])}–{Percent(agreement["ciHigh"])}), {agreement["agreed"]} of {agreement["items"]} items.");
        }
        foreach (var p in run["paired"]!.AsArray())
        {
            await context.Output.WriteLineAsync($"{p!["firstModel"]} vs {p["secondModel"]} on {p["items"]} items: only the first right {p["onlyFirst"]}, only the second {p["onlySecond"]}; McNemar's exact p = {p["pValue"]!.GetValue<double>().ToString("0.####", CultureInfo.InvariantCulture)}");
        }
    }

    private static Command Export(CliContext context)
    {
        var studio = JobsCommand.Studio();
        var id = RunId();
        var what = new Option<string>("--as") { Description = "jsonl or csv (one row per item × model), or json (the summary with every row).", DefaultValueFactory = _ => "jsonl" }
            .AcceptOnlyFromAmong("jsonl", "csv", "json");
        var output = new Option<string?>("--output", "-o") { Description = "Write to this file instead of standard output." };
        var command = new Command("export", "A run's results, at any time (nothing is re-run).") { studio, id, what, output };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var client = JobsCommand.Client(parse, studio);
            var text = await client.GetTextAsync($"api/evals/runs/{Uri.EscapeDataString(parse.GetValue(id)!)}/results?format={parse.GetValue(what)}", cancellationToken);
            if (parse.GetValue(output) is { } file)
            {
                await File.WriteAllTextAsync(file, text, cancellationToken);
                await context.Output.WriteLineAsync($"Wrote {file}.");
            }
            else
            {
                await context.Output.WriteAsync(text);
            }
            return ExitCodes.Ok;
        });
        return command;
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

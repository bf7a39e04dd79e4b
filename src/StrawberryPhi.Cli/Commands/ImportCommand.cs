using System.CommandLine;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace StrawberryPhi.Cli.Commands;

/// <summary><c>phi import jobs</c>: a connection's whole fine-tuning history into a running studio.</summary>
internal static class ImportCommand
{
    public static Command Create(CliContext context)
    {
        var import = new Command("import", "Bring existing history into a running studio.");
        var studio = JobsCommand.Studio();
        var connection = new Option<string>("--connection", "-c") { Description = "The connection's name or id (default: the local engine)." };
        var format = CommonOptions.Format();
        var jobs = new Command("jobs", "Import every fine-tuning job of a connection's account: events, metrics, checkpoints, result files. Again: only what is new.")
        {
            studio, connection, format,
        };
        jobs.SetAction(async (parse, cancellationToken) =>
        {
            using var client = JobsCommand.Client(parse, studio);
            var providers = (await client.GetAsync("api/providers", cancellationToken)).AsArray();
            var providerId = JobsCommand.Find(providers, parse.GetValue(connection), "connection", p => p?["builtIn"]?.GetValue<bool>() == true);
            var result = await client.PostAsync($"api/providers/{providerId}/import-jobs", null, cancellationToken);
            if (parse.GetValue(format) == "json")
            {
                await context.Output.WriteLineAsync(result.ToJsonString());
            }
            else
            {
                string Count(string name, string noun) => $"{result[name + "Found"]} {noun}{(result[name + "Found"]!.GetValue<int>() == 1 ? "" : "s")} ({result[name + "New"]} new)";
                await context.Output.WriteLineAsync($"{Count("jobs", "job")}, {Count("events", "event")}, {Count("checkpoints", "checkpoint")}.");
                foreach (var failure in result["failures"]?.AsArray() ?? [])
                {
                    await context.Output.WriteLineAsync($"  {failure!["remoteId"]}: {failure["reason"]}");
                }
            }
            return result["failures"] is JsonArray { Count: > 0 } ? ExitCodes.DataErrors : ExitCodes.Ok;
        });
        import.Add(jobs);
        return import;
    }

    /// <summary><c>phi golden capture|compare</c>: freeze a model's answers to a set; later compare a candidate with them.</summary>
    public static Command Golden(CliContext context)
    {
        var golden = new Command("golden", "Golden outputs: capture a model's answers to a set, compare a candidate with them (the source model may be gone by then).");
        static JsonObject ModelSpec(JsonArray providers, string name)
        {
            var (providerId, model) = JobsCommand.Route(providers, name);
            return new JsonObject { ["providerId"] = providerId, ["model"] = model };
        }

        var studio = JobsCommand.Studio();
        var model = new Option<string>("--model", "-m") { Description = "CONNECTION/MODEL whose outputs to freeze.", Required = true };
        var set = new Option<string>("--set") { Description = "A JSONL file to upload as the set, or a set's id (default: the model's own validation data, when the studio holds it)." };
        var format = CommonOptions.Format();
        var capture = new Command("capture", "Capture a model's answers (temperature 0) to every item of a set, frozen as golden outputs.") { studio, model, set, format };
        capture.SetAction(async (parse, cancellationToken) =>
        {
            using var client = JobsCommand.Client(parse, studio);
            var setArgument = parse.GetValue(set);
            var body = ModelSpec((await client.GetAsync("api/providers", cancellationToken)).AsArray(), parse.GetValue(model)!);
            if (setArgument is not null)
            {
                body["setId"] = File.Exists(setArgument) ? (await client.PostFileAsync("api/evals/sets", setArgument, cancellationToken))["id"]!.GetValue<string>() : setArgument;
            }
            var created = await client.PostAsync("api/golden", body, cancellationToken);
            await context.Output.WriteLineAsync(parse.GetValue(format) == "json" ? created.ToJsonString()
                : $"Capturing golden outputs {created["id"]} ({created["model"]}); the capture is evaluation run {created["captureRunId"]}. Compare later: phi golden compare {created["id"]} -m CONNECTION/MODEL");
            return ExitCodes.Ok;
        });
        var studio2 = JobsCommand.Studio();
        var id = new Argument<string>("golden") { Description = "The golden outputs' id (as phi golden capture prints it)." };
        var candidate = new Option<string>("--model", "-m") { Description = "CONNECTION/MODEL to compare with the golden outputs.", Required = true };
        var format2 = CommonOptions.Format();
        var compare = new Command("compare", "Run a candidate over the golden outputs' set; agreement with its 95% interval, and the items where they differ.") { studio2, id, candidate, format2 };
        compare.SetAction(async (parse, cancellationToken) =>
        {
            using var client = JobsCommand.Client(parse, studio2);
            var body = ModelSpec((await client.GetAsync("api/providers", cancellationToken)).AsArray(), parse.GetValue(candidate)!);
            var run = await client.PostAsync($"api/golden/{Uri.EscapeDataString(parse.GetValue(id)!)}/compare", body, cancellationToken);
            await context.Output.WriteLineAsync(parse.GetValue(format2) == "json" ? run.ToJsonString()
                : $"Comparing: evaluation run {run["id"]} ({run["total"]} items). Its agreement: phi eval show {run["id"]}");
            return ExitCodes.Ok;
        });
        golden.Add(capture);
        golden.Add(compare);
        return golden;
    }

    /// <summary><c>phi inventory</c>: every fine-tuned model, most urgent first, with what is missing to retrain it.</summary>
    public static Command Inventory(CliContext context)
    {
        var studio = JobsCommand.Studio();
        var format = CommonOptions.Format();
        var command = new Command("inventory", "Every fine-tuned model of every connection: its base's shutdown, days left, and what is missing to retrain it elsewhere.") { studio, format };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var client = JobsCommand.Client(parse, studio);
            var inventory = await client.GetAsync("api/inventory", cancellationToken);
            if (parse.GetValue(format) == "json")
            {
                await context.Output.WriteLineAsync(inventory.ToJsonString());
                return ExitCodes.Ok;
            }
            var table = new Table().Border(TableBorder.Rounded).AddColumn("model").AddColumn("connection").AddColumn("base")
                .AddColumn("shuts down").AddColumn("days left").AddColumn("training data here").AddColumn("golden outputs").AddColumn("missing");
            foreach (var item in inventory["items"]!.AsArray())
            {
                table.AddRow(Markup.Escape(item!["model"]!.GetValue<string>()), Markup.Escape(item["connection"]!.GetValue<string>()),
                    Markup.Escape(item["baseModel"]?.GetValue<string>() ?? "—"), item["baseShutdown"]?.GetValue<string>() ?? "no date",
                    item["daysLeft"]?.ToString() ?? "—", item["trainingDataHeld"]!.GetValue<bool>() ? "yes" : "no",
                    item["goldenOutputs"]!.GetValue<bool>() ? "captured" : "none",
                    Markup.Escape(string.Join("; ", item["missing"]!.AsArray().Select(m => m!.GetValue<string>()))));
            }
            context.Console.Write(table);
            await context.Output.WriteLineAsync($"{inventory["items"]!.AsArray().Count} fine-tuned models, {inventory["atRisk"]} at risk (base shutting down within 90 days).");
            return ExitCodes.Ok;
        });
        return command;
    }
}

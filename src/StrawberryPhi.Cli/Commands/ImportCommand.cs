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
                .AddColumn("shuts down").AddColumn("days left").AddColumn("training data here").AddColumn("missing");
            foreach (var item in inventory["items"]!.AsArray())
            {
                table.AddRow(Markup.Escape(item!["model"]!.GetValue<string>()), Markup.Escape(item["connection"]!.GetValue<string>()),
                    Markup.Escape(item["baseModel"]?.GetValue<string>() ?? "—"), item["baseShutdown"]?.GetValue<string>() ?? "no date",
                    item["daysLeft"]?.ToString() ?? "—", item["trainingDataHeld"]!.GetValue<bool>() ? "yes" : "no",
                    Markup.Escape(string.Join("; ", item["missing"]!.AsArray().Select(m => m!.GetValue<string>()))));
            }
            context.Console.Write(table);
            await context.Output.WriteLineAsync($"{inventory["items"]!.AsArray().Count} fine-tuned models, {inventory["atRisk"]} at risk (base shutting down within 90 days).");
            return ExitCodes.Ok;
        });
        return command;
    }
}

using System.CommandLine;
using System.Text.Json.Nodes;

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
}

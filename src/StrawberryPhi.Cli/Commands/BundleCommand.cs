using System.CommandLine;
using System.Text.Json.Nodes;
using StrawberryPhi.Core.Datasets;

namespace StrawberryPhi.Cli.Commands;

/// <summary><c>phi bundle export|import</c>: a studio's whole record as one zip, and that zip brought into another studio.</summary>
internal static class BundleCommand
{
    /// <summary>A bundle holds every dataset: its transfer may take longer than an ordinary call.</summary>
    private static readonly TimeSpan Transfer = TimeSpan.FromHours(1);

    public static Command Create(CliContext context)
    {
        var bundle = new Command("bundle", "A migration bundle: datasets, jobs with events, metrics, checkpoints and result files, evaluation sets, runs and golden outputs, in one zip with checksums (never keys).");

        var studio = JobsCommand.Studio();
        var output = new Option<string>("--output", "-o") { Description = "Where to write the zip (default: strawberry-phi-bundle-<time>.zip here)." };
        var export = new Command("export", "Download the studio's whole record as a bundle.") { studio, output };
        export.SetAction(async (parse, cancellationToken) =>
        {
            using var client = JobsCommand.Client(parse, studio);
            client.Timeout = Transfer;
            var file = Path.GetFullPath(parse.GetValue(output) ?? $"strawberry-phi-bundle-{context.Time.GetUtcNow():yyyyMMdd-HHmmss}.zip");
            var bytes = await client.DownloadAsync("api/bundle", file, cancellationToken);
            await context.Output.WriteLineAsync($"Wrote {file} ({ByteSize.Format(bytes)}). Import it into another studio: phi bundle import {parse.GetValue(output) ?? Path.GetFileName(file)} --studio URL");
            return ExitCodes.Ok;
        });

        var studio2 = JobsCommand.Studio();
        var path = new Argument<string>("bundle") { Description = "The bundle's zip (from phi bundle export, or the studio's Export bundle)." };
        var format = CommonOptions.Format();
        var import = new Command("import", "Bring a bundle into a studio. Checked whole before anything is stored; what is there already is left as it is.") { studio2, path, format };
        import.SetAction(async (parse, cancellationToken) =>
        {
            var file = parse.GetValue(path)!;
            if (!File.Exists(file))
            {
                throw new CommandFailedException($"There is no file {file}.");
            }
            using var client = JobsCommand.Client(parse, studio2);
            client.Timeout = Transfer;
            var result = await client.PostFileAsync("api/bundle", file, cancellationToken);
            if (parse.GetValue(format) == "json")
            {
                await context.Output.WriteLineAsync(result.ToJsonString());
                return ExitCodes.Ok;
            }
            foreach (var table in result["tables"]!.AsArray())
            {
                var (count, noun) = (table!["inBundle"]!.GetValue<int>(), table["noun"]!.GetValue<string>());
                await context.Output.WriteLineAsync($"  {count,8:N0} {noun}{(count == 1 ? "" : "s"),-2} in the bundle, {table["added"]!.GetValue<int>():N0} added");
            }
            await context.Output.WriteLineAsync($"Dataset contents: {result["filesWritten"]} stored, {result["filesHeld"]} already in that studio.");
            if (result["modelsNotHere"] is JsonArray { Count: > 0 } notHere)
            {
                await context.Output.WriteLineAsync($"{notHere.Count} fine-tuned model{(notHere.Count == 1 ? "" : "s")} of the other studio's local engine came as records only (that studio's engine never trained them; re-run their jobs there to make them): {string.Join(", ", notHere)}");
            }
            foreach (var connection in result["connections"]!.AsArray().Where(c => c!["needsKey"]!.GetValue<bool>()))
            {
                await context.Output.WriteLineAsync($"The connection \"{connection!["name"]}\" has no API key there: add it in Settings before using its models.");
            }
            await context.Output.WriteLineAsync(result["added"]!.GetValue<int>() == 0 ? "Nothing new: everything in the bundle was there already." : $"Added {result["added"]} rows.");
            return ExitCodes.Ok;
        });
        bundle.Add(export);
        bundle.Add(import);
        return bundle;
    }
}

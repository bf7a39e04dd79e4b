using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;
using StrawberryPhi.Cli.Output;
using StrawberryPhi.Cli.Studio;

namespace StrawberryPhi.Cli.Commands;

/// <summary>
/// <c>phi jobs create|list|show|watch|cancel|pause|resume|export</c>: fine-tuning jobs through a running studio's
/// <c>/api</c>, so that the CLI, the pages and scripts share one record and one tracker.
/// </summary>
internal static class JobsCommand
{
    private static readonly string[] Final = ["succeeded", "failed", "cancelled"];
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static Command Create(CliContext context)
    {
        var jobs = new Command("jobs", "Fine-tuning jobs on any connection, through a running studio (--studio, default " + StudioClient.DefaultAddress + ").");
        foreach (var command in new[] { CreateCommand(context), List(context), Show(context), Watch(context), Action(context, "cancel", "Cancel a job."),
            Action(context, "pause", "Pause a running job (where the connection can)."), Action(context, "resume", "Resume a paused job."), Export(context), Rerun(context) })
        {
            jobs.Add(command);
        }
        return jobs;
    }

    internal static Option<string> Studio() => new("--studio")
    {
        Description = "The studio's address (default: $PHI_STUDIO, else " + StudioClient.DefaultAddress + ").",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("PHI_STUDIO") is { Length: > 0 } fromEnvironment ? fromEnvironment : StudioClient.DefaultAddress,
    };

    private static Argument<string> JobId() => new("job") { Description = "The job's id (as phi jobs list shows it)." };

    internal static StudioClient Client(ParseResult parse, Option<string> studio)
    {
        var address = parse.GetValue(studio)!;
        if (!Uri.TryCreate(address, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            throw new CommandFailedException($"--studio must be an http(s) address such as {StudioClient.DefaultAddress}, not \"{address}\".");
        }
        return new StudioClient(uri);
    }

    private static Command CreateCommand(CliContext context)
    {
        var studio = Studio();
        var format = CommonOptions.Format();
        var connection = new Option<string>("--connection", "-c") { Description = "The connection's name or id (default: the local engine)." };
        var model = new Option<string>("--model", "-m") { Description = "The model to fine-tune: a base, or one of your fine-tunes or checkpoints.", Required = true };
        var training = new Option<string>("--training", "-t") { Description = "The training dataset's name or id (as in the studio).", Required = true };
        var validation = new Option<string?>("--validation", "-v") { Description = "The validation dataset's name or id." };
        var method = new Option<string>("--method") { Description = "supervised or dpo.", DefaultValueFactory = _ => "supervised" }.AcceptOnlyFromAmong("supervised", "dpo");
        var epochs = new Option<int?>("--epochs") { Description = "n_epochs (1 to 50; default auto)." };
        var batch = new Option<int?>("--batch-size") { Description = "batch_size (1 to 256; default auto)." };
        var rate = new Option<double?>("--lr-multiplier") { Description = "learning_rate_multiplier (> 0; default auto)." };
        var beta = new Option<double?>("--beta") { Description = "DPO beta (0 < beta ≤ 2; default auto)." };
        var suffix = new Option<string?>("--suffix") { Description = "Part of the fine-tuned model's name." };
        var seed = new Option<int?>("--seed") { Description = "The same seed and data give the same run." };
        var metadata = new Option<string[]>("--metadata") { Description = "key=value, repeatable.", AllowMultipleArgumentsPerToken = true };
        var key = new Option<string?>("--idempotency-key") { Description = "Sending the same key again gives back the same job instead of a second one." };
        var wait = new Option<bool>("--watch") { Description = "Watch the job until it ends." };
        var command = new Command("create", "Create a fine-tuning job (its datasets are uploaded to the connection when needed).")
        {
            studio, format, connection, model, training, validation, method, epochs, batch, rate, beta, suffix, seed, metadata, key, wait,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var client = Client(parse, studio);
            var providers = (await client.GetAsync("api/providers", cancellationToken)).AsArray();
            var providerId = Find(providers, parse.GetValue(connection), "connection", p => p?["builtIn"]?.GetValue<bool>() == true);
            var datasets = (await client.GetAsync("api/datasets", cancellationToken)).AsArray();
            var type = parse.GetValue(method)!;
            var hyper = new JsonObject();
            if (parse.GetValue(epochs) is { } e) { hyper["n_epochs"] = e; }
            if (parse.GetValue(batch) is { } b) { hyper["batch_size"] = b; }
            if (parse.GetValue(rate) is { } r) { hyper["learning_rate_multiplier"] = r; }
            if (parse.GetValue(beta) is { } bt) { hyper["beta"] = bt; }
            var pairs = new JsonObject();
            foreach (var pair in parse.GetValue(metadata) ?? [])
            {
                var at = pair.IndexOf('=', StringComparison.Ordinal);
                if (at <= 0)
                {
                    throw new CommandFailedException($"--metadata takes key=value; \"{pair}\" has no '='.");
                }
                pairs[pair[..at]] = pair[(at + 1)..];
            }
            var body = new JsonObject
            {
                ["providerId"] = providerId,
                ["model"] = parse.GetValue(model),
                ["trainingDatasetId"] = Find(datasets, parse.GetValue(training), "training dataset", null),
                ["validationDatasetId"] = parse.GetValue(validation) is { } v ? Find(datasets, v, "validation dataset", null) : null,
                ["method"] = new JsonObject { ["type"] = type, [type] = new JsonObject { ["hyperparameters"] = hyper } },
                ["suffix"] = parse.GetValue(suffix),
                ["seed"] = parse.GetValue(seed),
                ["metadata"] = pairs.Count > 0 ? pairs : null,
            };
            var job = await client.PostAsync("api/jobs", body, cancellationToken, parse.GetValue(key) ?? "phi-" + Guid.NewGuid().ToString("N"));
            if (parse.GetValue(format) == "json" && !parse.GetValue(wait))
            {
                await context.Output.WriteLineAsync(job.ToJsonString());
                return ExitCodes.Ok;
            }
            await context.Output.WriteLineAsync($"Created job {job["id"]} ({job["model"]} on {job["providerName"]}): {job["status"]}. Watch it: phi jobs watch {job["id"]}");
            return parse.GetValue(wait) ? await WatchAsync(context, client, job["id"]!.GetValue<string>(), cancellationToken) : ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>CONNECTION/MODEL as the gateway names models: the longest connection name that prefixes it, and the rest.</summary>
    internal static (string ProviderId, string Model) Route(JsonArray providers, string name)
    {
        var connection = providers.Select(p => p!["name"]!.GetValue<string>()).Where(n => name.StartsWith(n + "/", StringComparison.Ordinal)).MaxBy(n => n.Length)
            ?? throw new CommandFailedException($"\"{name}\" names no connection: give CONNECTION/MODEL (phi chat --list shows them).");
        return (providers.First(p => p!["name"]!.GetValue<string>() == connection)!["id"]!.GetValue<string>(), name[(connection.Length + 1)..]);
    }

    /// <summary>An id given as is, or the one item whose name matches; none given: the default, when there is one.</summary>
    internal static string Find(JsonArray items, string? nameOrId, string what, Func<JsonNode?, bool>? byDefault)
    {
        if (nameOrId is null)
        {
            return items.FirstOrDefault(byDefault ?? (_ => false))?["id"]?.GetValue<string>()
                ?? throw new CommandFailedException($"Name the {what}.");
        }
        if (items.FirstOrDefault(i => i?["id"]?.GetValue<string>() == nameOrId) is { } byId)
        {
            return byId["id"]!.GetValue<string>();
        }
        var named = items.Where(i => string.Equals(i?["name"]?.GetValue<string>(), nameOrId, StringComparison.OrdinalIgnoreCase)).ToList();
        return named.Count switch
        {
            1 => named[0]!["id"]!.GetValue<string>(),
            0 => throw new CommandFailedException($"No {what} is named \"{nameOrId}\" (the studio has: {string.Join(", ", items.Take(10).Select(i => i?["name"]?.GetValue<string>()))})."),
            _ => throw new CommandFailedException($"{named.Count} {what}s are named \"{nameOrId}\"; give the id instead."),
        };
    }

    private static Command List(CliContext context)
    {
        var studio = Studio();
        var format = CommonOptions.Format();
        var status = new Option<string?>("--status") { Description = "Only jobs in this status (or active)." };
        var search = new Option<string?>("--search") { Description = "Model, suffix, dataset or provider job id containing this." };
        var take = new Option<int>("--take") { Description = "How many (newest first).", DefaultValueFactory = _ => 20 };
        var command = new Command("list", "List jobs, newest first.") { studio, format, status, search, take };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var client = Client(parse, studio);
            var query = $"api/jobs?take={parse.GetValue(take)}" + (parse.GetValue(status) is { } s ? "&status=" + Uri.EscapeDataString(s) : "")
                + (parse.GetValue(search) is { } q ? "&search=" + Uri.EscapeDataString(q) : "");
            var page = await client.GetAsync(query, cancellationToken);
            if (parse.GetValue(format) == "json")
            {
                await context.Output.WriteLineAsync(page.ToJsonString());
                return ExitCodes.Ok;
            }
            var items = page["items"]!.AsArray();
            if (items.Count == 0)
            {
                await context.Output.WriteLineAsync("No jobs. Create one: phi jobs create --model strawberry-tiny --training DATASET");
                return ExitCodes.Ok;
            }
            var table = new Table().Border(TableBorder.Rounded).AddColumn("id").AddColumn("status").AddColumn("model").AddColumn("connection")
                .AddColumn("created").AddColumn(new TableColumn("trained tokens").RightAligned());
            foreach (var job in items)
            {
                table.AddRow(Markup.Escape(job!["id"]!.ToString()), Markup.Escape(job["status"]!.ToString()),
                    Markup.Escape(job["fineTunedModel"]?.ToString() ?? job["model"]!.ToString()), Markup.Escape(job["providerName"]!.ToString()),
                    Time(job["createdAt"]), job["trainedTokens"] is { } t ? t.GetValue<long>().ToString("N0", CultureInfo.InvariantCulture) : "–");
            }
            context.Console.Write(table);
            await context.Output.WriteLineAsync($"{items.Count} of {page["total"]} jobs.");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Show(CliContext context)
    {
        var studio = Studio();
        var format = CommonOptions.Format();
        var id = JobId();
        var command = new Command("show", "A job's state, hyperparameters, error and checkpoints.") { studio, format, id };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var client = Client(parse, studio);
            var job = await client.GetAsync($"api/jobs/{Uri.EscapeDataString(parse.GetValue(id)!)}", cancellationToken);
            if (parse.GetValue(format) == "json")
            {
                await context.Output.WriteLineAsync(job.ToJsonString());
                return ExitCodes.Ok;
            }
            await WriteJobAsync(context, job);
            var checkpoints = (await client.GetAsync($"api/jobs/{job["id"]}/checkpoints", cancellationToken)).AsArray();
            foreach (var checkpoint in checkpoints)
            {
                await context.Output.WriteLineAsync($"  checkpoint at step {checkpoint!["step"]}: {checkpoint["model"]}");
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static async Task WriteJobAsync(CliContext context, JsonNode job)
    {
        var output = context.Output;
        await output.WriteLineAsync($"{job["id"]}  {job["status"]}");
        await output.WriteLineAsync($"  model: {job["model"]}{(job["fineTunedModel"] is { } ft ? $" → {ft}" : "")}");
        await output.WriteLineAsync($"  connection: {job["providerName"]} (provider job {job["remoteId"]?.ToString() ?? "not yet created"})");
        await output.WriteLineAsync($"  data: {job["trainingDatasetName"]}{(job["validationDatasetName"] is { } v ? $", validation {v}" : "")}");
        await output.WriteLineAsync($"  hyperparameters: {string.Join(", ", job["hyperparameters"]!.AsObject().Select(p => $"{p.Key}={p.Value}"))}");
        if (job["step"] is { } step)
        {
            await output.WriteLineAsync($"  step {step} of {job["totalSteps"]}");
        }
        if (job["trainedTokens"] is { } tokens)
        {
            await output.WriteLineAsync($"  trained tokens: {tokens.GetValue<long>().ToString("N0", CultureInfo.InvariantCulture)}");
        }
        if (job["error"] is { } error)
        {
            await output.WriteLineAsync($"  error: {error["message"]}");
            await output.WriteLineAsync($"  what to do: {error["explanation"]}");
        }
    }

    private static Command Watch(CliContext context)
    {
        var studio = Studio();
        var id = JobId();
        var command = new Command("watch", "Show a job's status and a live loss chart until it ends (exit 0 when it succeeded, 1 otherwise).") { studio, id };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var client = Client(parse, studio);
            return await WatchAsync(context, client, parse.GetValue(id)!, cancellationToken);
        });
        return command;
    }

    /// <summary>Polls the studio once a second (the studio does the provider's polling); redraws in a terminal, prints changes otherwise.</summary>
    private static async Task<int> WatchAsync(CliContext context, StudioClient client, string id, CancellationToken cancellationToken)
    {
        string? lastLine = null;
        while (true)
        {
            var job = await client.GetAsync($"api/jobs/{Uri.EscapeDataString(id)}", cancellationToken);
            var metrics = (await client.GetAsync($"api/jobs/{Uri.EscapeDataString(id)}/metrics", cancellationToken)).AsArray();
            var status = job["status"]!.GetValue<string>();
            var losses = metrics.Select(m => m?["trainLoss"]?.GetValue<double>()).OfType<double>().ToList();
            var line = $"{status}" + (job["step"] is { } step ? $" · step {step} of {job["totalSteps"]}" : "") + (losses.Count > 0 ? $" · training loss {losses[^1]:0.####}" : "");
            if (context.Interactive)
            {
                context.Console.Clear(home: true);
                context.Console.MarkupLine($"[bold]{Markup.Escape(job["fineTunedModel"]?.ToString() ?? job["model"]!.ToString())}[/] on {Markup.Escape(job["providerName"]!.ToString())}");
                context.Console.MarkupLine(Markup.Escape(line));
                foreach (var row in TerminalChart.Render(losses, Math.Clamp(context.Console.Profile.Width - 12, 20, 100), 12))
                {
                    context.Console.WriteLine(row);
                }
            }
            else if (line != lastLine)
            {
                await context.Output.WriteLineAsync(line);
            }
            lastLine = line;
            if (Final.Contains(status))
            {
                if (!context.Interactive && losses.Count > 0)
                {
                    foreach (var row in TerminalChart.Render(losses))
                    {
                        await context.Output.WriteLineAsync(row);
                    }
                }
                await WriteJobAsync(context, job);
                return status == "succeeded" ? ExitCodes.Ok : ExitCodes.DataErrors;
            }
            await Task.Delay(TimeSpan.FromSeconds(1), context.Time, cancellationToken);
        }
    }

    private static Command Rerun(CliContext context)
    {
        var studio = Studio();
        var id = JobId();
        var connection = new Option<string>("--connection", "-c") { Description = "Where to run it again: a connection's name or id (default: the local engine)." };
        var model = new Option<string?>("--model", "-m") { Description = "Another base model (default: the same)." };
        var command = new Command("rerun", "Create the same job (data, resolved hyperparameters, method, seed) on another connection or base; linked to its origin, and compared with the origin's golden outputs when it succeeds.")
        {
            studio, id, connection, model,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var client = Client(parse, studio);
            var providers = (await client.GetAsync("api/providers", cancellationToken)).AsArray();
            var providerId = Find(providers, parse.GetValue(connection), "connection", p => p?["builtIn"]?.GetValue<bool>() == true);
            var job = await client.PostAsync($"api/jobs/{Uri.EscapeDataString(parse.GetValue(id)!)}/rerun", new JsonObject { ["providerId"] = providerId, ["model"] = parse.GetValue(model) }, cancellationToken);
            await context.Output.WriteLineAsync($"Re-run {job["id"]} ({job["model"]} on {job["providerName"]}): {job["status"]}. Watch it: phi jobs watch {job["id"]}");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Action(CliContext context, string action, string description)
    {
        var studio = Studio();
        var id = JobId();
        var command = new Command(action, description) { studio, id };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var client = Client(parse, studio);
            var job = await client.PostAsync($"api/jobs/{Uri.EscapeDataString(parse.GetValue(id)!)}/{action}", null, cancellationToken);
            await context.Output.WriteLineAsync($"{job["id"]}: {job["status"]}");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Export(CliContext context)
    {
        var studio = Studio();
        var id = JobId();
        var what = new Option<string>("--as") { Description = "csv: one row per step; json: the whole record.", DefaultValueFactory = _ => "csv" }.AcceptOnlyFromAmong("csv", "json");
        var output = new Option<string?>("--output", "-o") { Description = "The file to write (default: standard output)." };
        var command = new Command("export", "Export a job's metrics (CSV) or its whole record (JSON: job, events, metric points, checkpoints, result files).") { studio, id, what, output };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var client = Client(parse, studio);
            var job = Uri.EscapeDataString(parse.GetValue(id)!);
            var text = parse.GetValue(what) == "json"
                ? (await client.GetAsync($"api/jobs/{job}/record", cancellationToken)).ToJsonString(Indented)
                : await client.GetTextAsync($"api/jobs/{job}/metrics.csv", cancellationToken);
            if (parse.GetValue(output) is { } path)
            {
                var temporary = path + ".tmp";
                await File.WriteAllTextAsync(temporary, text, cancellationToken);
                File.Move(temporary, path, overwrite: true);
                await context.Error.WriteLineAsync($"Wrote {path}.");
            }
            else
            {
                await context.Output.WriteAsync(text);
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static string Time(JsonNode? value) =>
        value is not null && DateTime.TryParse(value.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal, out var t)
            ? t.ToLocalTime().ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)
            : "";
}

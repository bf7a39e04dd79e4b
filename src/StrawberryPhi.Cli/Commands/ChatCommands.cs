using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Spectre.Console;
using StrawberryPhi.Cli.Studio;
using StrawberryPhi.Core.Evaluation;

namespace StrawberryPhi.Cli.Commands;

/// <summary>
/// <c>phi chat</c> and <c>phi compare</c>: any connected model, through a running studio's gateway (<c>/api/v1</c>),
/// named <c>CONNECTION/MODEL</c> as <c>GET /api/v1/models</c> lists them.
/// </summary>
internal static class ChatCommands
{
    private sealed record Reply(string Model, string Text, string? Finish, double LatencyMs, double? FirstTokenMs, int? PromptTokens, int? CompletionTokens);

    private static Option<string?> System() => new("--system", "-s") { Description = "A system prompt." };
    private static Option<double?> Temperature() => new("--temperature") { Description = "0 to 2 (0: greedy)." };
    private static Option<int?> MaxTokens() => new("--max-tokens") { Description = "max_completion_tokens." };
    private static Option<long?> Seed() => new("--seed") { Description = "The same seed reproduces a sampled answer (where the provider can)." };
    private static Argument<string> Message() => new("message") { Description = "The user message." };

    public static Command Chat(CliContext context)
    {
        var studio = JobsCommand.Studio();
        var model = new Option<string>("--model", "-m") { Description = "CONNECTION/MODEL, e.g. \"Local engine/strawberry-tiny\" (phi chat --list shows them).", DefaultValueFactory = _ => "Local engine/strawberry-tiny" };
        var list = new Option<bool>("--list") { Description = "List every connected model instead." };
        var (system, temperature, maxTokens, seed, message, format) = (System(), Temperature(), MaxTokens(), Seed(), Message(), CommonOptions.Format());
        message.Arity = ArgumentArity.ZeroOrOne;
        var command = new Command("chat", "Send a message to any connected model and stream its answer, with latency, tokens and speed.")
        {
            studio, model, list, system, temperature, maxTokens, seed, format, message,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var client = JobsCommand.Client(parse, studio);
            if (parse.GetValue(list))
            {
                foreach (var m in (await client.GetAsync("api/v1/models", cancellationToken))["data"]!.AsArray())
                {
                    await context.Output.WriteLineAsync(m!["id"]!.GetValue<string>());
                }
                return ExitCodes.Ok;
            }
            var text = parse.GetValue(message) ?? throw new CommandFailedException("Give the message to send (or --list to see the models).");
            var json = parse.GetValue(format) == "json";
            var reply = await AskAsync(context.Time, client, parse.GetValue(model)!, parse.GetValue(system), text, parse.GetValue(temperature), parse.GetValue(maxTokens), parse.GetValue(seed),
                json ? null : piece => context.Output.Write(piece), cancellationToken);
            if (json)
            {
                await context.Output.WriteLineAsync(ToJson(reply).ToJsonString());
                return ExitCodes.Ok;
            }
            await context.Output.WriteLineAsync();
            await context.Output.WriteLineAsync(Metrics(reply));
            return ExitCodes.Ok;
        });
        return command;
    }

    public static Command Compare(CliContext context)
    {
        var studio = JobsCommand.Studio();
        var models = new Option<string[]>("--model", "-m") { Description = "CONNECTION/MODEL; give 2 to 4.", Required = true, AllowMultipleArgumentsPerToken = true };
        var (system, temperature, maxTokens, seed, message, format) = (System(), Temperature(), MaxTokens(), Seed(), Message(), CommonOptions.Format());
        var command = new Command("compare", "Send one message to 2 to 4 models at once; show each answer with its metrics and what differs between the final answers.")
        {
            studio, models, system, temperature, maxTokens, seed, format, message,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var names = parse.GetValue(models)!;
            if (names.Length is < 2 or > 4)
            {
                throw new CommandFailedException($"Give 2 to 4 models to compare (--model A --model B); got {names.Length}.");
            }
            using var client = JobsCommand.Client(parse, studio);
            var replies = await Task.WhenAll(names.Select(name => AskAsync(context.Time, client, name, parse.GetValue(system), parse.GetValue(message)!, parse.GetValue(temperature),
                parse.GetValue(maxTokens), parse.GetValue(seed), null, cancellationToken)));
            var diff = AnswerDiff.Words(Answers.Final(replies[0].Text), Answers.Final(replies[1].Text));
            if (parse.GetValue(format) == "json")
            {
                await context.Output.WriteLineAsync(new JsonObject
                {
                    ["answers"] = new JsonArray([.. replies.Select(r => (JsonNode)ToJson(r))]),
                    ["diff"] = new JsonArray([.. diff.Select(d => (JsonNode)new JsonObject { ["kind"] = d.Kind.ToString().ToLowerInvariant(), ["text"] = d.Text })]),
                }.ToJsonString());
                return ExitCodes.Ok;
            }
            foreach (var reply in replies)
            {
                context.Console.Write(new Panel(Markup.Escape(reply.Text.Length == 0 ? "(empty)" : reply.Text)).Header(Markup.Escape(reply.Model)).Expand());
                context.Console.MarkupLine($"[grey]{Markup.Escape(Metrics(reply))}[/]");
            }
            context.Console.MarkupLine($"Final answers, {Markup.Escape(replies[0].Model)} [red]-[/] vs {Markup.Escape(replies[1].Model)} [green]+[/]:");
            var line = new StringBuilder();
            foreach (var piece in diff)
            {
                line.Append(piece.Kind switch
                {
                    DiffKind.Added => $"[green]{{+{Markup.Escape(piece.Text)}+}}[/]",
                    DiffKind.Removed => $"[red][[-{Markup.Escape(piece.Text)}-]][/]",
                    _ => Markup.Escape(piece.Text),
                });
            }
            context.Console.MarkupLine(line.Length == 0 ? "(both empty)" : line.ToString());
            return ExitCodes.Ok;
        });
        return command;
    }

    private static async Task<Reply> AskAsync(TimeProvider time, StudioClient client, string model, string? system, string message, double? temperature, int? maxTokens, long? seed,
        Action<string>? onText, CancellationToken cancellationToken)
    {
        var messages = new JsonArray();
        if (!string.IsNullOrWhiteSpace(system))
        {
            messages.Add(new JsonObject { ["role"] = "system", ["content"] = system });
        }
        messages.Add(new JsonObject { ["role"] = "user", ["content"] = message });
        var body = new JsonObject
        {
            ["model"] = model,
            ["messages"] = messages,
            ["stream"] = true,
            ["stream_options"] = new JsonObject { ["include_usage"] = true },
        };
        if (temperature is { } t) { body["temperature"] = t; }
        if (maxTokens is { } m) { body["max_completion_tokens"] = m; }
        if (seed is { } s) { body["seed"] = s; }
        var text = new StringBuilder();
        string? finish = null;
        int? prompt = null, completion = null;
        double? first = null;
        var started = time.GetTimestamp();
        await client.StreamAsync("api/v1/chat/completions", body, chunk =>
        {
            foreach (var choice in chunk["choices"]?.AsArray() ?? [])
            {
                if (choice?["delta"]?["content"]?.GetValue<string>() is { Length: > 0 } piece)
                {
                    first ??= time.GetElapsedTime(started).TotalMilliseconds;
                    text.Append(piece);
                    onText?.Invoke(piece);
                }
                finish = choice?["finish_reason"]?.GetValue<string>() ?? finish;
            }
            if (chunk["usage"] is JsonObject usage)
            {
                prompt = usage["prompt_tokens"]?.GetValue<int>();
                completion = usage["completion_tokens"]?.GetValue<int>();
            }
        }, cancellationToken);
        return new Reply(model, text.ToString(), finish, time.GetElapsedTime(started).TotalMilliseconds, first, prompt, completion);
    }

    private static string Metrics(Reply r)
    {
        var speed = r.CompletionTokens is > 0 && r.LatencyMs - (r.FirstTokenMs ?? 0) > 0 ? $", {r.CompletionTokens / ((r.LatencyMs - (r.FirstTokenMs ?? 0)) / 1000):0.#} tokens/s" : "";
        return string.Create(CultureInfo.InvariantCulture,
            $"{r.Model}: {r.LatencyMs:N0} ms, first token {(r.FirstTokenMs is { } f ? $"{f:N0} ms" : "—")}, {r.PromptTokens} prompt + {r.CompletionTokens} completion tokens{speed}, finish: {r.Finish ?? "—"}");
    }

    private static JsonObject ToJson(Reply r) => new()
    {
        ["model"] = r.Model,
        ["answer"] = r.Text,
        ["finish_reason"] = r.Finish,
        ["latency_ms"] = Math.Round(r.LatencyMs, 1),
        ["time_to_first_token_ms"] = r.FirstTokenMs is { } f ? Math.Round(f, 1) : null,
        ["prompt_tokens"] = r.PromptTokens,
        ["completion_tokens"] = r.CompletionTokens,
    };
}

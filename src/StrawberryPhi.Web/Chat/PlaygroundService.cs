using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using CsvHelper;
using Microsoft.EntityFrameworkCore;
using StrawberryPhi.Providers;
using StrawberryPhi.Web.Data;

namespace StrawberryPhi.Web.Chat;

/// <summary>A model column of a playground session.</summary>
public sealed record PlaygroundColumn(Guid ProviderId, string Model, string Label);

/// <summary>One model's reply to one user message, with what it cost; <see cref="Error"/> when the request failed.</summary>
public sealed record PlaygroundReply(
    string Text, string? FinishReason, double LatencyMs, double? TimeToFirstTokenMs, double? TokensPerSecond,
    int? PromptTokens, int? CompletionTokens, decimal? Cost, IReadOnlyList<TokenProbability>? Logprobs, string? Error = null)
{
    public static PlaygroundReply Of(ChatAnswer a) => new(a.Text, a.FinishReason, a.LatencyMs, a.TimeToFirstTokenMs, a.TokensPerSecond,
        a.PromptTokens, a.CompletionTokens, a.Cost, a.Logprobs.Count > 0 ? a.Logprobs : null);
}

/// <summary>A user message and each column's reply to it (null while none has come).</summary>
public sealed record PlaygroundExchange(string User, IReadOnlyList<PlaygroundReply?> Replies);

/// <summary>Everything needed to see or reproduce a session: system prompt, parameters, models and every exchange.</summary>
public sealed record PlaygroundState(
    [property: JsonPropertyName("system")] string? System,
    [property: JsonPropertyName("parameters")] ChatParameters Parameters,
    [property: JsonPropertyName("columns")] IReadOnlyList<PlaygroundColumn> Columns,
    [property: JsonPropertyName("exchanges")] IReadOnlyList<PlaygroundExchange> Exchanges)
{
    public static PlaygroundState Empty { get; } = new(null, new ChatParameters(), [], []);

    /// <summary>The conversation column <paramref name="column"/> has seen before exchange <paramref name="upTo"/>, plus that exchange's user message.</summary>
    public IReadOnlyList<ChatTurn> Conversation(int column, int upTo)
    {
        var turns = new List<ChatTurn>();
        if (!string.IsNullOrWhiteSpace(System))
        {
            turns.Add(new ChatTurn("system", System));
        }
        for (var i = 0; i <= upTo && i < Exchanges.Count; i++)
        {
            turns.Add(new ChatTurn("user", Exchanges[i].User));
            if (i < upTo && column < Exchanges[i].Replies.Count && Exchanges[i].Replies[column] is { Error: null } reply)
            {
                turns.Add(new ChatTurn("assistant", reply.Text));
            }
        }
        return turns;
    }
}

public sealed record PlaygroundSessionSummary(Guid Id, string Title, DateTime CreatedAt, DateTime UpdatedAt, int Exchanges, IReadOnlyList<string> Models);

public sealed record PlaygroundSession(Guid Id, string Title, DateTime CreatedAt, DateTime UpdatedAt, PlaygroundState State);

public sealed record ChatPreset(Guid Id, string Name, ChatParameters Parameters);

/// <summary>Saved playground sessions (reopen, export as CSV or JSON with every parameter) and named parameter presets.</summary>
public sealed class PlaygroundService(IDbContextFactory<StudioDbContext> db, TimeProvider time)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public async Task<IReadOnlyList<PlaygroundSessionSummary>> ListAsync(CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        var rows = await context.PlaygroundSessions.AsNoTracking().OrderByDescending(s => s.UpdatedAt).Take(200).ToListAsync(cancellationToken);
        return rows.Select(r =>
        {
            var state = State(r);
            return new PlaygroundSessionSummary(r.Id, r.Title, r.CreatedAt, r.UpdatedAt, state.Exchanges.Count, state.Columns.Select(c => c.Label).ToList());
        }).ToList();
    }

    public async Task<PlaygroundSession> GetAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        var row = await context.PlaygroundSessions.AsNoTracking().FirstOrDefaultAsync(s => s.Id == id, cancellationToken)
            ?? throw StudioException.NotFound("The playground session");
        return new PlaygroundSession(row.Id, row.Title, row.CreatedAt, row.UpdatedAt, State(row));
    }

    /// <summary>Saves a session: a new one when <paramref name="id"/> is null. The title defaults to the first message.</summary>
    public async Task<PlaygroundSession> SaveAsync(Guid? id, string? title, PlaygroundState state, CancellationToken cancellationToken)
    {
        if (state.Columns.Count > 4)
        {
            throw StudioException.Invalid("columns", "A session compares at most 4 models.");
        }
        if (state.Parameters.Problems("parameters.") is [var (field, message), ..])
        {
            throw StudioException.Invalid(field, message);
        }
        var now = time.GetUtcNow().UtcDateTime;
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        PlaygroundSessionRecord row;
        if (id is { } existing)
        {
            row = await context.PlaygroundSessions.FirstOrDefaultAsync(s => s.Id == existing, cancellationToken)
                ?? throw StudioException.NotFound("The playground session");
        }
        else
        {
            row = new PlaygroundSessionRecord { Id = Guid.CreateVersion7(time.GetUtcNow()), CreatedAt = now };
            context.PlaygroundSessions.Add(row);
        }
        // Without a title given, a session keeps the one it has (its first message at the time), so an edit does not rename it.
        var name = !string.IsNullOrWhiteSpace(title) ? title.Trim() : row.Title is { Length: > 0 } kept ? kept : DefaultTitle(state);
        row.Title = name.Length > 200 ? name[..200] : name;
        row.UpdatedAt = now;
        row.StateJson = JsonSerializer.Serialize(state, Json);
        await context.SaveChangesAsync(cancellationToken);
        return new PlaygroundSession(row.Id, row.Title, row.CreatedAt, row.UpdatedAt, state);
    }

    public async Task DeleteAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        if (await context.PlaygroundSessions.Where(s => s.Id == id).ExecuteDeleteAsync(cancellationToken) == 0)
        {
            throw StudioException.NotFound("The playground session");
        }
    }

    /// <summary>CSV (one row per message × model, with every parameter) or JSON (the whole session).</summary>
    public async Task<(byte[] Content, string ContentType, string FileName)> ExportAsync(Guid id, string format, CancellationToken cancellationToken)
    {
        var session = await GetAsync(id, cancellationToken);
        var name = $"playground-{id:N}";
        if (format == "json")
        {
            return (JsonSerializer.SerializeToUtf8Bytes(session, Json), "application/json", name + ".json");
        }
        if (format != "csv")
        {
            throw StudioException.Invalid("format", "The format is csv or json.");
        }
        await using var writer = new StringWriter(CultureInfo.InvariantCulture);
        await using (var csv = new CsvWriter(writer, CultureInfo.InvariantCulture))
        {
            var p = session.State.Parameters;
            string[] header = ["turn", "model", "system", "user", "answer", "finish_reason", "latency_ms", "time_to_first_token_ms", "tokens_per_second",
                "prompt_tokens", "completion_tokens", "cost", "error", "temperature", "top_p", "max_completion_tokens", "frequency_penalty",
                "presence_penalty", "stop", "seed", "logprobs", "top_logprobs"];
            foreach (var h in header)
            {
                csv.WriteField(h);
            }
            await csv.NextRecordAsync();
            for (var t = 0; t < session.State.Exchanges.Count; t++)
            {
                var exchange = session.State.Exchanges[t];
                for (var c = 0; c < session.State.Columns.Count; c++)
                {
                    var r = c < exchange.Replies.Count ? exchange.Replies[c] : null;
                    static double? Round(double? value) => value is { } v ? Math.Round(v, 1) : null;
                    object?[] fields = [t + 1, session.State.Columns[c].Label, session.State.System, exchange.User, r?.Text, r?.FinishReason, Round(r?.LatencyMs),
                        Round(r?.TimeToFirstTokenMs), Round(r?.TokensPerSecond), r?.PromptTokens, r?.CompletionTokens, r?.Cost, r?.Error, p.Temperature, p.TopP,
                        p.MaxCompletionTokens, p.FrequencyPenalty, p.PresencePenalty, p.Stop is null ? null : string.Join("|", p.Stop), p.Seed, p.Logprobs, p.TopLogprobs];
                    foreach (var f in fields)
                    {
                        csv.WriteField(f);
                    }
                    await csv.NextRecordAsync();
                }
            }
        }
        return (Encoding.UTF8.GetBytes(writer.ToString()), "text/csv", name + ".csv");
    }

    public async Task<IReadOnlyList<ChatPreset>> PresetsAsync(CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        return (await context.ChatPresets.AsNoTracking().OrderBy(p => p.Name).ToListAsync(cancellationToken))
            .Select(p => new ChatPreset(p.Id, p.Name, JsonSerializer.Deserialize<ChatParameters>(p.ParametersJson, Json) ?? new())).ToList();
    }

    /// <summary>Saves a preset under its name (an existing one of that name is replaced).</summary>
    public async Task<ChatPreset> SavePresetAsync(string name, ChatParameters parameters, CancellationToken cancellationToken)
    {
        name = name?.Trim() ?? "";
        if (name.Length is 0 or > 100)
        {
            throw StudioException.Invalid("name", "Give the preset a name of 1 to 100 characters.");
        }
        if (parameters.Problems("parameters.") is [var (field, message), ..])
        {
            throw StudioException.Invalid(field, message);
        }
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        var row = await context.ChatPresets.FirstOrDefaultAsync(p => p.Name == name, cancellationToken);
        if (row is null)
        {
            row = new ChatPresetRecord { Id = Guid.CreateVersion7(time.GetUtcNow()), Name = name };
            context.ChatPresets.Add(row);
        }
        row.ParametersJson = JsonSerializer.Serialize(parameters, Json);
        await context.SaveChangesAsync(cancellationToken);
        return new ChatPreset(row.Id, row.Name, parameters);
    }

    public async Task DeletePresetAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        if (await context.ChatPresets.Where(p => p.Id == id).ExecuteDeleteAsync(cancellationToken) == 0)
        {
            throw StudioException.NotFound("The preset");
        }
    }

    private static PlaygroundState State(PlaygroundSessionRecord row) => JsonSerializer.Deserialize<PlaygroundState>(row.StateJson, Json) ?? PlaygroundState.Empty;

    private static string DefaultTitle(PlaygroundState state)
    {
        var first = state.Exchanges.Count > 0 ? state.Exchanges[0].User.ReplaceLineEndings(" ").Trim() : null;
        return string.IsNullOrEmpty(first) ? "Untitled session" : first.Length > 60 ? first[..60] + "…" : first;
    }
}

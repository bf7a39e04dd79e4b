using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace StrawberryPhi.Providers;

/// <summary>A fine-tuning job to create, in OpenAI's terms (<c>POST /fine_tuning/jobs</c>).</summary>
/// <param name="Method">
/// The <c>method</c> object as OpenAI writes it, for example
/// <c>{"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 3}}}</c>; null for the provider's default.
/// </param>
/// <param name="Metadata">Up to 16 pairs; the studio puts its marker here so that a retry can find what an attempt made.</param>
public sealed record ProviderJobRequest(
    string Model, string TrainingFile, string? ValidationFile, JsonObject? Method, string? Suffix, int? Seed, IReadOnlyDictionary<string, string>? Metadata);

/// <summary>A job's error as the provider gives it.</summary>
public sealed record ProviderJobError(string? Code, string Message, string? Param);

/// <summary>A fine-tuning job as the provider describes it. <see cref="Json"/> keeps the whole object, fields we do not read included.</summary>
public sealed record ProviderJob(
    string Id, string Model, string Status, DateTimeOffset CreatedAt, DateTimeOffset? FinishedAt, string? FineTunedModel, long? TrainedTokens,
    ProviderJobError? Error, string? TrainingFile, string? ValidationFile, int? Seed, string? MethodType,
    IReadOnlyDictionary<string, string> Hyperparameters, IReadOnlyDictionary<string, string> Metadata, IReadOnlyList<string> ResultFiles,
    DateTimeOffset? EstimatedFinish, string Json)
{
    public static ProviderJob Parse(JsonElement job)
    {
        var method = job.TryGetProperty("method", out var m) && m.ValueKind == JsonValueKind.Object ? m : default;
        var methodType = method.ValueKind == JsonValueKind.Object ? Read.String(method, "type") : null;
        // Where a provider resolved them: method.<type>.hyperparameters, else the deprecated top level.
        var hyper = methodType is not null && method.TryGetProperty(methodType, out var typed) && typed.ValueKind == JsonValueKind.Object
            && typed.TryGetProperty("hyperparameters", out var h) && h.ValueKind == JsonValueKind.Object
                ? h
                : job.TryGetProperty("hyperparameters", out var top) && top.ValueKind == JsonValueKind.Object ? top : default;
        return new ProviderJob(
            Read.String(job, "id") ?? throw new KeyNotFoundException("id"),
            Read.String(job, "model") ?? "",
            Read.String(job, "status") ?? "unknown",
            Read.Time(job, "created_at") ?? DateTimeOffset.UnixEpoch,
            Read.Time(job, "finished_at"),
            Read.String(job, "fine_tuned_model"),
            job.TryGetProperty("trained_tokens", out var t) && t.ValueKind == JsonValueKind.Number && t.TryGetInt64(out var tokens) ? tokens : null,
            job.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.Object && Read.String(e, "message") is { Length: > 0 } message
                ? new ProviderJobError(Read.String(e, "code"), message, Read.String(e, "param"))
                : null,
            Read.String(job, "training_file"),
            Read.String(job, "validation_file"),
            job.TryGetProperty("seed", out var s) && s.ValueKind == JsonValueKind.Number && s.TryGetInt32(out var seed) ? seed : null,
            methodType ?? "supervised",
            hyper.ValueKind == JsonValueKind.Object ? hyper.EnumerateObject().ToDictionary(p => p.Name, p => Read.Text(p.Value)) : new Dictionary<string, string>(),
            job.TryGetProperty("metadata", out var md) && md.ValueKind == JsonValueKind.Object
                ? md.EnumerateObject().ToDictionary(p => p.Name, p => Read.Text(p.Value))
                : new Dictionary<string, string>(),
            job.TryGetProperty("result_files", out var rf) && rf.ValueKind == JsonValueKind.Array
                ? [.. rf.EnumerateArray().Select(f => f.GetString()).OfType<string>()]
                : [],
            Read.Time(job, "estimated_finish"),
            job.GetRawText());
    }
}

/// <summary>An event of a job: a message, or (type <c>metrics</c>) the metrics of one step in <see cref="Data"/>.</summary>
public sealed record ProviderJobEvent(string Id, DateTimeOffset CreatedAt, string Level, string Message, string Type, string? Data)
{
    public static ProviderJobEvent Parse(JsonElement item) => new(
        Read.String(item, "id") ?? throw new KeyNotFoundException("id"),
        Read.Time(item, "created_at") ?? DateTimeOffset.UnixEpoch,
        Read.String(item, "level") ?? "info",
        Read.String(item, "message") ?? "",
        Read.String(item, "type") ?? "message",
        item.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Object && data.EnumerateObject().Any() ? data.GetRawText() : null);
}

/// <summary>A usable model saved during a job, with the metrics at its step.</summary>
public sealed record ProviderCheckpoint(string Id, DateTimeOffset CreatedAt, string Model, int Step, IReadOnlyDictionary<string, double> Metrics)
{
    public static ProviderCheckpoint Parse(JsonElement item) => new(
        Read.String(item, "id") ?? throw new KeyNotFoundException("id"),
        Read.Time(item, "created_at") ?? DateTimeOffset.UnixEpoch,
        Read.String(item, "fine_tuned_model_checkpoint") ?? "",
        item.TryGetProperty("step_number", out var s) && s.ValueKind == JsonValueKind.Number && s.TryGetInt32(out var step) ? step : 0,
        item.TryGetProperty("metrics", out var m) && m.ValueKind == JsonValueKind.Object
            ? m.EnumerateObject().Where(p => p.Value.ValueKind == JsonValueKind.Number).ToDictionary(p => p.Name, p => p.Value.GetDouble())
            : new Dictionary<string, double>());
}

/// <summary>One page of a list; <see cref="HasMore"/> says whether asking again after the last item gives more.</summary>
public sealed record ProviderPage<T>(IReadOnlyList<T> Items, bool HasMore);

/// <summary>Reading OpenAI's JSON leniently: a field of an unexpected type reads as absent.</summary>
internal static class Read
{
    public static string? String(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    public static DateTimeOffset? Time(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var seconds)
            ? DateTimeOffset.FromUnixTimeSeconds(seconds)
            : null;

    /// <summary>A scalar as text ("auto", "3", "0.1"), anything else as its JSON.</summary>
    public static string Text(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString() ?? "",
        JsonValueKind.Number => value.GetDouble().ToString(CultureInfo.InvariantCulture),
        _ => value.GetRawText(),
    };
}

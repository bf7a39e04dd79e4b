using System.Diagnostics;
using System.Text;
using System.Text.Json.Serialization;
using Microsoft.Extensions.AI;
using StrawberryPhi.Core.Catalog;
using StrawberryPhi.Providers;
using StrawberryPhi.Web.Providers;

namespace StrawberryPhi.Web.Chat;

/// <summary>A message of a conversation.</summary>
public sealed record ChatTurn(string Role, string Content);

/// <summary>
/// Chat parameters as OpenAI's chat API names them (the API, presets, sessions and evaluation runs all use these
/// names); null means the provider's default.
/// </summary>
public sealed record ChatParameters
{
    [JsonPropertyName("temperature")] public double? Temperature { get; init; }
    [JsonPropertyName("top_p")] public double? TopP { get; init; }
    [JsonPropertyName("max_completion_tokens")] public int? MaxCompletionTokens { get; init; }
    [JsonPropertyName("frequency_penalty")] public double? FrequencyPenalty { get; init; }
    [JsonPropertyName("presence_penalty")] public double? PresencePenalty { get; init; }
    [JsonPropertyName("stop")] public IReadOnlyList<string>? Stop { get; init; }
    [JsonPropertyName("seed")] public long? Seed { get; init; }
    [JsonPropertyName("logprobs")] public bool? Logprobs { get; init; }
    [JsonPropertyName("top_logprobs")] public int? TopLogprobs { get; init; }

    /// <summary>Each out-of-range value, with its field name (<paramref name="prefix"/> first) and the rule in words.</summary>
    public IReadOnlyList<(string Field, string Message)> Problems(string prefix = "")
    {
        var problems = new List<(string, string)>();
        void Range(double? value, string name, double min, double max, string what)
        {
            if (value is { } v && (double.IsNaN(v) || v < min || v > max))
            {
                problems.Add((prefix + name, $"{what} is between {min} and {max}; got {v}."));
            }
        }
        Range(Temperature, "temperature", 0, 2, "Temperature");
        Range(TopP, "top_p", 0, 1, "top_p");
        Range(MaxCompletionTokens, "max_completion_tokens", 1, 1_000_000, "max_completion_tokens");
        Range(FrequencyPenalty, "frequency_penalty", -2, 2, "The frequency penalty");
        Range(PresencePenalty, "presence_penalty", -2, 2, "The presence penalty");
        Range(TopLogprobs, "top_logprobs", 0, 20, "top_logprobs");
        if (Stop is { } stop && (stop.Count > 4 || stop.Any(string.IsNullOrEmpty)))
        {
            problems.Add((prefix + "stop", "Give at most 4 stop sequences, none empty."));
        }
        if (TopLogprobs > 0 && Logprobs != true)
        {
            problems.Add((prefix + "top_logprobs", "top_logprobs needs logprobs on."));
        }
        return problems;
    }

    public ChatSampling ToSampling() => new(Temperature, TopP, MaxCompletionTokens, FrequencyPenalty, PresencePenalty, Stop, Seed, Logprobs == true, TopLogprobs);
}

/// <summary>An answer with what it cost to get: time, tokens, money, and why it ended.</summary>
/// <param name="TimeToFirstTokenMs">Only when streamed.</param>
/// <param name="Cost">Estimated from the catalog's inference prices; null when the model's price is unknown.</param>
public sealed record ChatAnswer(
    string Text, string? FinishReason, double LatencyMs, double? TimeToFirstTokenMs, int? PromptTokens, int? CompletionTokens,
    decimal? Cost, IReadOnlyList<TokenProbability> Logprobs)
{
    /// <summary>Completion tokens per second of generation (after the first token when streamed).</summary>
    public double? TokensPerSecond => CompletionTokens is > 0 && LatencyMs - (TimeToFirstTokenMs ?? 0) > 0
        ? CompletionTokens / ((LatencyMs - (TimeToFirstTokenMs ?? 0)) / 1000.0)
        : null;
}

/// <summary>
/// Chat with any model of any connection through Microsoft.Extensions.AI's <see cref="IChatClient"/> (ADR 0011):
/// streamed for the playground (time to first token, text as it comes), whole for evaluation runs.
/// </summary>
public sealed class ChatService(ProviderConnectionService connections, TimeProvider time)
{
    public async Task<ChatAnswer> CompleteAsync(Guid providerId, string model, IReadOnlyList<ChatTurn> messages, ChatParameters parameters,
        Action<string>? onText, CancellationToken cancellationToken)
    {
        var provider = await connections.ClientAsync(providerId, cancellationToken);
        var client = provider.ChatClient(model);
        var kind = provider.Kind;
        var options = ProviderChat.Options(parameters.ToSampling());
        List<ChatMessage> chat = [.. messages.Select(m => new ChatMessage(new ChatRole(m.Role == "developer" ? "system" : m.Role), m.Content))];
        var started = time.GetTimestamp();
        try
        {
            if (onText is null)
            {
                var response = await client.GetResponseAsync(chat, options, cancellationToken);
                return Answer(model, kind, response.Text, response.FinishReason?.Value, time.GetElapsedTime(started).TotalMilliseconds, null,
                    response.Usage, ProviderChat.Logprobs(response.RawRepresentation));
            }
            var text = new StringBuilder();
            double? firstToken = null;
            string? finish = null;
            UsageDetails? usage = null;
            var logprobs = new List<TokenProbability>();
            await foreach (var update in client.GetStreamingResponseAsync(chat, options, cancellationToken))
            {
                var piece = update.Text;
                if (piece.Length > 0)
                {
                    firstToken ??= time.GetElapsedTime(started).TotalMilliseconds;
                    text.Append(piece);
                    onText(piece);
                }
                finish = update.FinishReason?.Value ?? finish;
                usage = update.Contents.OfType<UsageContent>().FirstOrDefault()?.Details ?? usage;
                logprobs.AddRange(ProviderChat.Logprobs(update.RawRepresentation));
            }
            return Answer(model, kind, text.ToString(), finish, time.GetElapsedTime(started).TotalMilliseconds, firstToken, usage, logprobs);
        }
        catch (System.ClientModel.ClientResultException e)
        {
            throw new ProviderException($"{model}: {ProviderErrorText(e)}", e.Status, inner: e, transient: e.Status is 429 or >= 500);
        }
        catch (HttpRequestException e)
        {
            throw new ProviderException($"{model}: the provider could not be reached ({e.Message}).", inner: e, transient: true);
        }
        catch (Polly.Timeout.TimeoutRejectedException e)
        {
            throw new ProviderException($"{model}: the provider did not answer in time, still after retries.", inner: e, transient: true);
        }
        catch (Polly.CircuitBreaker.BrokenCircuitException e)
        {
            throw new ProviderException($"{model}: the provider failed repeatedly, so the studio stops calling it for a moment.", inner: e, transient: true);
        }
    }

    private static string ProviderErrorText(System.ClientModel.ClientResultException e)
    {
        var body = e.GetRawResponse()?.Content?.ToString();
        try
        {
            if (body is not null && System.Text.Json.Nodes.JsonNode.Parse(body)?["error"]?["message"]?.GetValue<string>() is { } message)
            {
                return $"{message} (HTTP {e.Status})";
            }
        }
        catch (System.Text.Json.JsonException)
        {
        }
        return $"HTTP {e.Status}: {e.Message}";
    }

    private static ChatAnswer Answer(string model, ProviderKind kind, string text, string? finish, double latency, double? firstToken,
        UsageDetails? usage, IReadOnlyList<TokenProbability> logprobs)
    {
        var prompt = (int?)usage?.InputTokenCount;
        var completion = (int?)usage?.OutputTokenCount;
        return new ChatAnswer(text, finish, latency, firstToken, prompt, completion, Cost(kind, model, prompt, completion), logprobs);
    }

    /// <summary>The catalog's inference price for the model or, for a fine-tune (<c>ft:BASE:…</c>), its base; the local engine costs nothing.</summary>
    public static decimal? Cost(ProviderKind kind, string model, int? promptTokens, int? completionTokens)
    {
        if (kind == ProviderKind.Local)
        {
            return 0m;
        }
        var baseModel = model.StartsWith("ft:", StringComparison.Ordinal) ? model.Split(':')[1] : model;
        if (ModelCatalog.Default.Find(baseModel)?.InferencePricePer1M is not { } price || promptTokens is null || completionTokens is null)
        {
            return null;
        }
        return (price.Input * promptTokens.Value + price.Output * completionTokens.Value) / 1_000_000m;
    }
}

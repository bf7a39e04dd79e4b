using System.Text.Json;
using System.Text.Json.Nodes;
using StrawberryPhi.LocalEngine.Model;

namespace StrawberryPhi.LocalEngine.Api;

/// <summary>A chat completion request, checked against the API's bounds (each failure names its parameter).</summary>
public sealed record ChatRequest(string Model, IReadOnlyList<ChatMessage> Messages, SamplingOptions Sampling, int N, bool Stream, bool IncludeUsage)
{
    public static ChatRequest Parse(JsonObject body)
    {
        var model = String(body, "model") ?? throw new BadRequestException("'model' is required.", "model", "missing_required_parameter");
        if (body["messages"] is not JsonArray messages || messages.Count == 0)
        {
            throw new BadRequestException("'messages' must be a non-empty array.", "messages");
        }
        var parsed = new List<ChatMessage>();
        for (var i = 0; i < messages.Count; i++)
        {
            if (messages[i] is not JsonObject message || String(message, "role") is not { } role || role is not ("system" or "developer" or "user" or "assistant" or "tool"))
            {
                throw new BadRequestException($"messages[{i}] needs a role of system, developer, user, assistant or tool.", $"messages[{i}].role");
            }
            parsed.Add(new ChatMessage(role == "developer" ? "system" : role, Content(message["content"], i)));
        }

        var temperature = Number(body, "temperature", 0, 2) ?? 1.0;
        var topP = Number(body, "top_p", 0, 1) ?? 1.0;
        var maxTokens = (int?)(Number(body, "max_completion_tokens", 1, 1_000_000) ?? Number(body, "max_tokens", 1, 1_000_000)) ?? 256;
        var n = (int?)Number(body, "n", 1, 128) ?? 1;
        var seed = (long?)Number(body, "seed", long.MinValue, long.MaxValue) ?? Random.Shared.NextInt64();
        var logprobs = Bool(body, "logprobs") ?? false;
        var topLogprobs = (int?)Number(body, "top_logprobs", 0, 20) ?? 0;
        if (topLogprobs > 0 && !logprobs)
        {
            throw new BadRequestException("'top_logprobs' requires 'logprobs' to be true.", "top_logprobs");
        }
        var stop = body["stop"] switch
        {
            null => [],
            JsonValue value when value.TryGetValue<string>(out var one) => [one],
            JsonArray array when array.Count <= 4 && array.All(s => s is JsonValue v && v.TryGetValue<string>(out _)) => array.Select(s => s!.GetValue<string>()).ToList(),
            _ => throw new BadRequestException("'stop' must be a string or an array of up to 4 strings.", "stop"),
        };
        return new ChatRequest(model, parsed, new SamplingOptions
        {
            MaxTokens = maxTokens,
            Temperature = temperature,
            TopP = topP,
            Seed = seed,
            Stop = stop,
            FrequencyPenalty = Number(body, "frequency_penalty", -2, 2) ?? 0,
            PresencePenalty = Number(body, "presence_penalty", -2, 2) ?? 0,
            Logprobs = logprobs,
            TopLogprobs = topLogprobs,
        }, n, Bool(body, "stream") ?? false, body["stream_options"] is JsonObject options && (Bool(options, "include_usage") ?? false));
    }

    private static string Content(JsonNode? content, int index) => content switch
    {
        JsonValue value when value.TryGetValue<string>(out var text) => text,
        JsonArray parts => string.Concat(parts.Select(p => p is JsonObject part && String(part, "type") == "text" ? String(part, "text") : null)),
        null => "",
        _ => throw new BadRequestException($"messages[{index}].content must be a string or an array of text parts.", $"messages[{index}].content"),
    };

    private static string? String(JsonObject node, string name) =>
        node[name] is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;

    private static bool? Bool(JsonObject node, string name) => node[name] switch
    {
        null => null,
        JsonValue value when value.TryGetValue<bool>(out var flag) => flag,
        _ => throw new BadRequestException($"'{name}' must be true or false.", name),
    };

    private static double? Number(JsonObject node, string name, double min, double max)
    {
        if (node[name] is null)
        {
            return null;
        }
        if (node[name] is not JsonValue value || value.GetValueKind() != JsonValueKind.Number || !value.TryGetValue<double>(out var number))
        {
            throw new BadRequestException($"'{name}' must be a number.", name);
        }
        if (number < min || number > max)
        {
            throw new BadRequestException($"'{name}' must be between {min} and {max}; got {number}.", name);
        }
        return number;
    }
}

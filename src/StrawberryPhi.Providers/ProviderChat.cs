using Microsoft.Extensions.AI;
using OpenAI.Chat;

namespace StrawberryPhi.Providers;

/// <summary>Sampling parameters as OpenAI's chat API names them; null means the provider's default.</summary>
public sealed record ChatSampling(
    double? Temperature = null, double? TopP = null, int? MaxCompletionTokens = null, double? FrequencyPenalty = null,
    double? PresencePenalty = null, IReadOnlyList<string>? Stop = null, long? Seed = null, bool Logprobs = false, int? TopLogprobs = null);

/// <summary>A generated token's log probability and its most likely alternatives.</summary>
public sealed record TokenProbability(string Token, double Logprob, IReadOnlyList<TokenAlternative> Top);

public sealed record TokenAlternative(string Token, double Logprob);

/// <summary>
/// What Microsoft.Extensions.AI's abstraction leaves to the provider's own types: logprobs, asked for through the
/// SDK's options and read from its answers. The rest of the studio never sees SDK types.
/// </summary>
public static class ProviderChat
{
    public static ChatOptions Options(ChatSampling sampling)
    {
        var options = new ChatOptions
        {
            Temperature = (float?)sampling.Temperature,
            TopP = (float?)sampling.TopP,
            MaxOutputTokens = sampling.MaxCompletionTokens,
            FrequencyPenalty = (float?)sampling.FrequencyPenalty,
            PresencePenalty = (float?)sampling.PresencePenalty,
            Seed = sampling.Seed,
            StopSequences = sampling.Stop is { Count: > 0 } stop ? [.. stop] : null,
        };
        if (sampling.Logprobs)
        {
            options.RawRepresentationFactory = _ => new ChatCompletionOptions
            {
                IncludeLogProbabilities = true,
                TopLogProbabilityCount = sampling.TopLogprobs is > 0 ? sampling.TopLogprobs : null,
            };
        }
        return options;
    }

    /// <summary>The logprobs in a response's or a stream update's raw representation, if it has any.</summary>
    public static IReadOnlyList<TokenProbability> Logprobs(object? raw)
    {
        var tokens = raw switch
        {
            ChatCompletion completion => completion.ContentTokenLogProbabilities,
            StreamingChatCompletionUpdate update => update.ContentTokenLogProbabilities,
            _ => null,
        };
        return tokens is null ? [] : [.. tokens.Select(t => new TokenProbability(t.Token, t.LogProbability,
            [.. t.TopLogProbabilities.Select(a => new TokenAlternative(a.Token, a.LogProbability))]))];
    }
}

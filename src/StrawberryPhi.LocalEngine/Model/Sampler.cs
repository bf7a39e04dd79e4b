using TorchSharp;
using static TorchSharp.torch;

namespace StrawberryPhi.LocalEngine.Model;

public sealed record SamplingOptions
{
    public int MaxTokens { get; init; } = 256;

    /// <summary>0 means greedy.</summary>
    public double Temperature { get; init; } = 1.0;

    public double TopP { get; init; } = 1.0;
    public long Seed { get; init; }

    /// <summary>Generation stops before any of these strings; they are not part of the output.</summary>
    public IReadOnlyList<string> Stop { get; init; } = [];

    public double FrequencyPenalty { get; init; }
    public double PresencePenalty { get; init; }

    /// <summary>Alternatives to report with each token's log probability (0 = only the chosen token).</summary>
    public int TopLogprobs { get; init; }

    public bool Logprobs { get; init; }
}

/// <summary>A generated token with its log probability and, if asked, the most likely alternatives.</summary>
public sealed record TokenLogprob(int Token, double Logprob, IReadOnlyList<(int Token, double Logprob)> Top);

public sealed record Completion(int[] Tokens, string Text, string FinishReason, IReadOnlyList<TokenLogprob>? Logprobs);

/// <summary>
/// Autoregressive sampling until the end-of-turn token, a stop string or the token limit. The same seed gives the
/// same output. Penalties follow OpenAI's definition: logit − frequency × count − presence × (count > 0).
/// </summary>
public static class Sampler
{
    /// <param name="onText">Receives the text as it grows (whole UTF-8 characters only), for streaming.</param>
    public static Completion Generate(GptModel model, int[] prompt, SamplingOptions options, EngineVocabulary? vocabulary = null,
        Action<string>? onText = null, CancellationToken cancellationToken = default)
    {
        vocabulary ??= EngineVocabulary.Default;
        using var noGrad = torch.no_grad();
        using var generator = new torch.Generator((ulong)options.Seed);
        model.eval();
        var context = model.Size.Context;
        var tokens = new List<int>(prompt);
        var generated = new List<int>();
        var counts = new Dictionary<int, int>();
        var logprobs = options.Logprobs ? new List<TokenLogprob>() : null;
        var emitted = 0;
        var text = "";
        var finish = "length";
        while (generated.Count < options.MaxTokens)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var scope = torch.NewDisposeScope();
            var window = tokens.Skip(Math.Max(0, tokens.Count - context)).Select(t => (long)t).ToArray();
            var logits = model.forward(torch.tensor(window, [1, window.Length]))[0, -1];
            if (counts.Count > 0 && (options.FrequencyPenalty != 0 || options.PresencePenalty != 0))
            {
                var penalty = new float[EngineVocabulary.Size];
                foreach (var (token, count) in counts)
                {
                    penalty[token] = (float)(options.FrequencyPenalty * count + options.PresencePenalty);
                }
                logits = logits - torch.tensor(penalty);
            }
            var next = options.Temperature <= 0 ? (int)logits.argmax().item<long>() : Sample(logits, options, generator);
            if (logprobs is not null)
            {
                var distribution = nn.functional.log_softmax(logits, 0);
                var top = new List<(int, double)>();
                if (options.TopLogprobs > 0)
                {
                    var (values, indices) = distribution.topk(options.TopLogprobs);
                    for (var i = 0; i < options.TopLogprobs; i++)
                    {
                        top.Add(((int)indices[i].item<long>(), values[i].item<float>()));
                    }
                }
                logprobs.Add(new TokenLogprob(next, distribution[next].item<float>(), top));
            }
            if (next == EngineVocabulary.End)
            {
                finish = "stop";
                break;
            }
            tokens.Add(next);
            generated.Add(next);
            counts[next] = counts.GetValueOrDefault(next) + 1;
            text = vocabulary.Decode(generated);
            if (options.Stop.FirstOrDefault(s => s.Length > 0 && text.Contains(s, StringComparison.Ordinal)) is { } stop)
            {
                text = text[..text.IndexOf(stop, StringComparison.Ordinal)];
                finish = "stop";
                break;
            }
            // Hold back text that might still turn out to be the start of a stop string or a partial character.
            var safe = text.Length - options.Stop.Select(s => Math.Max(0, s.Length - 1)).DefaultIfEmpty(0).Max();
            if (text.EndsWith('\uFFFD'))
            {
                safe = Math.Min(safe, text.Length - 1);
            }
            if (onText is not null && safe > emitted)
            {
                onText(text[emitted..safe]);
                emitted = safe;
            }
        }
        if (onText is not null && text.Length > emitted)
        {
            onText(text[emitted..]);
        }
        return new Completion([.. generated], text, finish, logprobs);
    }

    private static int Sample(Tensor logits, SamplingOptions options, torch.Generator generator)
    {
        var probabilities = nn.functional.softmax(logits / options.Temperature, 0);
        if (options.TopP < 1.0)
        {
            var (sorted, indices) = probabilities.sort(descending: true);
            var cumulative = sorted.cumsum(0);
            // Keep the smallest prefix whose mass reaches top_p (the first token always stays).
            var drop = (cumulative - sorted).gt(options.TopP);
            sorted = sorted.masked_fill(drop, 0);
            probabilities = torch.zeros_like(probabilities).scatter(0, indices, sorted);
        }
        return (int)torch.multinomial(probabilities, 1, false, generator).item<long>();
    }
}

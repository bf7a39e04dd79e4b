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
}

public sealed record Completion(int[] Tokens, string FinishReason);

/// <summary>Autoregressive sampling until the end-of-turn token or the token limit; the same seed gives the same output.</summary>
public static class Sampler
{
    public static Completion Generate(GptModel model, int[] prompt, SamplingOptions options)
    {
        using var noGrad = torch.no_grad();
        using var generator = new torch.Generator((ulong)options.Seed);
        model.eval();
        var context = model.Size.Context;
        var tokens = new List<int>(prompt);
        var generated = new List<int>();
        while (generated.Count < options.MaxTokens)
        {
            using var scope = torch.NewDisposeScope();
            var window = tokens.Skip(Math.Max(0, tokens.Count - context)).Select(t => (long)t).ToArray();
            var logits = model.forward(torch.tensor(window, [1, window.Length]))[0, -1];
            var next = options.Temperature <= 0 ? (int)logits.argmax().item<long>() : Sample(logits, options, generator);
            if (next == EngineVocabulary.End)
            {
                return new Completion([.. generated], "stop");
            }
            tokens.Add(next);
            generated.Add(next);
        }
        return new Completion([.. generated], "length");
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

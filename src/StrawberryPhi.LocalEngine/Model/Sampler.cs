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
    /// <summary>Generates with a key-value cache: each new token costs one position, not the whole context.</summary>
    /// <param name="onText">Receives the text as it grows (whole UTF-8 characters only), for streaming.</param>
    public static Completion Generate(GptModel model, int[] prompt, SamplingOptions options, EngineVocabulary? vocabulary = null,
        Action<string>? onText = null, CancellationToken cancellationToken = default)
    {
        using var noGrad = torch.no_grad();
        model.eval();
        using var generation = new Generation(prompt, options, vocabulary ?? EngineVocabulary.Default, onText, cancellationToken);
        using var decoder = new BatchDecoder(model, 1);
        decoder.Add(generation);
        while (decoder.Count > 0)
        {
            decoder.Step();
        }
        cancellationToken.ThrowIfCancellationRequested();
        return generation.Result();
    }

    /// <summary>
    /// The engine's first generator: the whole context is recomputed for every token. Kept as the reference the
    /// cached path must agree with, and as the baseline of <c>bench engine-chat</c>.
    /// </summary>
    public static Completion GenerateFull(GptModel model, int[] prompt, SamplingOptions options, EngineVocabulary? vocabulary = null,
        Action<string>? onText = null, CancellationToken cancellationToken = default)
    {
        using var noGrad = torch.no_grad();
        model.eval();
        using var generation = new Generation(prompt, options, vocabulary ?? EngineVocabulary.Default, onText, cancellationToken);
        var context = model.Size.Context;
        while (!generation.Done)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var scope = torch.NewDisposeScope();
            var window = generation.Window(context);
            generation.Accept(model.forward(torch.tensor(window, [1, window.Length]))[0, -1]);
        }
        return generation.Result();
    }
}

/// <summary>One sequence being generated: its tokens, sampling state, streamed text and, at the end, its completion.</summary>
public sealed class Generation : IDisposable
{
    private readonly SamplingOptions _options;
    private readonly EngineVocabulary _vocabulary;
    private readonly Action<string>? _onText;
    private readonly torch.Generator _generator;
    private readonly List<int> _tokens;
    private readonly List<int> _generated = [];
    private readonly Dictionary<int, int> _counts = [];
    private readonly List<TokenLogprob>? _logprobs;
    private readonly int _holdBack;
    private int _emitted;
    private string _text = "";
    private string _finish = "length";

    public Generation(int[] prompt, SamplingOptions options, EngineVocabulary vocabulary, Action<string>? onText, CancellationToken cancellationToken)
    {
        _options = options;
        _vocabulary = vocabulary;
        _onText = onText;
        _generator = new torch.Generator((ulong)options.Seed);
        _tokens = [.. prompt];
        _logprobs = options.Logprobs ? [] : null;
        _holdBack = options.Stop.Select(s => Math.Max(0, s.Length - 1)).DefaultIfEmpty(0).Max();
        CancellationToken = cancellationToken;
        Done = options.MaxTokens <= 0;
    }

    public CancellationToken CancellationToken { get; }
    public bool Done { get; private set; }

    /// <summary>How many of this sequence's positions a <see cref="BatchDecoder"/> holds in its cache.</summary>
    internal int Cached { get; set; }

    internal int Length => _tokens.Count;
    internal int Last => _tokens[^1];

    /// <summary>The last <paramref name="context"/> tokens: what a model with that context sees.</summary>
    internal long[] Window(int context) => [.. _tokens.Skip(Math.Max(0, _tokens.Count - context)).Select(t => (long)t)];

    /// <summary>Chooses the next token from <paramref name="logits"/> [vocabulary] and records it; sets <see cref="Done"/> at the end.</summary>
    public void Accept(Tensor logits)
    {
        using var scope = torch.NewDisposeScope();
        if (_counts.Count > 0 && (_options.FrequencyPenalty != 0 || _options.PresencePenalty != 0))
        {
            var penalty = new float[EngineVocabulary.Size];
            foreach (var (token, count) in _counts)
            {
                penalty[token] = (float)(_options.FrequencyPenalty * count + _options.PresencePenalty);
            }
            logits = logits - torch.tensor(penalty);
        }
        var next = _options.Temperature <= 0 ? (int)logits.argmax().item<long>() : Sample(logits);
        if (_logprobs is not null)
        {
            var distribution = nn.functional.log_softmax(logits, 0);
            var top = new List<(int, double)>();
            if (_options.TopLogprobs > 0)
            {
                var (values, indices) = distribution.topk(_options.TopLogprobs);
                for (var i = 0; i < _options.TopLogprobs; i++)
                {
                    top.Add(((int)indices[i].item<long>(), values[i].item<float>()));
                }
            }
            _logprobs.Add(new TokenLogprob(next, distribution[next].item<float>(), top));
        }
        if (next == EngineVocabulary.End)
        {
            Finish("stop");
            return;
        }
        _tokens.Add(next);
        _generated.Add(next);
        _counts[next] = _counts.GetValueOrDefault(next) + 1;
        _text = _vocabulary.Decode(_generated);
        if (_options.Stop.FirstOrDefault(s => s.Length > 0 && _text.Contains(s, StringComparison.Ordinal)) is { } stop)
        {
            _text = _text[.._text.IndexOf(stop, StringComparison.Ordinal)];
            Finish("stop");
            return;
        }
        // Hold back text that might still turn out to be the start of a stop string or a partial character.
        var safe = _text.Length - _holdBack;
        if (_text.EndsWith('\uFFFD'))
        {
            safe = Math.Min(safe, _text.Length - 1);
        }
        if (_onText is not null && safe > _emitted)
        {
            _onText(_text[_emitted..safe]);
            _emitted = safe;
        }
        if (_generated.Count >= _options.MaxTokens)
        {
            Finish("length");
        }
    }

    private void Finish(string reason)
    {
        _finish = reason;
        Done = true;
        if (_onText is not null && _text.Length > _emitted)
        {
            _onText(_text[_emitted..]);
            _emitted = _text.Length;
        }
    }

    public Completion Result() => new([.. _generated], _text, _finish, _logprobs);

    private int Sample(Tensor logits)
    {
        var probabilities = nn.functional.softmax(logits / _options.Temperature, 0);
        if (_options.TopP < 1.0)
        {
            var (sorted, indices) = probabilities.sort(descending: true);
            var cumulative = sorted.cumsum(0);
            // Keep the smallest prefix whose mass reaches top_p (the first token always stays).
            var drop = (cumulative - sorted).gt(_options.TopP);
            sorted = sorted.masked_fill(drop, 0);
            probabilities = torch.zeros_like(probabilities).scatter(0, indices, sorted);
        }
        return (int)torch.multinomial(probabilities, 1, false, _generator).item<long>();
    }

    public void Dispose() => _generator.Dispose();
}

/// <summary>
/// Decodes several sequences of one model together: each joins with one prefill of its prompt, then every
/// <see cref="Step"/> adds a token to all of them in one batched forward over their cached keys and values.
/// A sequence that outgrows the context continues on a sliding window without the cache, as before.
/// </summary>
public sealed class BatchDecoder : IDisposable
{
    private readonly GptModel _model;
    private readonly KvCache _cache;
    private readonly List<Generation> _cachedSequences = [];
    private readonly List<Generation> _windowed = [];

    public BatchDecoder(GptModel model, int slots)
    {
        _model = model;
        _cache = new KvCache(model.Size, slots);
    }

    public int Count => _cachedSequences.Count + _windowed.Count;
    public bool HasRoom => _cachedSequences.Count < _cache.Slots;

    /// <summary>Prefills <paramref name="generation"/>'s prompt and chooses its first token.</summary>
    public void Add(Generation generation)
    {
        if (generation.Done)
        {
            return;
        }
        if (!HasRoom)
        {
            throw new InvalidOperationException("The decoder's cache is full.");
        }
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var window = generation.Window(_model.Size.Context);
        generation.Accept(_model.Prefill(window, _cache, _cachedSequences.Count));
        generation.Cached = window.Length;
        if (!generation.Done)
        {
            _cachedSequences.Add(generation);
        }
    }

    /// <summary>Adds one token to every sequence; returns those that finished or were cancelled (and leave the batch).</summary>
    public IReadOnlyList<Generation> Step()
    {
        using var noGrad = torch.no_grad();
        var left = new List<Generation>();
        foreach (var generation in _cachedSequences.Concat(_windowed).Where(g => g.CancellationToken.IsCancellationRequested).ToList())
        {
            Remove(generation);
            left.Add(generation);
        }
        // A full cache has no position left: that sequence goes on over a sliding window.
        foreach (var generation in _cachedSequences.Where(g => g.Cached >= _model.Size.Context).ToList())
        {
            Remove(generation);
            _windowed.Add(generation);
        }
        if (_cachedSequences.Count > 0)
        {
            using var scope = torch.NewDisposeScope();
            var logits = _model.Decode([.. _cachedSequences.Select(g => (long)g.Last)], [.. _cachedSequences.Select(g => (long)g.Cached)], _cache);
            for (var i = 0; i < _cachedSequences.Count; i++)
            {
                _cachedSequences[i].Cached++;
                _cachedSequences[i].Accept(logits[i]);
            }
        }
        foreach (var generation in _windowed)
        {
            using var scope = torch.NewDisposeScope();
            var window = generation.Window(_model.Size.Context);
            generation.Accept(_model.forward(torch.tensor(window, [1, window.Length]))[0, -1]);
        }
        foreach (var generation in _cachedSequences.Concat(_windowed).Where(g => g.Done).ToList())
        {
            Remove(generation);
            left.Add(generation);
        }
        return left;
    }

    /// <summary>Takes a sequence out; the last cached one moves into its slot so the live slots stay 0…B−1.</summary>
    private void Remove(Generation generation)
    {
        if (_windowed.Remove(generation))
        {
            return;
        }
        var slot = _cachedSequences.IndexOf(generation);
        var last = _cachedSequences.Count - 1;
        if (slot != last)
        {
            _cache.Move(last, slot, _cachedSequences[last].Cached);
            _cachedSequences[slot] = _cachedSequences[last];
        }
        _cachedSequences.RemoveAt(last);
    }

    public void Dispose() => _cache.Dispose();
}

using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace StrawberryPhi.LocalEngine.Model;

/// <summary>A decoder-only transformer: token and position embeddings, causal self-attention blocks, a final norm and an output head.</summary>
public sealed class GptModel : Module<Tensor, Tensor>
{
    private readonly Embedding _tokens;
    private readonly Embedding _positions;
    private readonly TransformerEncoder _blocks;
    private readonly LayerNorm _norm;
    private readonly Linear _head;
    private readonly Tensor _causalMask;

    private static readonly Lock InitLock = new();

    public GptModel(ModelSize size) : base(size.Name)
    {
        Size = size;
        // A base model is a fixed-seed initialization: the same name always gives the same weights. The layers draw
        // their initial weights from libtorch's one global generator, so builds on other threads (concurrent jobs)
        // must not reseed it or draw from it in between.
        lock (InitLock)
        {
            torch.random.manual_seed(size.InitSeed);
            _tokens = Embedding(EngineVocabulary.Size, size.ModelDim);
            _positions = Embedding(size.Context, size.ModelDim);
            _blocks = TransformerEncoder(TransformerEncoderLayer(size.ModelDim, size.Heads, size.ModelDim * 4, 0.0), size.Layers);
            _norm = LayerNorm(size.ModelDim);
            _head = Linear(size.ModelDim, EngineVocabulary.Size);
        }
        _causalMask = torch.triu(torch.full(size.Context, size.Context, float.NegativeInfinity), 1);
        RegisterComponents();
        var named = _blocks.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);
        _layers = [.. Enumerable.Range(0, size.Layers).Select(i => new LayerWeights(named, $"layers.{i}."))];
    }

    /// <summary>One encoder layer's parameters, read by name so the cached path computes what the layer computes.</summary>
    private sealed record LayerWeights(Tensor InWeight, Tensor InBias, Tensor OutWeight, Tensor OutBias,
        Tensor Linear1Weight, Tensor Linear1Bias, Tensor Linear2Weight, Tensor Linear2Bias,
        Tensor Norm1Weight, Tensor Norm1Bias, Tensor Norm2Weight, Tensor Norm2Bias)
    {
        public LayerWeights(Dictionary<string, Tensor> named, string prefix) : this(
            named[prefix + "self_attn.in_proj_weight"], named[prefix + "self_attn.in_proj_bias"],
            named[prefix + "self_attn.out_proj.weight"], named[prefix + "self_attn.out_proj.bias"],
            named[prefix + "linear1.weight"], named[prefix + "linear1.bias"],
            named[prefix + "linear2.weight"], named[prefix + "linear2.bias"],
            named[prefix + "norm1.weight"], named[prefix + "norm1.bias"],
            named[prefix + "norm2.weight"], named[prefix + "norm2.bias"])
        {
        }
    }

    private readonly LayerWeights[] _layers;

    public ModelSize Size { get; }

    public long ParameterCount => parameters().Sum(p => p.numel());

    /// <param name="tokens">[batch, time] token ids, time ≤ the context.</param>
    /// <returns>[batch, time, vocabulary] logits.</returns>
    public override Tensor forward(Tensor tokens)
    {
        var time = tokens.shape[1];
        using var positions = torch.arange(time);
        var hidden = _tokens.forward(tokens) + _positions.forward(positions);
        using var mask = _causalMask[..(int)time, ..(int)time];
        hidden = _blocks.forward(hidden.transpose(0, 1), mask, null).transpose(0, 1);
        return _head.forward(_norm.forward(hidden));
    }

    /// <summary>
    /// Runs <paramref name="tokens"/> (positions 0…T−1) of one sequence, keeping each layer's keys and values in
    /// <paramref name="cache"/>'s <paramref name="slot"/>; returns the last position's logits [vocabulary].
    /// Computes what <see cref="forward"/> computes (post-norm layers, ReLU, no dropout), so greedy outputs agree.
    /// </summary>
    public Tensor Prefill(ReadOnlySpan<long> tokens, KvCache cache, int slot)
    {
        var time = tokens.Length;
        using var input = torch.tensor(tokens.ToArray(), [1, time]);
        using var positions = torch.arange(time);
        var hidden = _tokens.forward(input) + _positions.forward(positions);
        var mask = _causalMask[..time, ..time];
        for (var layer = 0; layer < _layers.Length; layer++)
        {
            var (q, k, v) = Project(hidden, _layers[layer]);
            cache.Keys[layer][slot, .., ..time].copy_(k[0]);
            cache.Values[layer][slot, .., ..time].copy_(v[0]);
            hidden = Finish(hidden, Attend(q, k, v, mask), _layers[layer]);
        }
        return _head.forward(_norm.forward(hidden[0, -1]));
    }

    /// <summary>
    /// One decoding step for a batch of sequences held in cache slots 0…B−1: sequence i adds token
    /// <paramref name="tokens"/>[i] at position <paramref name="positions"/>[i] (its cached length). Returns [B, vocabulary] logits.
    /// </summary>
    public Tensor Decode(long[] tokens, long[] positions, KvCache cache)
    {
        var batch = tokens.Length;
        var length = (int)positions.Max() + 1;
        using var input = torch.tensor(tokens, [batch, 1]);
        using var at = torch.tensor(positions);
        var hidden = _tokens.forward(input) + _positions.forward(at).unsqueeze(1);
        // Sequence i sees cached positions 0…positions[i]; the rest of the padded cache is masked out.
        var mask = torch.zeros(batch, 1, 1, length).masked_fill(torch.arange(length).unsqueeze(0).gt(at.unsqueeze(1)).view(batch, 1, 1, length), float.NegativeInfinity);
        for (var layer = 0; layer < _layers.Length; layer++)
        {
            var (q, k, v) = Project(hidden, _layers[layer]);
            var keys = cache.Keys[layer];
            var values = cache.Values[layer];
            for (var i = 0; i < batch; i++)
            {
                keys[i, .., (int)positions[i]].copy_(k[i, .., 0]);
                values[i, .., (int)positions[i]].copy_(v[i, .., 0]);
            }
            hidden = Finish(hidden, Attend(q, keys[..batch, .., ..length], values[..batch, .., ..length], mask), _layers[layer]);
        }
        return _head.forward(_norm.forward(hidden[.., 0]));
    }

    /// <summary>Queries, keys and values as [B, heads, T, head size].</summary>
    private (Tensor Q, Tensor K, Tensor V) Project(Tensor hidden, LayerWeights weights)
    {
        var (batch, time) = (hidden.shape[0], hidden.shape[1]);
        var parts = nn.functional.linear(hidden, weights.InWeight, weights.InBias).chunk(3, -1);
        Tensor Heads(Tensor t) => t.view(batch, time, Size.Heads, Size.ModelDim / Size.Heads).transpose(1, 2);
        return (Heads(parts[0]), Heads(parts[1]), Heads(parts[2]));
    }

    private Tensor Attend(Tensor q, Tensor k, Tensor v, Tensor mask)
    {
        var scores = q.matmul(k.transpose(-2, -1)).mul(1.0 / Math.Sqrt(Size.ModelDim / Size.Heads)).add(mask);
        var attended = nn.functional.softmax(scores, -1).matmul(v);
        return attended.transpose(1, 2).reshape(q.shape[0], q.shape[2], Size.ModelDim);
    }

    private Tensor Finish(Tensor hidden, Tensor attended, LayerWeights w)
    {
        long[] shape = [Size.ModelDim];
        hidden = nn.functional.layer_norm(hidden + nn.functional.linear(attended, w.OutWeight, w.OutBias), shape, w.Norm1Weight, w.Norm1Bias);
        var feedForward = nn.functional.linear(nn.functional.relu(nn.functional.linear(hidden, w.Linear1Weight, w.Linear1Bias)), w.Linear2Weight, w.Linear2Bias);
        return nn.functional.layer_norm(hidden + feedForward, shape, w.Norm2Weight, w.Norm2Bias);
    }
}

/// <summary>Each layer's keys and values for up to <c>slots</c> sequences of up to the context length.</summary>
public sealed class KvCache : IDisposable
{
    public KvCache(ModelSize size, int slots)
    {
        Slots = slots;
        var headSize = size.ModelDim / size.Heads;
        Keys = [.. Enumerable.Range(0, size.Layers).Select(_ => torch.zeros(slots, size.Heads, size.Context, headSize))];
        Values = [.. Enumerable.Range(0, size.Layers).Select(_ => torch.zeros(slots, size.Heads, size.Context, headSize))];
    }

    public int Slots { get; }
    public Tensor[] Keys { get; }
    public Tensor[] Values { get; }

    /// <summary>Moves a sequence's cached keys and values from one slot to another (to keep the live slots at the front).</summary>
    public void Move(int from, int to, int length)
    {
        foreach (var tensor in Keys.Concat(Values))
        {
            tensor[to, .., ..length].copy_(tensor[from, .., ..length]);
        }
    }

    public void Dispose()
    {
        foreach (var tensor in Keys.Concat(Values))
        {
            tensor.Dispose();
        }
    }
}

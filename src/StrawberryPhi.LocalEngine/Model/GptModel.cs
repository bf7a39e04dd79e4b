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
    }

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
}

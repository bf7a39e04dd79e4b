namespace StrawberryPhi.LocalEngine.Model;

/// <summary>A named base model shape. Each base starts from a fixed-seed initialization.</summary>
public sealed record ModelSize(string Name, int ModelDim, int Layers, int Heads, int Context, int InitSeed)
{
    /// <summary>About 0.5M parameters: learns a narrow task (such as two-digit arithmetic with reflection) in minutes on 2 cores.</summary>
    public static ModelSize Tiny { get; } = new("strawberry-tiny", 96, 4, 4, 256, 1);

    /// <summary>About 2.8M parameters.</summary>
    public static ModelSize Small { get; } = new("strawberry-small", 192, 6, 6, 512, 2);

    public static IReadOnlyList<ModelSize> All { get; } = [Tiny, Small];

    public static ModelSize? Find(string name) => All.FirstOrDefault(s => string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase));
}

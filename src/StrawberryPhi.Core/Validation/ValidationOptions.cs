using StrawberryPhi.Core.Reflection;
using StrawberryPhi.Core.Tokens;

namespace StrawberryPhi.Core.Validation;

/// <summary>How a dataset is validated. Build one from a catalog model with <see cref="DatasetValidator.OptionsFor"/>.</summary>
public sealed record ValidationOptions
{
    public TokenEncoding Encoding { get; init; } = TokenEncoding.O200kBase;

    /// <summary>Per-example training token limit of the target model; longer examples are truncated by the provider.</summary>
    public int TokenLimit { get; init; } = 65_536;

    /// <summary>Run the reflection-format checks on every trained assistant message.</summary>
    public bool Reflection { get; init; }

    public ReflectionTags Tags { get; init; } = ReflectionTags.Default;

    /// <summary>How many issues of each code the report keeps (all are counted).</summary>
    public int MaxIssuesPerCode { get; init; } = 20;

    public int MinExamples { get; init; } = 10;

    /// <summary>Worker threads for parsing and tokenizing; default: one per core.</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    public int BatchBytes { get; init; } = Datasets.LineBatchReader.DefaultBatchBytes;
}

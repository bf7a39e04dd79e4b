using System.Text.Json.Serialization;
using StrawberryPhi.Core.Catalog;
using StrawberryPhi.Core.Tokens;

namespace StrawberryPhi.Core.Validation;

public sealed record TokenStatistics(
    string Encoding,
    long Total,
    long Assistant,
    Distribution PerExample,
    Distribution AssistantPerExample,
    int TokenLimit,
    long OverLimit,
    IReadOnlyList<HistogramBin> Histogram);

public sealed record ReflectionStatistics(
    long ExamplesChecked,
    long ValidExamples,
    long ExamplesWithReflection,
    double ShareWithReflection,
    double ReflectionsPerExample,
    long ThinkingTokens,
    long ReflectionTokens,
    long OutputTokens,
    double ThinkingShare,
    double ReflectionShare,
    double OutputShare);

/// <summary>Everything a validation run found. Issues are capped per code; <see cref="Counts"/> has them all.</summary>
public sealed record ValidationReport(
    string File,
    long Bytes,
    DatasetKind Kind,
    long Examples,
    long Lines,
    IReadOnlyList<Issue> Issues,
    IReadOnlyDictionary<string, long> Counts,
    long Errors,
    long Warnings,
    TokenStatistics Tokens,
    ReflectionStatistics? Reflection,
    FineTuneEstimate? Estimate,
    [property: JsonIgnore] TimeSpan Elapsed)
{
    [JsonIgnore]
    public bool HasErrors => Errors > 0;

    /// <summary>
    /// The errors of the opt-in reflection checks (counted in <see cref="Errors"/> too): a quality verdict of their own.
    /// The provider does not check the reflection format, so these never stop an upload.
    /// </summary>
    public long ReflectionErrors { get; init; }

    /// <summary>The errors the provider would reject the file for.</summary>
    [JsonIgnore]
    public long ProviderErrors => Errors - ReflectionErrors;

    /// <summary>
    /// Examples (non-blank lines) whose tokens could not be counted because an error stopped reading them: token
    /// statistics, the estimate and the consistency checks cover the others only.
    /// </summary>
    [JsonIgnore]
    public long Uncounted => Examples - Tokens.PerExample.Count;

    public static bool IsReflectionCode(string code) => code.StartsWith("reflection_", StringComparison.Ordinal);

    public long ElapsedMs => (long)Elapsed.TotalMilliseconds;
}

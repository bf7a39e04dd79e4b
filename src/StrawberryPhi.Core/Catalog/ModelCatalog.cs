using System.Text.Json;
using System.Text.Json.Serialization;

namespace StrawberryPhi.Core.Catalog;

public sealed record InferencePrice(decimal Input, decimal Output);

public sealed record ProviderInfo(string Id, string Name, DateOnly? FineTuningNewJobsEnd, string? Note);

/// <summary>A fine-tunable base model as the dated catalog describes it.</summary>
public sealed record CatalogModel(
    string Id,
    IReadOnlyList<string> Aliases,
    IReadOnlyList<string> Providers,
    string Encoding,
    int TrainingTokenLimit,
    IReadOnlyList<string> Methods,
    [property: JsonPropertyName("training_price_per_1m")] decimal? TrainingPricePer1M,
    [property: JsonPropertyName("inference_price_per_1m")] InferencePrice? InferencePricePer1M,
    DateOnly? ShutdownDate)
{
    /// <summary>Shut down on or before <paramref name="today"/>: it can no longer be fine-tuned, and its fine-tunes no longer serve.</summary>
    public bool IsShutDown(DateOnly today) => ShutdownDate is { } date && date <= today;
}

/// <summary>
/// Fine-tunable models per provider with token limits, methods, prices and shutdown dates, read from a dated data
/// file (Data/model-catalog.json) so that numbers live in one reviewed place, not in code.
/// </summary>
public sealed class ModelCatalog
{
    private static readonly Lazy<ModelCatalog> Embedded = new(LoadEmbedded);

    private ModelCatalog(DateOnly asOf, IReadOnlyList<ProviderInfo> providers, IReadOnlyList<CatalogModel> models)
    {
        AsOf = asOf;
        Providers = providers;
        Models = models;
    }

    /// <summary>The model datasets are validated and estimated for until the user picks another (Settings, --model).</summary>
    public const string DefaultTargetModel = "gpt-4o-mini-2024-07-18";

    /// <summary>The catalog shipped with this build.</summary>
    public static ModelCatalog Default => Embedded.Value;

    public DateOnly AsOf { get; }

    public IReadOnlyList<ProviderInfo> Providers { get; }

    public IReadOnlyList<CatalogModel> Models { get; }

    /// <summary>Finds a model by id or alias (case-insensitive), or null.</summary>
    public CatalogModel? Find(string idOrAlias) => Models.FirstOrDefault(m =>
        string.Equals(m.Id, idOrAlias, StringComparison.OrdinalIgnoreCase) ||
        m.Aliases.Any(a => string.Equals(a, idOrAlias, StringComparison.OrdinalIgnoreCase)));

    public ProviderInfo? FindProvider(string id) =>
        Providers.FirstOrDefault(p => string.Equals(p.Id, id, StringComparison.OrdinalIgnoreCase));

    public static ModelCatalog Load(Stream json)
    {
        var file = JsonSerializer.Deserialize(json, CatalogJsonContext.Default.CatalogFile)
            ?? throw new InvalidDataException("The model catalog is empty.");
        var providers = file.Providers.Select(p => new ProviderInfo(p.Id, p.Name, p.FineTuningNewJobsEnd, p.Note)).ToList();
        var models = file.Models.Select(m => new CatalogModel(
            m.Id, m.Aliases ?? [], m.Providers, m.Encoding, m.TrainingTokenLimit, m.Methods,
            m.TrainingPricePer1M, m.InferencePricePer1M, m.ShutdownDate)).ToList();
        foreach (var model in models)
        {
            foreach (var provider in model.Providers)
            {
                if (!providers.Exists(p => p.Id == provider))
                {
                    throw new InvalidDataException($"Model catalog: model {model.Id} names unknown provider {provider}.");
                }
            }
        }
        return new ModelCatalog(file.AsOf, providers, models);
    }

    private static ModelCatalog LoadEmbedded()
    {
        using var stream = typeof(ModelCatalog).Assembly.GetManifestResourceStream("StrawberryPhi.Core.model-catalog.json")
            ?? throw new InvalidOperationException("The embedded model catalog is missing from the build.");
        return Load(stream);
    }
}

// The data file's shape. Source-generated (no reflection at start-up), and strict: an unknown key is an error, so
// a typo in the catalog fails the build's tests instead of silently dropping a field.
internal sealed record CatalogFile(DateOnly AsOf, List<string>? Sources, List<ProviderEntry> Providers, List<ModelEntry> Models);

internal sealed record ProviderEntry(string Id, string Name, DateOnly? FineTuningNewJobsEnd, string? Note);

internal sealed record ModelEntry(
    string Id,
    List<string>? Aliases,
    List<string> Providers,
    string Encoding,
    int TrainingTokenLimit,
    List<string> Methods,
    [property: JsonPropertyName("training_price_per_1m")] decimal? TrainingPricePer1M,
    [property: JsonPropertyName("inference_price_per_1m")] InferencePrice? InferencePricePer1M,
    DateOnly? ShutdownDate);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    ReadCommentHandling = JsonCommentHandling.Skip,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(CatalogFile))]
internal sealed partial class CatalogJsonContext : JsonSerializerContext;

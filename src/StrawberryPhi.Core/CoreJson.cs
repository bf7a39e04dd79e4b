using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using StrawberryPhi.Core.Catalog;
using StrawberryPhi.Core.Transform;
using StrawberryPhi.Core.Validation;

namespace StrawberryPhi.Core;

/// <summary>The one JSON shape of our reports (CLI, REST API, exports): snake_case names, enums as strings.</summary>
public static class CoreJson
{
    public static JsonSerializerOptions Options { get; } = Create(indented: false);

    public static JsonSerializerOptions Indented { get; } = Create(indented: true);

    private static JsonSerializerOptions Create(bool indented)
    {
        var options = new JsonSerializerOptions
        {
            PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
            WriteIndented = indented,
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
            // Source-generated metadata for our report types (no reflection at start-up); reflection for the rest.
            TypeInfoResolver = JsonTypeInfoResolver.Combine(CoreJsonContext.Default, new DefaultJsonTypeInfoResolver()),
        };
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower));
        options.MakeReadOnly();
        return options;
    }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UseStringEnumConverter = true)]
[JsonSerializable(typeof(ValidationReport))]
[JsonSerializable(typeof(ConversionResult))]
[JsonSerializable(typeof(ModelCatalogView))]
internal sealed partial class CoreJsonContext : JsonSerializerContext;

/// <summary>The catalog as <c>phi models --format json</c> and the API show it.</summary>
public sealed record ModelCatalogView(DateOnly AsOf, IReadOnlyList<ProviderInfo> Providers, IReadOnlyList<CatalogModel> Models)
{
    public static ModelCatalogView Of(ModelCatalog catalog) => new(catalog.AsOf, catalog.Providers, catalog.Models);
}

using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Json.Schema;

namespace StrawberryPhi.LocalEngine.Tests;

/// <summary>
/// OpenAI's OpenAPI document (Contracts/README.md; 3.1, whose schemas are JSON Schema 2020-12), loaded once: the schema of any operation's
/// answer, found by method, path and status, and evaluated by a JSON Schema validator (JsonSchema.Net).
/// </summary>
public sealed class OpenApiDocument
{
    private static readonly Lazy<OpenApiDocument> Loaded = new(() => new OpenApiDocument(Path.Combine(AppContext.BaseDirectory, "Contracts", "openai-openapi.json")));
    private static readonly Uri Base = new("https://openapi.openai.test/openapi.json");
    private readonly JsonNode _document;
    private readonly List<(Regex Pattern, string Template, int Literals)> _paths;

    private OpenApiDocument(string path)
    {
        _document = JsonNode.Parse(File.ReadAllText(path))!;
        Normalize(_document);
        _paths = _document["paths"]!.AsObject().Select(p => p.Key)
            .Select(t => (new Regex("^" + Regex.Replace(Regex.Escape(t), @"\\\{[^/]+?\}", "[^/]+") + "$"), t, t.Count(c => c == '/') - t.Count(c => c == '{')))
            .ToList();
    }

    public static OpenApiDocument Instance => Loaded.Value;

    /// <summary>Where the schema of this answer sits in the document, or null when the document describes none.</summary>
    public string? SchemaPointer(string method, string path, int status)
    {
        var template = _paths.Where(p => p.Pattern.IsMatch(path)).OrderByDescending(p => p.Literals).Select(p => p.Template).FirstOrDefault();
        if (template is null)
        {
            return null;
        }
        var operation = _document["paths"]![template]![method.ToLowerInvariant()];
        var responses = operation?["responses"]?.AsObject();
        var key = responses?.ContainsKey(status.ToString(CultureInfo.InvariantCulture)) == true ? status.ToString(CultureInfo.InvariantCulture)
            : responses?.ContainsKey("default") == true ? "default" : null;
        if (key is null || responses![key]?["content"]?["application/json"]?["schema"] is null)
        {
            return null;
        }
        return $"#/paths/{Escape(template)}/{method.ToLowerInvariant()}/responses/{key}/content/application~1json/schema";
    }

    /// <summary>The problems of <paramref name="instance"/> against the schema at <paramref name="pointer"/> (empty when valid).</summary>
    public IReadOnlyList<string> Problems(string pointer, JsonNode? instance)
    {
        var schema = JsonSchema.FromText($$"""{"$schema": "https://json-schema.org/draft/2020-12/schema", "$ref": "{{Base}}{{pointer}}"}""");
        var options = new EvaluationOptions { OutputFormat = OutputFormat.Hierarchical };
        options.SchemaRegistry.Register(new JsonNodeBaseDocument(_document, Base));
        var problems = new List<string>();
        Collect(schema.Evaluate(instance, options), problems);
        return problems.Distinct().ToList();
    }

    /// <summary>The errors of failed evaluations only: a branch that failed inside an anyOf that passed is no problem.</summary>
    private static void Collect(EvaluationResults result, List<string> problems)
    {
        if (result.IsValid)
        {
            return;
        }
        foreach (var (_, message) in result.Errors ?? new Dictionary<string, string>())
        {
            problems.Add($"{result.InstanceLocation}: {message} ({result.EvaluationPath})");
        }
        foreach (var detail in result.Details)
        {
            Collect(detail, problems);
        }
    }

    private static string Escape(string segment) => segment.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal);

    /// <summary>
    /// A few schemas still use OpenAPI 3.0's words: a boolean <c>exclusiveMinimum: true</c> beside <c>minimum</c> (in 3.1,
    /// JSON Schema 2020-12, the bound itself is the value) and <c>nullable: true</c> (in 3.1, "null" among the types).
    /// Rewritten to mean what they meant, so that the validator reads them as their authors did.
    /// </summary>
    private static void Normalize(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject map:
                foreach (var (exclusive, bound) in new[] { ("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum") })
                {
                    if (map[exclusive] is JsonValue flag && flag.GetValueKind() is System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.False)
                    {
                        var isExclusive = flag.GetValue<bool>();
                        map.Remove(exclusive);
                        if (isExclusive && map[bound] is { } value)
                        {
                            map.Remove(bound);
                            map[exclusive] = value;
                        }
                    }
                }
                if (map["nullable"] is JsonValue nullable && nullable.GetValueKind() is System.Text.Json.JsonValueKind.True)
                {
                    map.Remove("nullable");
                    if (map["type"] is JsonValue type)
                    {
                        map["type"] = new JsonArray(type.GetValue<string>(), "null");
                    }
                    if (map["enum"] is JsonArray values && !values.Any(v => v is null))
                    {
                        values.Add(null);
                    }
                }
                foreach (var child in map.Select(p => p.Value).ToList())
                {
                    Normalize(child);
                }
                break;
            case JsonArray list:
                foreach (var child in list)
                {
                    Normalize(child);
                }
                break;
        }
    }
}

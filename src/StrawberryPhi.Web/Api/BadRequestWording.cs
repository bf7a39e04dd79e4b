using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace StrawberryPhi.Web.Api;

/// <summary>
/// Says in words what was wrong with a request that did not bind, and where: ASP.NET Core's own messages name
/// parameters by their C# types ("Failed to bind parameter "int page""), and the serializer's name our types.
/// </summary>
internal static partial class BadRequestWording
{
    public static (int Status, string Title, string Detail, string? Field) Describe(BadHttpRequestException exception)
    {
        if (exception.InnerException is JsonException json)
        {
            return (exception.StatusCode, "Invalid JSON", JsonDetail(json), JsonField(json));
        }
        if (BindFailure().Match(exception.Message) is { Success: true } bind)
        {
            var name = bind.Groups[2].Value;
            return (exception.StatusCode, "Bad request", $"\"{name}\" must be {Expected(BindType(bind.Groups[1].Value))}; \"{bind.Groups[3].Value}\" is not.", name);
        }
        if (exception.Message.Contains("no body was provided", StringComparison.Ordinal) ||
            exception.Message.Contains("was not provided from body", StringComparison.Ordinal))
        {
            return (exception.StatusCode, "Bad request", "This request needs a JSON body (Content-Type: application/json); see /api/openapi/v1.json for its shape.", null);
        }
        return (exception.StatusCode, "Bad request", exception.Message, null);
    }

    /// <summary>The property the JSON reader stopped at, as the API names it ("kind", "messages[2].role").</summary>
    private static string? JsonField(JsonException json) =>
        json.Path is null or "$" ? null : json.Path.StartsWith("$.", StringComparison.Ordinal) ? json.Path[2..] : json.Path;

    private static string JsonDetail(JsonException json)
    {
        var where = json.LineNumber is { } line ? $" (line {line + 1}, byte {json.BytePositionInLine + 1})" : "";
        var field = JsonField(json);
        if (ConversionTarget().Match(json.Message) is { Success: true } converted && field is not null)
        {
            // The serializer names the property's type, or for a record's constructor parameter the record's.
            var type = OurType(converted.Groups[1].Value) ?? Type.GetType(converted.Groups[1].Value);
            var property = field[(field.LastIndexOf('.') + 1)..];
            type = type?.GetProperty(property, BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase)?.PropertyType ?? type;
            return $"The request body has the wrong kind of value for \"{field}\"{where}: it must be {Expected(type)}.";
        }
        var reason = json.Message;
        var cut = reason.IndexOf(" Path: ", StringComparison.Ordinal);
        reason = cut > 0 ? reason[..cut] : reason;
        return $"The request body is not valid JSON{(field is null ? "" : $" at \"{field}\"")}{where}: {reason}";
    }

    /// <summary>A value of <paramref name="type"/>, in words.</summary>
    private static string Expected(Type? type)
    {
        type = type is null ? null : Nullable.GetUnderlyingType(type) ?? type;
        return type switch
        {
            null => "a value of another kind",
            { IsEnum: true } => "one of " + string.Join(", ", Enum.GetNames(type)),
            _ when type == typeof(int) || type == typeof(long) => "a whole number",
            _ when type == typeof(double) || type == typeof(float) || type == typeof(decimal) => "a number",
            _ when type == typeof(bool) => "true or false",
            _ when type == typeof(Guid) => "an id (GUID)",
            _ when type == typeof(string) => "a string",
            _ => "an object or list of the documented shape (see /api/openapi/v1.json)",
        };
    }

    /// <summary>The type ASP.NET Core names in a bind failure: "int", "Guid", "Nullable&lt;Severity&gt;".</summary>
    private static Type? BindType(string name) => (name.StartsWith("Nullable<", StringComparison.Ordinal) ? name[9..^1] : name.TrimEnd('?')) switch
    {
        "int" => typeof(int),
        "long" => typeof(long),
        "double" => typeof(double),
        "bool" => typeof(bool),
        "Guid" => typeof(Guid),
        var other => OurType(other),
    };

    /// <summary>One of the API's own types (the studio's or Core's), by full or short name.</summary>
    private static Type? OurType(string name) =>
        new[] { typeof(BadRequestWording).Assembly, typeof(Core.Validation.Severity).Assembly }
            .SelectMany(assembly => assembly.GetTypes())
            .FirstOrDefault(t => t.FullName == name || t.Name == name);

    [GeneratedRegex("""^Failed to bind parameter "([\w.?<>]+) (\w+)" from "(.*)"\.$""")]
    private static partial Regex BindFailure();

    [GeneratedRegex(@"could not be converted to ([\w.`\[\],+ =]+?)\. Path:")]
    private static partial Regex ConversionTarget();
}

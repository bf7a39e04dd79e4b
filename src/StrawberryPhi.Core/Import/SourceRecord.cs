using System.Text.Json.Nodes;
using StrawberryPhi.Core.Validation;

namespace StrawberryPhi.Core.Import;

/// <summary>One record read from a source: a chat example, or the reason it could not become one.</summary>
public readonly record struct SourceRecord(JsonObject? Example, Issue? Problem)
{
    public static SourceRecord Ok(JsonObject example) => new(example, null);

    public static SourceRecord Bad(long line, string path, string message) =>
        new(null, new Issue(line, path, Severity.Error, "import_error", message));

    /// <summary>A chat example with an optional system prompt, one user turn and one assistant turn.</summary>
    public static JsonObject Chat(string? system, string prompt, string response)
    {
        var messages = new JsonArray();
        if (!string.IsNullOrWhiteSpace(system))
        {
            messages.Add(new JsonObject { ["role"] = "system", ["content"] = system });
        }
        messages.Add(new JsonObject { ["role"] = "user", ["content"] = prompt });
        messages.Add(new JsonObject { ["role"] = "assistant", ["content"] = response });
        return new JsonObject { ["messages"] = messages };
    }
}

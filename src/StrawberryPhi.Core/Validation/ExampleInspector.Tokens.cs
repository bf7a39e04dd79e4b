using System.Runtime.InteropServices;
using System.Text.Json;
using StrawberryPhi.Core.Tokens;

namespace StrawberryPhi.Core.Validation;

/// <summary>Token counts by the Cookbook's convention: 3 per message, every string value, 1 per name, 3 for the reply.</summary>
internal sealed partial class ExampleInspector
{
    /// <summary>
    /// The Cookbook's count for one message, without its content: 3, plus each other string value, plus 1 for a
    /// name. Content is counted once, where it is checked (<see cref="CheckContent"/>) or by <see cref="ContentTokens"/>.
    /// </summary>
    private int MessageTokens(JsonElement message)
    {
        var tokens = TokensPerMessage;
        foreach (var property in message.EnumerateObject())
        {
            var value = property.Value;
            if (property.NameEquals("content"u8))
            {
                continue;
            }
            switch (value.ValueKind)
            {
                case JsonValueKind.String:
                    tokens += _counter.Count(Chars(value));
                    if (property.NameEquals("name"u8))
                    {
                        tokens += TokensPerName;
                    }
                    break;
                case JsonValueKind.Array when property.NameEquals("tool_calls"u8):
                    foreach (var call in value.EnumerateArray())
                    {
                        if (call.ValueKind == JsonValueKind.Object && call.TryGetProperty("function", out var function) && function.ValueKind == JsonValueKind.Object)
                        {
                            foreach (var field in function.EnumerateObject())
                            {
                                if (field.Value.ValueKind == JsonValueKind.String)
                                {
                                    tokens += _counter.Count(Chars(field.Value));
                                }
                            }
                        }
                    }
                    break;
            }
        }
        return tokens;
    }

    /// <summary>Tokens of a message's content (a string, or the text of its parts) when it is not checked further.</summary>
    private int ContentTokens(JsonElement message)
    {
        if (!message.TryGetProperty("content", out var content))
        {
            return 0;
        }
        if (content.ValueKind == JsonValueKind.String)
        {
            return _counter.Count(Chars(content));
        }
        var tokens = 0;
        if (content.ValueKind == JsonValueKind.Array)
        {
            foreach (var part in content.EnumerateArray())
            {
                if (part.ValueKind == JsonValueKind.Object && part.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String)
                {
                    tokens += _counter.Count(Chars(text));
                }
            }
        }
        return tokens;
    }

    /// <summary>Tool definitions count as the tokens of their JSON text (an approximation; the Cookbook ignores them).</summary>
    private int ToolsTokens(JsonElement root) =>
        root.TryGetProperty("tools", out var tools) && tools.ValueKind == JsonValueKind.Array
            ? _counter.CountUtf8(JsonMarshal.GetRawUtf8Value(tools))
            : 0;
}

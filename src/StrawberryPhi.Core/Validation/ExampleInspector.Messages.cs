using System.Text;
using System.Text.Json;
using StrawberryPhi.Core.Tokens;

namespace StrawberryPhi.Core.Validation;

/// <summary>The fields of one message beside its content: weight, name, tool calls and their ids, and the example's tools.</summary>
internal sealed partial class ExampleInspector
{
    private static bool IsTrained(JsonElement message) =>
        !message.TryGetProperty("weight", out var weight) || weight.ValueKind != JsonValueKind.Number || !weight.TryGetInt32(out var w) || w != 0;

    /// <returns>Whether the assistant message is trained on (weight absent or 1).</returns>
    private bool CheckWeight(JsonElement message, string path)
    {
        if (!message.TryGetProperty("weight", out var weight))
        {
            return true;
        }
        if (weight.ValueKind == JsonValueKind.Number && weight.TryGetInt32(out var value) && value is 0 or 1)
        {
            return value == 1;
        }
        Add(path + ".weight", Severity.Error, IssueCodes.InvalidWeight, $"\"weight\" must be 0 or 1; got {Truncate(weight.GetRawText())}.");
        return true;
    }

    private void CheckName(JsonElement message, string path)
    {
        if (!message.TryGetProperty("name", out var name))
        {
            return;
        }
        if (name.ValueKind != JsonValueKind.String || !IsValidName(name.GetString()!))
        {
            Add(path + ".name", Severity.Error, IssueCodes.InvalidName, "\"name\" must be 1 to 64 letters, digits, underscores or hyphens.");
        }
    }

    private static bool IsValidName(string name) =>
        name.Length is > 0 and <= 64 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-');

    /// <returns>Whether the message carries tool calls.</returns>
    private bool CheckToolCalls(JsonElement message, string path)
    {
        if (!message.TryGetProperty("tool_calls", out var calls))
        {
            return false;
        }
        if (calls.ValueKind != JsonValueKind.Array || calls.GetArrayLength() == 0)
        {
            Add(path + ".tool_calls", Severity.Error, IssueCodes.InvalidToolCalls, "\"tool_calls\" must be a non-empty list.");
            return false;
        }
        var index = 0;
        foreach (var call in calls.EnumerateArray())
        {
            var callPath = $"{path}.tool_calls[{index++}]";
            if (call.ValueKind != JsonValueKind.Object)
            {
                Add(callPath, Severity.Error, IssueCodes.InvalidToolCalls, "A tool call must be an object.");
                continue;
            }
            if (!call.TryGetProperty("id", out var id) || id.ValueKind != JsonValueKind.String || id.StringByteLength() == 0)
            {
                Add(callPath + ".id", Severity.Error, IssueCodes.InvalidToolCalls, "A tool call needs an \"id\" string.");
            }
            else
            {
                _toolCallIds.Add(id.GetString()!);
            }
            if (!call.TryGetProperty("type", out var type) || !type.ValueEquals("function"u8))
            {
                Add(callPath + ".type", Severity.Error, IssueCodes.InvalidToolCalls, "A tool call's \"type\" must be \"function\".");
            }
            if (!call.TryGetProperty("function", out var function) || function.ValueKind != JsonValueKind.Object
                || !function.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String || name.StringByteLength() == 0)
            {
                Add(callPath + ".function", Severity.Error, IssueCodes.InvalidToolCalls, "A tool call needs \"function\": {\"name\", \"arguments\"}.");
                continue;
            }
            if (!function.TryGetProperty("arguments", out var arguments) || arguments.ValueKind != JsonValueKind.String)
            {
                Add(callPath + ".function.arguments", Severity.Error, IssueCodes.InvalidToolCalls, "\"arguments\" must be a string of JSON.");
            }
        }
        return true;
    }

    private void CheckToolCallId(JsonElement message, string path)
    {
        if (!message.TryGetProperty("tool_call_id", out var id) || id.ValueKind != JsonValueKind.String || id.StringByteLength() == 0)
        {
            Add(path, Severity.Error, IssueCodes.MissingToolCallId, "A tool message needs a \"tool_call_id\".");
        }
        else if (!_toolCallIds.Contains(id.GetString()!))
        {
            Add(path + ".tool_call_id", Severity.Warning, IssueCodes.UnknownToolCallId,
                $"No earlier assistant tool call has id \"{Truncate(id.GetString()!)}\".");
        }
    }

    private void CheckTools(JsonElement root, string path)
    {
        if (root.TryGetProperty("parallel_tool_calls", out var parallel) && parallel.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
        {
            Add(path + ".parallel_tool_calls", Severity.Error, IssueCodes.InvalidParallelToolCalls, "\"parallel_tool_calls\" must be true or false.");
        }
        if (!root.TryGetProperty("tools", out var tools))
        {
            return;
        }
        if (tools.ValueKind != JsonValueKind.Array)
        {
            Add(path + ".tools", Severity.Error, IssueCodes.InvalidTools, "\"tools\" must be a list.");
            return;
        }
        var index = 0;
        foreach (var tool in tools.EnumerateArray())
        {
            var toolPath = $"{path}.tools[{index++}]";
            if (tool.ValueKind != JsonValueKind.Object || !tool.TryGetProperty("type", out var type) || !type.ValueEquals("function"u8)
                || !tool.TryGetProperty("function", out var function) || function.ValueKind != JsonValueKind.Object
                || !function.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String || !IsValidName(name.GetString()!))
            {
                Add(toolPath, Severity.Error, IssueCodes.InvalidTools,
                    "A tool must be {\"type\": \"function\", \"function\": {\"name\": …}} with a name of 1 to 64 letters, digits, _ or -.");
            }
            else if (function.TryGetProperty("parameters", out var parameters) && parameters.ValueKind != JsonValueKind.Object)
            {
                Add(toolPath + ".function.parameters", Severity.Error, IssueCodes.InvalidTools, "\"parameters\" must be a JSON Schema object.");
            }
        }
    }
}

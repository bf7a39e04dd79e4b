using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Text.Json;
using StrawberryPhi.Core.Tokens;

namespace StrawberryPhi.Core.Validation;

/// <summary>Preference (DPO) examples: the input conversation and the two one-message answers.</summary>
internal sealed partial class ExampleInspector
{
    private void InspectPreference(JsonElement root, ref ExampleFacts facts)
    {
        UnrecognizedExampleKeys(root, "$", PreferenceExampleKeys);
        var tokens = 0;
        if (!root.TryGetProperty("input", out var input) || input.ValueKind != JsonValueKind.Object)
        {
            Add("$.input", Severity.Error, IssueCodes.PreferenceMissingInput, "A preference example needs an \"input\" object with a \"messages\" list.");
        }
        else
        {
            UnrecognizedExampleKeys(input, "$.input", PreferenceInputKeys);
            CheckTools(input, "$.input");
            if (!input.TryGetProperty("messages", out var messages) || messages.ValueKind != JsonValueKind.Array || messages.GetArrayLength() == 0)
            {
                Add("$.input.messages", Severity.Error, IssueCodes.MissingMessagesList, "\"input\" has no non-empty \"messages\" list.");
            }
            else
            {
                var summary = InspectMessages(messages, "$.input.messages", requireAssistant: false, ref facts);
                tokens += summary.Tokens + ToolsTokens(input);
                var last = messages[messages.GetArrayLength() - 1];
                if (last.ValueKind == JsonValueKind.Object && last.TryGetProperty("role", out var role) && role.ValueEquals("assistant"u8))
                {
                    Add($"$.input.messages[{messages.GetArrayLength() - 1}]", Severity.Error, IssueCodes.PreferenceInputEndsWithAssistant,
                        "The input ends with an assistant message; the outputs are the assistant's reply, so the input should end with the user.");
                }
            }
        }

        var preferred = InspectPreferenceOutput(root, "preferred_output", trained: true, ref facts, ref tokens);
        var rejected = InspectPreferenceOutput(root, "non_preferred_output", trained: false, ref facts, ref tokens);
        if (preferred is { } p && rejected is { } r && p == r)
        {
            Add("$.non_preferred_output", Severity.Warning, IssueCodes.PreferenceIdenticalOutputs,
                "The preferred and non-preferred outputs are identical; the pair teaches nothing.");
        }
        facts.Counted = true;
        facts.Tokens = tokens + TokensForReply;
    }

    /// <returns>A hash of the output message's content, or null when the output is invalid.</returns>
    private ulong? InspectPreferenceOutput(JsonElement root, string name, bool trained, ref ExampleFacts facts, ref int tokens)
    {
        var path = "$." + name;
        if (!root.TryGetProperty(name, out var output) || output.ValueKind != JsonValueKind.Array || output.GetArrayLength() != 1)
        {
            var why = !root.TryGetProperty(name, out output) ? $"Missing \"{name}\"."
                : output.ValueKind != JsonValueKind.Array ? $"\"{name}\" is a {Describe(output.ValueKind)}, not a list."
                : $"\"{name}\" holds {output.GetArrayLength()} messages; it must hold exactly one assistant message.";
            Add(path, Severity.Error, IssueCodes.PreferenceInvalidOutput, why);
            return null;
        }
        var message = output[0];
        if (message.ValueKind != JsonValueKind.Object || !message.TryGetProperty("role", out var role) || !role.ValueEquals("assistant"u8))
        {
            Add(path + "[0]", Severity.Error, IssueCodes.PreferenceInvalidOutput, $"\"{name}\" must hold one message with role \"assistant\".");
            return null;
        }
        if (!message.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.String || content.StringByteLength() == 0)
        {
            Add(path + "[0].content", Severity.Error, IssueCodes.MissingContent, $"The {name} message has no text content.");
            return null;
        }
        var text = Chars(content);
        var contentTokens = _counter.Count(text);
        tokens += MessageTokens(message) + contentTokens;
        facts.AssistantTokens += contentTokens;
        if (trained && _options.Reflection)
        {
            CheckReflection(text, path, "[0].content", ref facts);
        }
        return XxHash3.HashToUInt64(JsonMarshal.GetRawUtf8Value(content));
    }
}

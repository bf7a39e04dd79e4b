using System.Text.Json.Nodes;
using StrawberryPhi.Core.Reflection;

namespace StrawberryPhi.Core.Transform;

/// <summary>What to do with an example's existing system prompt when adding the reflection prompt.</summary>
public enum SystemPromptMode
{
    /// <summary>Put the reflection prompt before the existing system prompt (or add one when there is none).</summary>
    Prepend,

    /// <summary>Replace the existing system prompt with the reflection prompt.</summary>
    Replace,

    /// <summary>Add the reflection prompt only to examples without a system prompt.</summary>
    AddIfMissing,
}

public sealed record ReflectionConversion(
    string SystemPrompt,
    SystemPromptMode Mode = SystemPromptMode.Prepend,
    bool WrapOutput = false,
    ReflectionTags? Tags = null);

/// <summary>
/// Turns plain Q/A examples into reflection form: adds the reflection system prompt and, only when asked, wraps a
/// plain assistant answer as the output block. It never invents reasoning: a wrapped answer has no thinking block,
/// so the reflection checks will say so until reasoning is added (by a teacher model or by hand).
/// </summary>
public static class ReflectionConverter
{
    /// <returns>Whether the example changed.</returns>
    public static bool Apply(JsonObject example, ReflectionConversion conversion)
    {
        var tags = conversion.Tags ?? ReflectionTags.Default;
        var changed = false;
        if (example["messages"] is JsonArray messages)
        {
            changed |= ApplySystemPrompt(messages, conversion);
            if (conversion.WrapOutput)
            {
                foreach (var message in messages.OfType<JsonObject>())
                {
                    changed |= WrapAssistant(message, tags);
                }
            }
        }
        if (example["input"] is JsonObject { } input && input["messages"] is JsonArray inputMessages)
        {
            changed |= ApplySystemPrompt(inputMessages, conversion);
            if (conversion.WrapOutput)
            {
                foreach (var name in (ReadOnlySpan<string>)["preferred_output", "non_preferred_output"])
                {
                    if (example[name] is JsonArray outputs)
                    {
                        foreach (var message in outputs.OfType<JsonObject>())
                        {
                            changed |= WrapAssistant(message, tags);
                        }
                    }
                }
            }
        }
        return changed;
    }

    private static bool ApplySystemPrompt(JsonArray messages, ReflectionConversion conversion)
    {
        var system = messages.OfType<JsonObject>().FirstOrDefault(m => Role(m) == "system");
        if (system is null)
        {
            messages.Insert(0, new JsonObject { ["role"] = "system", ["content"] = conversion.SystemPrompt });
            return true;
        }
        var existing = system["content"] is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;
        switch (conversion.Mode)
        {
            case SystemPromptMode.Replace when existing != conversion.SystemPrompt:
                system["content"] = conversion.SystemPrompt;
                return true;
            case SystemPromptMode.Prepend when existing is null:
                system["content"] = conversion.SystemPrompt;
                return true;
            case SystemPromptMode.Prepend when !existing.Contains(conversion.SystemPrompt, StringComparison.Ordinal):
                system["content"] = $"{conversion.SystemPrompt}\n\n{existing}";
                return true;
            default:
                return false;
        }
    }

    private static bool WrapAssistant(JsonObject message, ReflectionTags tags)
    {
        if (Role(message) != "assistant" || message["content"] is not JsonValue value || !value.TryGetValue<string>(out var content)
            || string.IsNullOrWhiteSpace(content) || HasAnyTag(content, tags))
        {
            return false;
        }
        message["content"] = $"<{tags.Output}>\n{content.Trim()}\n</{tags.Output}>";
        return true;
    }

    private static bool HasAnyTag(string content, ReflectionTags tags) =>
        content.Contains($"<{tags.Thinking}>", StringComparison.Ordinal) || content.Contains($"<{tags.Output}>", StringComparison.Ordinal)
        || content.Contains($"<{tags.Reflection}>", StringComparison.Ordinal);

    private static string? Role(JsonObject message) =>
        message["role"] is JsonValue role && role.TryGetValue<string>(out var text) ? text : null;
}

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
    /// <param name="tally">Counts what was done, for the one sentence that tells the user (see <see cref="ReflectionTally.Describe"/>).</param>
    /// <returns>Whether the example changed.</returns>
    public static bool Apply(JsonObject example, ReflectionConversion conversion, ReflectionTally? tally = null)
    {
        var tags = conversion.Tags ?? ReflectionTags.Default;
        var systemChanged = false;
        var answers = new List<JsonObject>();
        if (example["messages"] is JsonArray messages)
        {
            systemChanged |= ApplySystemPrompt(messages, conversion);
            answers.AddRange(messages.OfType<JsonObject>());
        }
        if (example["input"] is JsonObject { } input && input["messages"] is JsonArray inputMessages)
        {
            systemChanged |= ApplySystemPrompt(inputMessages, conversion);
            foreach (var name in (ReadOnlySpan<string>)["preferred_output", "non_preferred_output"])
            {
                if (example[name] is JsonArray outputs)
                {
                    answers.AddRange(outputs.OfType<JsonObject>());
                }
            }
        }
        var wrapped = 0;
        foreach (var message in answers)
        {
            if (Role(message) != "assistant" || message["content"] is not JsonValue value || !value.TryGetValue<string>(out var content)
                || string.IsNullOrWhiteSpace(content))
            {
                continue;
            }
            if (HasAnyTag(content, tags))
            {
                tally?.Count(alreadyTagged: 1);
            }
            else if (conversion.WrapOutput)
            {
                message["content"] = $"<{tags.Output}>\n{content.Trim()}\n</{tags.Output}>";
                wrapped++;
            }
            else
            {
                tally?.Count(leftPlain: 1);
            }
        }
        tally?.Count(systemPrompts: systemChanged ? 1 : 0, wrapped: wrapped);
        return systemChanged || wrapped > 0;
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

    private static bool HasAnyTag(string content, ReflectionTags tags) =>
        content.Contains($"<{tags.Thinking}>", StringComparison.Ordinal) || content.Contains($"<{tags.Output}>", StringComparison.Ordinal)
        || content.Contains($"<{tags.Reflection}>", StringComparison.Ordinal);

    private static string? Role(JsonObject message) =>
        message["role"] is JsonValue role && role.TryGetValue<string>(out var text) ? text : null;
}

/// <summary>What a reflection conversion did over a file, said in one sentence: never more than was done.</summary>
public sealed class ReflectionTally
{
    /// <summary>Examples whose system prompt was added or changed.</summary>
    public long SystemPrompts { get; private set; }

    /// <summary>Plain assistant answers wrapped as the output block.</summary>
    public long Wrapped { get; private set; }

    /// <summary>Assistant answers that already had reflection tags (left as they were).</summary>
    public long AlreadyTagged { get; private set; }

    /// <summary>Plain assistant answers left as they were (wrapping was not asked for).</summary>
    public long LeftPlain { get; private set; }

    internal void Count(int systemPrompts = 0, int wrapped = 0, int alreadyTagged = 0, int leftPlain = 0)
    {
        SystemPrompts += systemPrompts;
        Wrapped += wrapped;
        AlreadyTagged += alreadyTagged;
        LeftPlain += leftPlain;
    }

    public string Describe(ReflectionTags? tags = null)
    {
        var t = tags ?? ReflectionTags.Default;
        var parts = new List<string> { $"set the reflection system prompt in {Text.Plural.Of(SystemPrompts, "example")}" };
        if (Wrapped > 0)
        {
            parts.Add($"wrapped {Text.Plural.Of(Wrapped, "plain answer")} in <{t.Output}>");
        }
        if (LeftPlain > 0)
        {
            parts.Add($"left {Text.Plural.Of(LeftPlain, "plain answer")} as {(LeftPlain == 1 ? "it was" : "they were")}");
        }
        parts.Add(AlreadyTagged == 0 ? "none already had reflection tags" : $"{Text.Plural.Of(AlreadyTagged, "answer")} already had reflection tags and {Text.Plural.Was(AlreadyTagged)} kept");
        var sentence = char.ToUpperInvariant(parts[0][0]) + string.Join("; ", parts)[1..] + ".";
        return sentence + (Wrapped > 0
            ? $" No reasoning was invented: wrapped answers have no <{t.Thinking}> block, so the reflection checks list them until reasoning is added."
            : " No reasoning was invented.");
    }
}

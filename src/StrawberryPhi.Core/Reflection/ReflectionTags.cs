namespace StrawberryPhi.Core.Reflection;

/// <summary>The three tag names of the reflection format. The defaults are Reflection-70B's.</summary>
public sealed record ReflectionTags(string Thinking = "thinking", string Reflection = "reflection", string Output = "output")
{
    public static ReflectionTags Default { get; } = new();

    /// <summary>Reflection-70B's system prompt, used when converting data to reflection form.</summary>
    public const string DefaultSystemPrompt =
        "You are a world-class AI system, capable of complex reasoning and reflection. Reason through the query " +
        "inside <thinking> tags, and then provide your final response inside <output> tags. If you detect that you " +
        "made a mistake in your reasoning at any point, correct yourself inside <reflection> tags.";

    /// <summary>Parses "thinking,reflection,output" (three names, comma separated).</summary>
    public static ReflectionTags Parse(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length != 3 || parts.Any(p => p.Length == 0 || p.Any(c => c is '<' or '>' or '/' || char.IsWhiteSpace(c))))
        {
            throw new FormatException($"Tag names must be three names separated by commas, like \"thinking,reflection,output\"; got \"{text}\".");
        }
        if (parts.Distinct(StringComparer.Ordinal).Count() != 3)
        {
            throw new FormatException($"The three tag names must differ; got \"{text}\".");
        }
        return new ReflectionTags(parts[0], parts[1], parts[2]);
    }

    /// <summary>Replaces the default tag names in a text (used for the system prompt when tags are custom).</summary>
    public string Apply(string textWithDefaultTags) => textWithDefaultTags
        .Replace("<thinking>", $"<{Thinking}>", StringComparison.Ordinal)
        .Replace("<reflection>", $"<{Reflection}>", StringComparison.Ordinal)
        .Replace("<output>", $"<{Output}>", StringComparison.Ordinal);
}

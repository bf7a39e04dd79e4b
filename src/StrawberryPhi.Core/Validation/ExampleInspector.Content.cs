using System.Text;
using System.Text.Json;
using StrawberryPhi.Core.Reflection;

namespace StrawberryPhi.Core.Validation;

/// <summary>Message content: strings, content parts, and the opt-in reflection format of assistant answers.</summary>
internal sealed partial class ExampleInspector
{
    /// <returns>Tokens of the message's text content (for the assistant-token statistics).</returns>
    private int CheckContent(JsonElement message, string path, string role, bool hasToolCalls, bool trained, ref ExampleFacts facts)
    {
        if (!message.TryGetProperty("content", out var content))
        {
            if (!hasToolCalls)
            {
                Add(path, Severity.Error, IssueCodes.MessageMissingKey, "The message has no \"content\".");
            }
            return 0;
        }
        switch (content.ValueKind)
        {
            case JsonValueKind.String:
                if (content.StringByteLength() == 0 && !hasToolCalls)
                {
                    Add(path + ".content", Severity.Error, IssueCodes.MissingContent, "\"content\" is empty.");
                    return 0;
                }
                var text = Chars(content);
                var tokens = _counter.Count(text);
                if (trained && _options.Reflection)
                {
                    CheckReflection(text, path, ".content", ref facts);
                }
                return tokens;
            case JsonValueKind.Null:
                if (!hasToolCalls)
                {
                    Add(path + ".content", Severity.Error, IssueCodes.MissingContent, "\"content\" is null and the message has no tool calls.");
                }
                return 0;
            case JsonValueKind.Array:
                var partTokens = CheckContentParts(content, path + ".content", role);
                if (trained && _options.Reflection)
                {
                    Add(path + ".content", Severity.Error, IssueCodes.ReflectionNotText, "Reflection checks need the assistant's content as one string, not a list of parts.");
                }
                return partTokens;
            default:
                Add(path + ".content", Severity.Error, IssueCodes.InvalidContentType, $"\"content\" is a {Describe(content.ValueKind)}; it must be a string or a list of content parts.");
                return 0;
        }
    }

    private int CheckContentParts(JsonElement parts, string path, string role)
    {
        if (parts.GetArrayLength() == 0)
        {
            Add(path, Severity.Error, IssueCodes.MissingContent, "\"content\" is an empty list.");
            return 0;
        }
        var tokens = 0;
        var index = 0;
        foreach (var part in parts.EnumerateArray())
        {
            var partPath = $"{path}[{index++}]";
            if (part.ValueKind != JsonValueKind.Object || !part.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
            {
                Add(partPath, Severity.Error, IssueCodes.InvalidContentPart, "A content part must be an object with a \"type\".");
                continue;
            }
            if (type.ValueEquals("text"u8))
            {
                if (!part.TryGetProperty("text", out var text) || text.ValueKind != JsonValueKind.String)
                {
                    Add(partPath + ".text", Severity.Error, IssueCodes.InvalidContentPart, "A text part needs a \"text\" string.");
                    continue;
                }
                tokens += _counter.Count(Chars(text));
            }
            else if (type.ValueEquals("image_url"u8))
            {
                if (role != "user")
                {
                    Add(partPath, Severity.Error, IssueCodes.InvalidContentPart, $"Images are allowed only in user messages, not in a {role} message.");
                }
                else if (!part.TryGetProperty("image_url", out var image) || image.ValueKind != JsonValueKind.Object
                    || !image.TryGetProperty("url", out var url) || url.ValueKind != JsonValueKind.String || url.StringByteLength() == 0)
                {
                    Add(partPath + ".image_url", Severity.Error, IssueCodes.InvalidContentPart, "An image_url part needs {\"image_url\": {\"url\": \"https://… or data:image/…\"}}.");
                }
                else if (image.TryGetProperty("detail", out var detail)
                    && !(detail.ValueEquals("auto"u8) || detail.ValueEquals("low"u8) || detail.ValueEquals("high"u8)))
                {
                    Add(partPath + ".image_url.detail", Severity.Error, IssueCodes.InvalidContentPart, "\"detail\" must be auto, low or high.");
                }
            }
            else if (type.ValueEquals("refusal"u8) && role == "assistant")
            {
                // A refusal part is legal in assistant messages; it carries no trainable text of its own here.
            }
            else
            {
                Add(partPath + ".type", Severity.Error, IssueCodes.InvalidContentPart,
                    $"Content part type \"{Truncate(type.GetString()!)}\" is not supported in fine-tuning data (text, or image_url in user messages).");
            }
        }
        return tokens;
    }

    /// <param name="path">The message's path; <paramref name="suffix"/> leads to its content (joined only when reporting).</param>
    private void CheckReflection(ReadOnlySpan<char> text, string path, string suffix, ref ExampleFacts facts)
    {
        var parse = ReflectionParser.Parse(text, _options.Tags);
        foreach (var problem in parse.Problems)
        {
            Add(path + suffix, problem.Severity, problem.Code, $"{problem.Message} (at character {problem.Offset + 1})");
        }
        // An example is well-formed only if every trained assistant message is.
        facts.ReflectionValid = (!facts.ReflectionChecked || facts.ReflectionValid) && parse.IsValid;
        facts.ReflectionChecked = true;
        facts.Reflections += parse.Reflections.Count;
        var reflectionTokens = 0;
        foreach (var reflection in parse.Reflections)
        {
            reflectionTokens += _counter.Count(reflection.Of(text));
        }
        facts.ReflectionTokens += reflectionTokens;
        facts.OutputTokens += parse.Output is { } output ? _counter.Count(output.Of(text)) : 0;
        facts.ThinkingTokens += parse.Thinking is { } thinking ? Math.Max(0, _counter.Count(thinking.Of(text)) - reflectionTokens) : 0;
    }
}

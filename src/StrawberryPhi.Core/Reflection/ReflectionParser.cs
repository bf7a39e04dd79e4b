using StrawberryPhi.Core.Validation;

namespace StrawberryPhi.Core.Reflection;

/// <summary>A range of characters in the parsed text.</summary>
public readonly record struct TextRange(int Start, int Length)
{
    public int End => Start + Length;

    public ReadOnlySpan<char> Of(ReadOnlySpan<char> text) => text.Slice(Start, Length);
}

/// <summary>A way a text departs from the reflection format; <see cref="Offset"/> is a character index.</summary>
public sealed record ReflectionProblem(string Code, Severity Severity, int Offset, string Message);

/// <summary>The structure found in one text. Lenient: blocks are reported even when the text has problems.</summary>
public sealed class ReflectionParse
{
    internal ReflectionParse() { }

    public List<ReflectionProblem> Problems { get; } = [];

    public bool IsValid => Problems.TrueForAll(p => p.Severity != Severity.Error);

    /// <summary>Inside of the first thinking block (between its tags), if any.</summary>
    public TextRange? Thinking { get; internal set; }

    /// <summary>Inside of the first output block, if any.</summary>
    public TextRange? Output { get; internal set; }

    /// <summary>Insides of every reflection block, wherever it stood.</summary>
    public List<TextRange> Reflections { get; } = [];
}

/// <summary>
/// Parses the reflection format: <c>&lt;thinking&gt;…&lt;/thinking&gt;</c> (with <c>&lt;reflection&gt;</c> blocks only
/// inside it) followed by <c>&lt;output&gt;…&lt;/output&gt;</c>, with nothing but whitespace outside the tags.
/// Used for training data and, later, for model outputs.
/// </summary>
public static class ReflectionParser
{
    private enum TagKind { Thinking, Reflection, Output }

    private readonly record struct Tag(TagKind Kind, bool Closing, int Start, int End);

    public static ReflectionParse Parse(ReadOnlySpan<char> text, ReflectionTags tags)
    {
        var result = new ReflectionParse();
        var reported = new HashSet<string>(StringComparer.Ordinal);
        void Report(string code, int offset, string message, Severity severity = Severity.Error)
        {
            // One problem per code is enough to fix a message; more would only repeat it.
            if (reported.Add(code))
            {
                result.Problems.Add(new ReflectionProblem(code, severity, offset, message));
            }
        }

        var stack = new List<Tag>(4);
        var thinkingBlocks = 0;
        var outputBlocks = 0;
        var previousEnd = 0;

        foreach (var tag in FindTags(text, tags))
        {
            if (stack.Count == 0 && !text[previousEnd..tag.Start].IsWhiteSpace())
            {
                Report(IssueCodes.ReflectionTextOutsideTags, previousEnd + FirstNonWhiteSpace(text[previousEnd..tag.Start]),
                    "Text outside the tags: everything must sit inside the thinking or output block.");
            }
            previousEnd = tag.End;
            var name = NameOf(tag.Kind, tags);

            if (!tag.Closing)
            {
                if (stack.Exists(t => t.Kind == tag.Kind))
                {
                    Report(IssueCodes.ReflectionNestedTag, tag.Start, $"<{name}> is opened inside another <{name}>.");
                }
                else if (tag.Kind == TagKind.Reflection && !stack.Exists(t => t.Kind == TagKind.Thinking))
                {
                    Report(IssueCodes.ReflectionOutsideThinking, tag.Start, $"<{name}> must sit inside <{tags.Thinking}>.");
                }
                else if (tag.Kind != TagKind.Reflection && stack.Count > 0)
                {
                    Report(IssueCodes.ReflectionMisplacedTag, tag.Start,
                        $"<{name}> is opened inside <{NameOf(stack[^1].Kind, tags)}>; blocks must follow one another.");
                }

                if (tag.Kind == TagKind.Thinking)
                {
                    thinkingBlocks++;
                    if (outputBlocks > 0)
                    {
                        Report(IssueCodes.ReflectionWrongOrder, tag.Start, $"<{name}> comes after <{tags.Output}>; thinking goes first.");
                    }
                }
                else if (tag.Kind == TagKind.Output)
                {
                    outputBlocks++;
                }
                stack.Add(tag);
                continue;
            }

            var openIndex = stack.FindLastIndex(t => t.Kind == tag.Kind);
            if (openIndex < 0)
            {
                Report(IssueCodes.ReflectionUnexpectedClosingTag, tag.Start, $"</{name}> closes a block that is not open.");
                continue;
            }
            for (var i = stack.Count - 1; i > openIndex; i--)
            {
                Report(IssueCodes.ReflectionUnclosedTag, stack[i].Start, $"<{NameOf(stack[i].Kind, tags)}> is never closed.");
            }
            var open = stack[openIndex];
            stack.RemoveRange(openIndex, stack.Count - openIndex);
            var inner = new TextRange(open.End, tag.Start - open.End);
            switch (tag.Kind)
            {
                case TagKind.Thinking:
                    result.Thinking ??= inner;
                    break;
                case TagKind.Output:
                    result.Output ??= inner;
                    break;
                default:
                    result.Reflections.Add(inner);
                    break;
            }
        }

        if (!text[previousEnd..].IsWhiteSpace() && stack.Count == 0)
        {
            Report(IssueCodes.ReflectionTextOutsideTags, previousEnd + FirstNonWhiteSpace(text[previousEnd..]),
                "Text outside the tags: everything must sit inside the thinking or output block.");
        }
        foreach (var open in stack)
        {
            Report(IssueCodes.ReflectionUnclosedTag, open.Start, $"<{NameOf(open.Kind, tags)}> is never closed.");
        }
        if (thinkingBlocks == 0)
        {
            Report(IssueCodes.ReflectionMissingThinking, 0, $"No <{tags.Thinking}> block.");
        }
        if (outputBlocks == 0)
        {
            Report(IssueCodes.ReflectionMissingOutput, 0, $"No <{tags.Output}> block.");
        }
        if (thinkingBlocks > 1 || outputBlocks > 1)
        {
            Report(IssueCodes.ReflectionDuplicateBlock, 0,
                $"{thinkingBlocks} <{tags.Thinking}> and {outputBlocks} <{tags.Output}> blocks; expected one of each.");
        }
        if (result.Output is { } output && output.Of(text).IsWhiteSpace())
        {
            Report(IssueCodes.ReflectionEmptyOutput, output.Start, $"The <{tags.Output}> block is empty.", Severity.Warning);
        }
        return result;
    }

    private static int FirstNonWhiteSpace(ReadOnlySpan<char> text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            if (!char.IsWhiteSpace(text[i]))
            {
                return i;
            }
        }
        return 0;
    }

    private static string NameOf(TagKind kind, ReflectionTags tags) => kind switch
    {
        TagKind.Thinking => tags.Thinking,
        TagKind.Reflection => tags.Reflection,
        _ => tags.Output,
    };

    private static List<Tag> FindTags(ReadOnlySpan<char> text, ReflectionTags tags)
    {
        var found = new List<Tag>();
        var position = 0;
        while (true)
        {
            var index = text[position..].IndexOf('<');
            if (index < 0)
            {
                return found;
            }
            var start = position + index;
            var rest = text[(start + 1)..];
            var closing = rest.Length > 0 && rest[0] == '/';
            if (closing)
            {
                rest = rest[1..];
            }
            var matched = false;
            foreach (var kind in (ReadOnlySpan<TagKind>)[TagKind.Thinking, TagKind.Reflection, TagKind.Output])
            {
                var name = NameOf(kind, tags);
                if (rest.StartsWith(name, StringComparison.Ordinal) && rest.Length > name.Length && rest[name.Length] == '>')
                {
                    var end = start + 1 + (closing ? 1 : 0) + name.Length + 1;
                    found.Add(new Tag(kind, closing, start, end));
                    position = end;
                    matched = true;
                    break;
                }
            }
            if (!matched)
            {
                position = start + 1;
            }
        }
    }
}

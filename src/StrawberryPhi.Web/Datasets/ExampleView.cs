using System.Text.Json;
using StrawberryPhi.Core.Reflection;

namespace StrawberryPhi.Web.Datasets;

public enum SegmentKind
{
    Text,
    Thinking,
    Reflection,
    Output,
}

/// <summary>A piece of an assistant message in reflection form.</summary>
public sealed record Segment(SegmentKind Kind, string Text);

/// <summary>
/// One message ready to render. <see cref="Reflection"/> is set for assistant text that uses the reflection tags:
/// thinking (with its reflections as their own segments) and output.
/// </summary>
public sealed record MessageView(string Role, string Text, string? Name, int? Weight, IReadOnlyList<string> ToolCalls, ReflectionView? Reflection);

public sealed record ReflectionView(IReadOnlyList<Segment> Thinking, string? Output, int Reflections, IReadOnlyList<string> Problems);

/// <summary>An example line as a conversation (chat) or as a prompt with two answers (preference).</summary>
public sealed record ExampleView(long Line, string Raw, IReadOnlyList<MessageView> Messages, MessageView? Preferred, MessageView? NonPreferred, string? ParseError)
{
    public bool IsBlank => Raw.Length == 0;

    public static ExampleView Parse(long line, string raw, ReflectionTags tags)
    {
        if (string.IsNullOrWhiteSpace(raw))
        {
            return new ExampleView(line, "", [], null, null, null);
        }
        try
        {
            using var json = JsonDocument.Parse(raw);
            var root = json.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return new ExampleView(line, raw, [], null, null, $"The line is a JSON {root.ValueKind.ToString().ToLowerInvariant()}, not an object.");
            }
            if (root.TryGetProperty("input", out var input) && input.ValueKind == JsonValueKind.Object)
            {
                return new ExampleView(line, raw, ReadMessages(input, tags), First(root, "preferred_output", tags), First(root, "non_preferred_output", tags), null);
            }
            return new ExampleView(line, raw, ReadMessages(root, tags), null, null, root.TryGetProperty("messages", out _) ? null : "The line has no \"messages\" list.");
        }
        catch (JsonException e)
        {
            return new ExampleView(line, raw, [], null, null, StrawberryPhi.Core.Validation.JsonProblem.Describe(e));
        }
    }

    private static List<MessageView> ReadMessages(JsonElement owner, ReflectionTags tags)
    {
        var messages = new List<MessageView>();
        if (owner.TryGetProperty("messages", out var list) && list.ValueKind == JsonValueKind.Array)
        {
            foreach (var message in list.EnumerateArray())
            {
                messages.Add(Message(message, tags));
            }
        }
        return messages;
    }

    private static MessageView? First(JsonElement root, string name, ReflectionTags tags) =>
        root.TryGetProperty(name, out var list) && list.ValueKind == JsonValueKind.Array && list.GetArrayLength() > 0 ? Message(list[0], tags) : null;

    private static MessageView Message(JsonElement message, ReflectionTags tags)
    {
        if (message.ValueKind != JsonValueKind.Object)
        {
            return new MessageView("?", message.GetRawText(), null, null, [], null);
        }
        var role = message.TryGetProperty("role", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString()! : "?";
        var text = Content(message);
        var name = message.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null;
        int? weight = message.TryGetProperty("weight", out var w) && w.TryGetInt32(out var value) ? value : null;
        var toolCalls = new List<string>();
        if (message.TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array)
        {
            foreach (var call in calls.EnumerateArray())
            {
                if (call.TryGetProperty("function", out var function) && function.ValueKind == JsonValueKind.Object)
                {
                    var callName = function.TryGetProperty("name", out var fn) ? fn.ToString() : "?";
                    var arguments = function.TryGetProperty("arguments", out var args) ? args.ToString() : "";
                    toolCalls.Add($"{callName}({arguments})");
                }
            }
        }
        var reflection = role == "assistant" && (text.Contains($"<{tags.Thinking}>", StringComparison.Ordinal) || text.Contains($"<{tags.Output}>", StringComparison.Ordinal))
            ? Reflection(text, tags)
            : null;
        return new MessageView(role, text, name, weight, toolCalls, reflection);
    }

    private static string Content(JsonElement message)
    {
        if (!message.TryGetProperty("content", out var content))
        {
            return "";
        }
        return content.ValueKind switch
        {
            JsonValueKind.String => content.GetString()!,
            JsonValueKind.Array => string.Join("\n", content.EnumerateArray().Select(part =>
                part.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()
                : part.TryGetProperty("image_url", out var image) ? $"[image: {(image.ValueKind == JsonValueKind.Object && image.TryGetProperty("url", out var url) ? Shorten(url.ToString()) : "?")}]"
                : part.GetRawText())),
            JsonValueKind.Null => "",
            _ => content.GetRawText(),
        };
    }

    public static ReflectionView Reflection(string text, ReflectionTags tags)
    {
        var parse = ReflectionParser.Parse(text, tags);
        var thinking = new List<Segment>();
        var open = $"<{tags.Reflection}>";
        var close = $"</{tags.Reflection}>";
        if (parse.Thinking is { } range)
        {
            var position = range.Start;
            foreach (var reflection in parse.Reflections.Where(r => r.Start >= range.Start && r.End <= range.End).OrderBy(r => r.Start))
            {
                // Ranges are the insides of the blocks: the tags sit just outside them.
                Add(thinking, SegmentKind.Thinking, text[position..Math.Max(position, reflection.Start - open.Length)]);
                Add(thinking, SegmentKind.Reflection, text[reflection.Start..reflection.End]);
                position = Math.Min(range.End, reflection.End + close.Length);
            }
            Add(thinking, SegmentKind.Thinking, text[position..range.End]);
        }
        var output = parse.Output is { } o ? text[o.Start..o.End].Trim() : null;
        return new ReflectionView(thinking, output, parse.Reflections.Count, parse.Problems.Select(p => p.Message).ToList());
    }

    private static void Add(List<Segment> segments, SegmentKind kind, string text)
    {
        if (!string.IsNullOrWhiteSpace(text))
        {
            segments.Add(new Segment(kind, text.Trim()));
        }
    }

    private static string Shorten(string url) => url.Length > 60 ? url[..60] + "…" : url;
}

using System.Text.Json;
using System.Text.Json.Nodes;

namespace StrawberryPhi.Core.Evaluation;

/// <summary>A chat message of an evaluation item.</summary>
public sealed record EvalMessage(string Role, string Content);

/// <summary>One item of an evaluation set: what is sent, what a right answer is, and where it came from.</summary>
/// <param name="Id">The item's own <c>id</c>, or <c>line-N</c>.</param>
/// <param name="Metadata">The item's <c>metadata</c> object as JSON, if it had one.</param>
public sealed record EvalItem(string Id, IReadOnlyList<EvalMessage> Messages, string Reference, string? Metadata);

/// <summary>A line that cannot be an item, with what is wrong and where.</summary>
public sealed record EvalSetProblem(long Line, string Field, string Message)
{
    public override string ToString() => $"line {Line}, {Field}: {Message}";
}

public sealed record EvalSetRead(IReadOnlyList<EvalItem> Items, IReadOnlyList<EvalSetProblem> Problems);

/// <summary>
/// Reads evaluation sets: JSONL lines with <c>messages</c> (or a <c>prompt</c> string) and a <c>reference</c>
/// (a string or a number; GSM8K's <c>#### 42</c> is understood when graded), optional <c>id</c> and <c>metadata</c>;
/// or a chat dataset, whose last assistant message becomes the reference and the turns before it the prompt.
/// </summary>
public static class EvalSets
{
    /// <summary>Items larger than this are refused (a set is sent item by item to models).</summary>
    public const int MaxItems = 100_000;

    public static EvalSetRead Read(TextReader reader) => ReadLines(reader, Item);

    /// <summary>Reads a chat JSONL dataset as an evaluation set.</summary>
    public static EvalSetRead FromChat(TextReader reader) => ReadLines(reader, ChatItem);

    private static EvalSetRead ReadLines(TextReader reader, Func<JsonObject, long, List<EvalSetProblem>, EvalItem?> parse)
    {
        var items = new List<EvalItem>();
        var problems = new List<EvalSetProblem>();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        long number = 0;
        while (reader.ReadLine() is { } line)
        {
            number++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }
            JsonObject? node;
            try
            {
                node = JsonNode.Parse(line) as JsonObject;
            }
            catch (JsonException e)
            {
                problems.Add(new(number, "line", $"not valid JSON ({e.Message})"));
                continue;
            }
            if (node is null)
            {
                problems.Add(new(number, "line", "not a JSON object"));
                continue;
            }
            if (parse(node, number, problems) is not { } item)
            {
                continue;
            }
            if (!ids.Add(item.Id))
            {
                problems.Add(new(number, "id", $"\"{item.Id}\" is already the id of an earlier item"));
                continue;
            }
            if (items.Count == MaxItems)
            {
                problems.Add(new(number, "line", $"a set holds at most {MaxItems:N0} items"));
                break;
            }
            items.Add(item);
        }
        if (items.Count == 0 && problems.Count == 0)
        {
            problems.Add(new(0, "file", "the file has no items"));
        }
        return new EvalSetRead(items, problems);
    }

    private static EvalItem? Item(JsonObject node, long line, List<EvalSetProblem> problems)
    {
        var before = problems.Count;
        List<EvalMessage>? messages = null;
        if (node["messages"] is { } raw)
        {
            messages = Messages(raw, line, problems);
        }
        else if (node["prompt"] is JsonValue prompt && prompt.TryGetValue<string>(out var text) && text.Length > 0)
        {
            messages = [new EvalMessage("user", text)];
        }
        else
        {
            problems.Add(new(line, node["prompt"] is null ? "messages" : "prompt", "an item needs \"messages\" (an array of {role, content}) or \"prompt\" (a non-empty string)"));
        }
        var reference = node["reference"] switch
        {
            JsonValue v when v.TryGetValue<string>(out var s) => s,
            JsonValue v when v.GetValueKind() == JsonValueKind.Number => v.ToJsonString(),
            null => null,
            _ => null,
        };
        if (reference is null)
        {
            problems.Add(new(line, "reference", node["reference"] is null ? "missing: each item needs the right answer (a string or a number)" : "must be a string or a number"));
        }
        var id = node["id"] switch
        {
            null => $"line-{line}",
            JsonValue v when v.TryGetValue<string>(out var s) && s.Length is > 0 and <= 200 => s,
            JsonValue v when v.GetValueKind() == JsonValueKind.Number => v.ToJsonString(),
            _ => null,
        };
        if (id is null)
        {
            problems.Add(new(line, "id", "must be a string of 1 to 200 characters or a number"));
        }
        if (node["metadata"] is { } metadata && metadata is not JsonObject)
        {
            problems.Add(new(line, "metadata", "must be an object"));
        }
        return problems.Count > before ? null : new EvalItem(id!, messages!, reference!, node["metadata"]?.ToJsonString());
    }

    private static EvalItem? ChatItem(JsonObject node, long line, List<EvalSetProblem> problems)
    {
        if (node["messages"] is not { } raw)
        {
            problems.Add(new(line, "messages", "a chat dataset line needs \"messages\""));
            return null;
        }
        if (Messages(raw, line, problems) is not { } messages)
        {
            return null;
        }
        var last = messages.FindLastIndex(m => m.Role == "assistant");
        if (last < 1)
        {
            problems.Add(new(line, "messages", "needs an assistant message after the prompt: the last one becomes the reference"));
            return null;
        }
        return new EvalItem($"line-{line}", messages[..last], messages[last].Content, null);
    }

    private static List<EvalMessage>? Messages(JsonNode raw, long line, List<EvalSetProblem> problems)
    {
        if (raw is not JsonArray array || array.Count == 0)
        {
            problems.Add(new(line, "messages", "must be a non-empty array"));
            return null;
        }
        var messages = new List<EvalMessage>();
        for (var i = 0; i < array.Count; i++)
        {
            var role = array[i]?["role"] is JsonValue r && r.TryGetValue<string>(out var rs) ? rs : null;
            if (role is not ("system" or "developer" or "user" or "assistant"))
            {
                problems.Add(new(line, $"messages[{i}].role", "must be system, developer, user or assistant"));
                return null;
            }
            var content = array[i]?["content"] switch
            {
                JsonValue v when v.TryGetValue<string>(out var s) => s,
                JsonArray parts => string.Concat(parts.Select(p => p?["text"] is JsonValue t && t.TryGetValue<string>(out var s) ? s : "")),
                _ => null,
            };
            if (content is null)
            {
                problems.Add(new(line, $"messages[{i}].content", "must be a string or an array of text parts"));
                return null;
            }
            messages.Add(new EvalMessage(role, content));
        }
        if (messages[^1].Role == "assistant" && messages.Count(m => m.Role != "system" && m.Role != "developer") == 1)
        {
            problems.Add(new(line, "messages", "holds only an assistant message: there is nothing to ask"));
            return null;
        }
        return messages;
    }
}

/// <summary>A judge model's verdict on an answer.</summary>
public sealed record Verdict(double Score, bool Pass, string Reason);

/// <summary>
/// Model-as-judge: the prompt that asks a model to grade an answer against a reference with a rubric, and the reading
/// of its verdict (a JSON object with <c>score</c> 0–1, <c>pass</c> and <c>reason</c>, possibly inside other text).
/// </summary>
public static class Judge
{
    public const string DefaultRubric = "The answer is right when it states the same final result as the reference; wording, working and format do not matter.";

    public static IReadOnlyList<EvalMessage> Prompt(string question, string answer, string reference, string? rubric) =>
    [
        new("system", "You grade answers. Reply with one JSON object and nothing else: {\"score\": a number from 0 to 1, \"pass\": true or false, \"reason\": one sentence}."),
        new("user", $"Rubric: {rubric ?? DefaultRubric}\n\nQuestion:\n{question}\n\nReference answer:\n{reference}\n\nAnswer to grade:\n{answer}"),
    ];

    /// <summary>Reads the first JSON object in <paramref name="reply"/> that has a verdict; null (with why) when none does.</summary>
    public static (Verdict? Verdict, string Problem) Read(string reply, double passThreshold = 0.5)
    {
        for (var start = reply.IndexOf('{'); start >= 0; start = reply.IndexOf('{', start + 1))
        {
            var reader = new Utf8JsonReader(System.Text.Encoding.UTF8.GetBytes(reply[start..]), new JsonReaderOptions { AllowTrailingCommas = true });
            JsonObject? node;
            try
            {
                node = JsonNode.Parse(ref reader) as JsonObject;
            }
            catch (JsonException)
            {
                continue;
            }
            if (node is null)
            {
                continue;
            }
            double? score = node["score"] is JsonValue s && s.GetValueKind() == JsonValueKind.Number ? s.GetValue<double>() : null;
            bool? pass = node["pass"] is JsonValue p && p.GetValueKind() is JsonValueKind.True or JsonValueKind.False ? p.GetValue<bool>() : null;
            if (score is null && pass is null)
            {
                continue;
            }
            var clamped = Math.Clamp(score ?? (pass == true ? 1 : 0), 0, 1);
            var reason = node["reason"] is JsonValue r && r.TryGetValue<string>(out var text) && text.Length > 0 ? text : "the judge gave no reason";
            return (new Verdict(clamped, pass ?? clamped >= passThreshold, reason), "");
        }
        var shown = reply.Length > 120 ? reply[..120] + "…" : reply;
        return (null, $"the judge's reply has no verdict (a JSON object with score or pass): \"{shown}\"");
    }
}

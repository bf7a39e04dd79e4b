using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using StrawberryPhi.Core.Datasets;
using StrawberryPhi.Core.Tokens;

namespace StrawberryPhi.Core.Validation;

/// <summary>The kind of examples a JSONL dataset holds.</summary>
public enum DatasetKind
{
    Chat,
    Preference,
}

/// <summary>What one line contributed to the dataset statistics.</summary>
internal struct ExampleFacts
{
    public long Line;
    public bool Blank;
    public bool Counted;
    public int Tokens;
    public int AssistantTokens;
    public ulong Hash;
    public ulong SystemHash;
    public bool HasSystem;
    public bool HasUser;
    public bool ReflectionChecked;
    public bool ReflectionValid;
    public int Reflections;
    public int ThinkingTokens;
    public int ReflectionTokens;
    public int OutputTokens;
}

/// <summary>
/// Checks one line of a dataset and measures it. One instance per worker thread: it owns a token counter, a hasher
/// and scratch buffers, and is not thread-safe.
/// </summary>
internal sealed partial class ExampleInspector
{
    private const int TokensPerMessage = 3;
    private const int TokensPerName = 1;
    private const int TokensForReply = 3;

    private static readonly string[] SystemKeys = ["role", "content", "name"];
    private static readonly string[] UserKeys = ["role", "content", "name"];
    private static readonly string[] AssistantKeys = ["role", "content", "name", "weight", "tool_calls", "function_call", "refusal"];
    private static readonly string[] ToolKeys = ["role", "content", "tool_call_id"];
    private static readonly string[] FunctionKeys = ["role", "content", "name"];
    private static readonly string[] ChatExampleKeys = ["messages", "tools", "parallel_tool_calls", "functions"];
    private static readonly string[] PreferenceExampleKeys = ["input", "preferred_output", "non_preferred_output"];
    private static readonly string[] PreferenceInputKeys = ["messages", "tools", "parallel_tool_calls"];

    private static readonly string[] ChatMessagePaths = [.. Enumerable.Range(0, 64).Select(i => $"$.messages[{i}]")];
    private static readonly string[] InputMessagePaths = [.. Enumerable.Range(0, 64).Select(i => $"$.input.messages[{i}]")];

    private readonly ValidationOptions _options;
    private readonly TokenCounter _counter;
    private readonly XxHash3 _hash = new();
    private readonly XxHash3 _systemHash = new();
    private readonly HashSet<string> _toolCallIds = new(StringComparer.Ordinal);
    private char[] _chars = new char[4096];
    private List<Issue> _issues = [];
    private long _line;

    public ExampleInspector(ValidationOptions options)
    {
        _options = options;
        _counter = new TokenCounter(options.Encoding);
    }

    public ExampleFacts Inspect(ReadOnlyMemory<byte> line, long lineNumber, DatasetKind kind, List<Issue> issues)
    {
        _issues = issues;
        _line = lineNumber;
        var facts = new ExampleFacts { Line = lineNumber };
        var bytes = line.Span;

        if (bytes.Trim(" \t\r\n"u8).IsEmpty)
        {
            facts.Blank = true;
            Add("$", Severity.Warning, IssueCodes.BlankLine, "Blank line between examples; remove it (strict JSONL readers reject empty lines).");
            return facts;
        }
        if (!System.Text.Unicode.Utf8.IsValid(bytes))
        {
            var column = FirstInvalidUtf8(bytes) + 1;
            Add("$", Severity.Error, IssueCodes.InvalidUtf8, $"Invalid UTF-8 at byte {column} of the line; the file must be UTF-8 text.");
            return facts;
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(line, new JsonDocumentOptions { MaxDepth = 256 });
        }
        catch (JsonException e)
        {
            Add("$", Severity.Error, IssueCodes.InvalidJson, JsonProblem.Describe(e));
            return facts;
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                Add("$", Severity.Error, IssueCodes.DataType, $"The line is a JSON {Describe(root.ValueKind)}; each line must be one JSON object.");
                return facts;
            }
            facts.Hash = ExampleHasher.Hash(root, _hash);
            if (kind == DatasetKind.Preference)
            {
                InspectPreference(root, ref facts);
            }
            else
            {
                InspectChat(root, ref facts);
            }
        }

        if (facts.Counted && facts.Tokens > _options.TokenLimit)
        {
            Add("$", Severity.Warning, IssueCodes.ExampleOverTokenLimit,
                $"{facts.Tokens:N0} tokens, over the model's limit of {_options.TokenLimit:N0}; the provider truncates it to the limit.");
        }
        return facts;
    }

    private void InspectChat(JsonElement root, ref ExampleFacts facts)
    {
        UnrecognizedExampleKeys(root, "$", ChatExampleKeys);
        CheckTools(root, "$");
        if (!root.TryGetProperty("messages", out var messages) || messages.ValueKind != JsonValueKind.Array || messages.GetArrayLength() == 0)
        {
            var why = !root.TryGetProperty("messages", out messages) ? "The example has no \"messages\" list."
                : messages.ValueKind != JsonValueKind.Array ? $"\"messages\" is a {Describe(messages.ValueKind)}, not a list."
                : "\"messages\" is empty.";
            Add("$.messages", Severity.Error, IssueCodes.MissingMessagesList, why);
            return;
        }

        var summary = InspectMessages(messages, "$.messages", requireAssistant: true, ref facts);
        facts.Counted = true;
        facts.Tokens = summary.Tokens + TokensForReply + ToolsTokens(root);
        facts.AssistantTokens = summary.AssistantTokens;
        if (!facts.HasSystem)
        {
            Add("$.messages", Severity.Info, IssueCodes.MissingSystemMessage, "No system message.");
        }
        if (!facts.HasUser)
        {
            Add("$.messages", Severity.Warning, IssueCodes.MissingUserMessage, "No user message.");
        }
    }

    private readonly record struct MessagesSummary(int Tokens, int AssistantTokens);

    private MessagesSummary InspectMessages(JsonElement messages, string basePath, bool requireAssistant, ref ExampleFacts facts)
    {
        var tokens = 0;
        var assistantTokens = 0;
        var assistants = 0;
        var trainedAssistants = 0;
        _toolCallIds.Clear();
        var paths = basePath == "$.messages" ? ChatMessagePaths : InputMessagePaths;
        var index = 0;
        foreach (var message in messages.EnumerateArray())
        {
            var path = index < paths.Length ? paths[index] : $"{basePath}[{index}]";
            index++;
            if (message.ValueKind != JsonValueKind.Object)
            {
                Add(path, Severity.Error, IssueCodes.DataType, $"The message is a JSON {Describe(message.ValueKind)}, not an object.");
                continue;
            }
            tokens += MessageTokens(message);

            if (!message.TryGetProperty("role", out var roleElement))
            {
                Add(path, Severity.Error, IssueCodes.MessageMissingKey, "The message has no \"role\".");
                tokens += ContentTokens(message);
                continue;
            }
            if (roleElement.ValueKind != JsonValueKind.String)
            {
                Add(path + ".role", Severity.Error, IssueCodes.UnrecognizedRole, $"\"role\" is a {Describe(roleElement.ValueKind)}; it must be one of system, user, assistant, tool.");
                tokens += ContentTokens(message);
                continue;
            }
            var role = RoleOf(roleElement);
            string[]? allowed = role switch
            {
                "system" => SystemKeys,
                "user" => UserKeys,
                "assistant" => AssistantKeys,
                "tool" => ToolKeys,
                "function" => FunctionKeys,
                _ => null,
            };
            if (allowed is null)
            {
                Add(path + ".role", Severity.Error, IssueCodes.UnrecognizedRole, $"Role \"{Truncate(roleElement.GetString()!)}\" is not one of system, user, assistant, tool.");
                tokens += ContentTokens(message);
                continue;
            }
            foreach (var property in message.EnumerateObject())
            {
                if (!IsOneOf(property, allowed))
                {
                    var why = property.Name == "audio" ? "Audio is not supported in fine-tuning data." : $"A {role} message may only have {string.Join(", ", allowed)}.";
                    Add($"{path}.{property.Name}", Severity.Error, IssueCodes.MessageUnrecognizedKey, $"Unrecognized key \"{Truncate(property.Name)}\". {why}");
                }
            }
            CheckName(message, path);

            var hasToolCalls = false;
            switch (role)
            {
                case "system":
                    if (!facts.HasSystem)
                    {
                        facts.HasSystem = true;
                        _systemHash.Reset();
                        if (message.TryGetProperty("content", out var systemContent))
                        {
                            _systemHash.Append(JsonMarshal.GetRawUtf8Value(systemContent));
                        }
                        facts.SystemHash = _systemHash.GetCurrentHashAsUInt64() | 1;
                    }
                    break;
                case "user":
                    facts.HasUser = true;
                    break;
                case "assistant":
                    assistants++;
                    hasToolCalls = CheckToolCalls(message, path);
                    if (message.TryGetProperty("function_call", out _))
                    {
                        hasToolCalls = true;
                        Add(path + ".function_call", Severity.Warning, IssueCodes.DeprecatedFunctionCall, "\"function_call\" is deprecated; use \"tool_calls\".");
                    }
                    if (CheckWeight(message, path))
                    {
                        trainedAssistants++;
                    }
                    break;
                case "tool":
                    CheckToolCallId(message, path);
                    break;
                case "function":
                    Add(path + ".role", Severity.Warning, IssueCodes.DeprecatedFunctionCall, "The \"function\" role is deprecated; use \"tool\" messages.");
                    break;
            }

            var trained = role == "assistant" && IsTrained(message);
            var contentTokens = CheckContent(message, path, role!, hasToolCalls, trained, ref facts);
            tokens += contentTokens;
            if (role == "assistant")
            {
                assistantTokens += contentTokens;
            }
        }

        if (requireAssistant && assistants == 0)
        {
            Add(basePath, Severity.Error, IssueCodes.ExampleMissingAssistantMessage, "No assistant message: there is nothing to train on.");
        }
        else if (requireAssistant && trainedAssistants == 0)
        {
            Add(basePath, Severity.Warning, IssueCodes.NoTrainedAssistantMessage, "Every assistant message has weight 0: this example trains nothing.");
        }
        return new MessagesSummary(tokens, assistantTokens);
    }

    private void UnrecognizedExampleKeys(JsonElement element, string path, string[] allowed)
    {
        foreach (var property in element.EnumerateObject())
        {
            if (!IsOneOf(property, allowed))
            {
                Add($"{path}.{property.Name}", Severity.Warning, IssueCodes.ExampleUnrecognizedKey,
                    $"Unrecognized key \"{Truncate(property.Name)}\"; expected {string.Join(", ", allowed)}.");
            }
        }
    }

    /// <summary>The role as one of our interned names, or null (no allocation for the known roles).</summary>
    private static string? RoleOf(JsonElement role) =>
        role.ValueEquals("user"u8) ? "user"
        : role.ValueEquals("assistant"u8) ? "assistant"
        : role.ValueEquals("system"u8) ? "system"
        : role.ValueEquals("tool"u8) ? "tool"
        : role.ValueEquals("function"u8) ? "function"
        : null;

    private static bool IsOneOf(JsonProperty property, string[] names)
    {
        foreach (var name in names)
        {
            if (property.NameEquals(name))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>The unescaped characters of a JSON string, in a scratch buffer valid until the next call.</summary>
    private ReadOnlySpan<char> Chars(JsonElement value)
    {
        var raw = JsonMarshal.GetRawUtf8Value(value);
        var inner = raw[1..^1];
        if (_chars.Length < inner.Length)
        {
            _chars = new char[Math.Max(inner.Length, _chars.Length * 2)];
        }
        if (inner.IndexOf((byte)'\\') < 0)
        {
            return _chars.AsSpan(0, Encoding.UTF8.GetChars(inner, _chars));
        }
        var reader = new Utf8JsonReader(raw);
        reader.Read();
        return _chars.AsSpan(0, reader.CopyString(_chars));
    }

    private void Add(string path, Severity severity, string code, string message) =>
        _issues.Add(new Issue(_line, path, severity, code, message));

    private static string Truncate(string text) => text.Length <= 40 ? text : string.Concat(text.AsSpan(0, 40), "…");

    internal static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "object",
        JsonValueKind.Array => "list",
        JsonValueKind.String => "string",
        JsonValueKind.Number => "number",
        JsonValueKind.True or JsonValueKind.False => "boolean",
        JsonValueKind.Null => "null",
        _ => "value",
    };

    private static int FirstInvalidUtf8(ReadOnlySpan<byte> bytes)
    {
        var position = 0;
        while (position < bytes.Length)
        {
            var status = System.Text.Rune.DecodeFromUtf8(bytes[position..], out _, out var consumed);
            if (status != System.Buffers.OperationStatus.Done)
            {
                return position;
            }
            position += consumed;
        }
        return 0;
    }
}

internal static class JsonElementExtensions
{
    /// <summary>Length in raw bytes of a string value without its quotes (0 means the empty string).</summary>
    public static int StringByteLength(this JsonElement stringValue) =>
        JsonMarshal.GetRawUtf8Value(stringValue).Length - 2;
}

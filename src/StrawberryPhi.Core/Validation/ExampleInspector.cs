using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using StrawberryPhi.Core.Datasets;
using StrawberryPhi.Core.Reflection;
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
internal sealed class ExampleInspector
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

    /// <summary>
    /// The Cookbook's count for one message, without its content: 3, plus each other string value, plus 1 for a
    /// name. Content is counted once, where it is checked (<see cref="CheckContent"/>) or by <see cref="ContentTokens"/>.
    /// </summary>
    private int MessageTokens(JsonElement message)
    {
        var tokens = TokensPerMessage;
        foreach (var property in message.EnumerateObject())
        {
            var value = property.Value;
            if (property.NameEquals("content"u8))
            {
                continue;
            }
            switch (value.ValueKind)
            {
                case JsonValueKind.String:
                    tokens += _counter.Count(Chars(value));
                    if (property.NameEquals("name"u8))
                    {
                        tokens += TokensPerName;
                    }
                    break;
                case JsonValueKind.Array when property.NameEquals("tool_calls"u8):
                    foreach (var call in value.EnumerateArray())
                    {
                        if (call.ValueKind == JsonValueKind.Object && call.TryGetProperty("function", out var function) && function.ValueKind == JsonValueKind.Object)
                        {
                            foreach (var field in function.EnumerateObject())
                            {
                                if (field.Value.ValueKind == JsonValueKind.String)
                                {
                                    tokens += _counter.Count(Chars(field.Value));
                                }
                            }
                        }
                    }
                    break;
            }
        }
        return tokens;
    }

    /// <summary>Tokens of a message's content (a string, or the text of its parts) when it is not checked further.</summary>
    private int ContentTokens(JsonElement message)
    {
        if (!message.TryGetProperty("content", out var content))
        {
            return 0;
        }
        if (content.ValueKind == JsonValueKind.String)
        {
            return _counter.Count(Chars(content));
        }
        var tokens = 0;
        if (content.ValueKind == JsonValueKind.Array)
        {
            foreach (var part in content.EnumerateArray())
            {
                if (part.ValueKind == JsonValueKind.Object && part.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String)
                {
                    tokens += _counter.Count(Chars(text));
                }
            }
        }
        return tokens;
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

    /// <summary>Tool definitions count as the tokens of their JSON text (an approximation; the Cookbook ignores them).</summary>
    private int ToolsTokens(JsonElement root) =>
        root.TryGetProperty("tools", out var tools) && tools.ValueKind == JsonValueKind.Array
            ? _counter.CountUtf8(JsonMarshal.GetRawUtf8Value(tools))
            : 0;

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

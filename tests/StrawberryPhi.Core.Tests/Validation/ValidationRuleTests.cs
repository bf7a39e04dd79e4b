using StrawberryPhi.Core.Validation;

namespace StrawberryPhi.Core.Tests.Validation;

/// <summary>Every line-level code: the smallest line that triggers it, and a near twin that must not.</summary>
public class ValidationRuleTests
{
    public static TheoryData<string, string, string, string> ChatCases => new()
    {
        // code, path, triggering line, near twin that must not trigger
        { IssueCodes.DataType, "$", """[1, 2]""", """{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}""" },
        { IssueCodes.DataType, "$.messages[0]", """{"messages":["hi",{"role":"assistant","content":"b"}]}""", """{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"b"}]}""" },
        { IssueCodes.MissingMessagesList, "$.messages", """{"conversation":[]}""", """{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}""" },
        { IssueCodes.MissingMessagesList, "$.messages", """{"messages":[]}""", """{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}""" },
        { IssueCodes.MissingMessagesList, "$.messages", """{"messages":"hi"}""", """{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}""" },
        { IssueCodes.MessageMissingKey, "$.messages[0]", """{"messages":[{"content":"a"},{"role":"assistant","content":"b"}]}""", """{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}""" },
        { IssueCodes.MessageMissingKey, "$.messages[1]", """{"messages":[{"role":"user","content":"a"},{"role":"assistant"}]}""", """{"messages":[{"role":"user","content":"a"},{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c1","content":"1"},{"role":"assistant","content":"done"}]}""" },
        { IssueCodes.MessageUnrecognizedKey, "$.messages[0].foo", """{"messages":[{"role":"user","content":"a","foo":1},{"role":"assistant","content":"b"}]}""", """{"messages":[{"role":"user","content":"a","name":"ann"},{"role":"assistant","content":"b","weight":1}]}""" },
        { IssueCodes.MessageUnrecognizedKey, "$.messages[0].weight", """{"messages":[{"role":"user","content":"a","weight":1},{"role":"assistant","content":"b"}]}""", """{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b","weight":0},{"role":"user","content":"c"},{"role":"assistant","content":"d"}]}""" },
        { IssueCodes.MessageUnrecognizedKey, "$.messages[1].audio", """{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b","audio":{"id":"x"}}]}""", """{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b","refusal":null}]}""" },
        { IssueCodes.UnrecognizedRole, "$.messages[0].role", """{"messages":[{"role":"bot","content":"a"},{"role":"assistant","content":"b"}]}""", """{"messages":[{"role":"system","content":"a"},{"role":"user","content":"q"},{"role":"assistant","content":"b"}]}""" },
        { IssueCodes.UnrecognizedRole, "$.messages[0].role", """{"messages":[{"role":"developer","content":"a"},{"role":"assistant","content":"b"}]}""", """{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}""" },
        { IssueCodes.MissingContent, "$.messages[0].content", """{"messages":[{"role":"user","content":""},{"role":"assistant","content":"b"}]}""", """{"messages":[{"role":"user","content":" "},{"role":"assistant","content":"b"}]}""" },
        { IssueCodes.MissingContent, "$.messages[1].content", """{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":null}]}""", """{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":"ok"},{"role":"assistant","content":"b"}]}""" },
        { IssueCodes.InvalidContentType, "$.messages[0].content", """{"messages":[{"role":"user","content":42},{"role":"assistant","content":"b"}]}""", """{"messages":[{"role":"user","content":"42"},{"role":"assistant","content":"b"}]}""" },
        { IssueCodes.InvalidContentPart, "$.messages[1].content[0]", """{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}]}""", """{"messages":[{"role":"user","content":[{"type":"text","text":"what is this?"},{"type":"image_url","image_url":{"url":"https://x/y.png","detail":"low"}}]},{"role":"assistant","content":[{"type":"text","text":"a cat"}]}]}""" },
        { IssueCodes.InvalidContentPart, "$.messages[0].content[0].type", """{"messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{}}]},{"role":"assistant","content":"b"}]}""", """{"messages":[{"role":"user","content":[{"type":"text","text":"hi"}]},{"role":"assistant","content":"b"}]}""" },
        { IssueCodes.InvalidName, "$.messages[0].name", """{"messages":[{"role":"user","content":"a","name":"Ann Smith"},{"role":"assistant","content":"b"}]}""", """{"messages":[{"role":"user","content":"a","name":"Ann_Smith-2"},{"role":"assistant","content":"b"}]}""" },
        { IssueCodes.InvalidWeight, "$.messages[1].weight", """{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b","weight":0.5}]}""", """{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b","weight":1}]}""" },
        { IssueCodes.InvalidToolCalls, "$.messages[1].tool_calls[0].function.arguments", """{"messages":[{"role":"user","content":"a"},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":{"x":1}}}]}]}""", """{"messages":[{"role":"user","content":"a"},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{\"x\":1}"}}]}]}""" },
        { IssueCodes.MissingToolCallId, "$.messages[2]", """{"messages":[{"role":"user","content":"a"},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","content":"1"},{"role":"assistant","content":"b"}]}""", """{"messages":[{"role":"user","content":"a"},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":"1"},{"role":"assistant","content":"b"}]}""" },
        { IssueCodes.UnknownToolCallId, "$.messages[2].tool_call_id", """{"messages":[{"role":"user","content":"a"},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"zz","content":"1"},{"role":"assistant","content":"b"}]}""", """{"messages":[{"role":"user","content":"a"},{"role":"assistant","tool_calls":[{"id":"zz","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"zz","content":"1"},{"role":"assistant","content":"b"}]}""" },
        { IssueCodes.InvalidTools, "$.tools[0]", """{"tools":[{"type":"function","function":{"name":"get weather"}}],"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}""", """{"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}],"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}""" },
        { IssueCodes.InvalidParallelToolCalls, "$.parallel_tool_calls", """{"parallel_tool_calls":"yes","messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}""", """{"parallel_tool_calls":false,"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}""" },
        { IssueCodes.DeprecatedFunctionCall, "$.messages[1].function_call", """{"messages":[{"role":"user","content":"a"},{"role":"assistant","function_call":{"name":"f","arguments":"{}"}}]}""", """{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}""" },
        { IssueCodes.ExampleUnrecognizedKey, "$.meta", """{"meta":{"id":1},"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}""", """{"tools":[],"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}""" },
        { IssueCodes.ExampleMissingAssistantMessage, "$.messages", """{"messages":[{"role":"user","content":"a"}]}""", """{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}""" },
        { IssueCodes.NoTrainedAssistantMessage, "$.messages", """{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b","weight":0}]}""", """{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b","weight":1}]}""" },
        { IssueCodes.MissingSystemMessage, "$.messages", """{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}""", """{"messages":[{"role":"system","content":"You are a careful tutor."},{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}""" },
        { IssueCodes.MissingUserMessage, "$.messages", """{"messages":[{"role":"system","content":"You are a careful tutor."},{"role":"assistant","content":"b"}]}""", """{"messages":[{"role":"system","content":"You are a careful tutor."},{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}""" },
        { IssueCodes.InvalidJson, "$", """{"messages": [""", """{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}""" },
        { IssueCodes.BlankLine, "$", "   ", """{"messages":[{"role":"user","content":"   "},{"role":"assistant","content":"b"}]}""" },
    };

    [Theory]
    [MemberData(nameof(ChatCases))]
    public void ValidateFile_ChatLine_ReportsCodeOnlyWhenTriggered(string code, string path, string bad, string good)
    {
        using var dir = new TempDirectory();
        var badReport = Validate(dir, "bad.jsonl", bad);
        var issue = Assert.Single(badReport.Issues, i => i.Code == code);
        Assert.Equal(6, issue.Line);
        Assert.Equal(path, issue.Path);
        Assert.False(string.IsNullOrWhiteSpace(issue.Message));

        var goodReport = Validate(dir, "good.jsonl", good);
        Assert.DoesNotContain(goodReport.Issues, i => i.Code == code);
    }

    public static TheoryData<string, string, string> PreferenceCases => new()
    {
        { IssueCodes.PreferenceMissingInput, """{"preferred_output":[{"role":"assistant","content":"a"}],"non_preferred_output":[{"role":"assistant","content":"b"}]}""", Examples.Preference(100) },
        { IssueCodes.PreferenceInvalidOutput, """{"input":{"messages":[{"role":"user","content":"q"}]},"preferred_output":[{"role":"assistant","content":"a"},{"role":"assistant","content":"c"}],"non_preferred_output":[{"role":"assistant","content":"b"}]}""", Examples.Preference(100) },
        { IssueCodes.PreferenceInvalidOutput, """{"input":{"messages":[{"role":"user","content":"q"}]},"preferred_output":[{"role":"user","content":"a"}],"non_preferred_output":[{"role":"assistant","content":"b"}]}""", Examples.Preference(100) },
        { IssueCodes.PreferenceIdenticalOutputs, """{"input":{"messages":[{"role":"user","content":"q"}]},"preferred_output":[{"role":"assistant","content":"same"}],"non_preferred_output":[{"role":"assistant","content":"same"}]}""", Examples.Preference(100) },
        { IssueCodes.PreferenceInputEndsWithAssistant, """{"input":{"messages":[{"role":"user","content":"q"},{"role":"assistant","content":"x"}]},"preferred_output":[{"role":"assistant","content":"a"}],"non_preferred_output":[{"role":"assistant","content":"b"}]}""", Examples.Preference(100) },
    };

    [Theory]
    [MemberData(nameof(PreferenceCases))]
    public void ValidateFile_PreferenceLine_ReportsCodeOnlyWhenTriggered(string code, string bad, string good)
    {
        using var dir = new TempDirectory();
        var badPath = dir.WriteLines("bad.jsonl", Examples.Filler(Examples.Preference).Take(5).Append(bad).Concat(Examples.Filler(i => Examples.Preference(i + 50))));
        var badReport = DatasetValidator.ValidateFile(badPath, new ValidationOptions());
        Assert.Equal(DatasetKind.Preference, badReport.Kind);
        Assert.Contains(badReport.Issues, i => i.Code == code && i.Line == 6);

        var goodPath = dir.WriteLines("good.jsonl", Examples.Filler(Examples.Preference).Take(5).Append(good).Concat(Examples.Filler(i => Examples.Preference(i + 50))));
        Assert.DoesNotContain(DatasetValidator.ValidateFile(goodPath, new ValidationOptions()).Issues, i => i.Code == code);
    }

    [Fact]
    public void ValidateFile_ValidPreferenceFile_HasNoErrorsAndCountsBothOutputs()
    {
        using var dir = new TempDirectory();
        var path = dir.WriteLines("pref.jsonl", Examples.Filler(Examples.Preference, 12));
        var report = DatasetValidator.ValidateFile(path, new ValidationOptions());
        Assert.Equal(0, report.Errors);
        Assert.Equal(12, report.Examples);
        Assert.True(report.Tokens.Assistant >= 24);
    }

    [Fact]
    public void ValidateFile_OverTokenLimit_WarnsAndCounts()
    {
        using var dir = new TempDirectory();
        var path = dir.WriteLines("long.jsonl", Examples.Filler());
        var report = DatasetValidator.ValidateFile(path, new ValidationOptions { TokenLimit = 30 });
        Assert.Equal(10, report.Counts[IssueCodes.ExampleOverTokenLimit]);
        Assert.Equal(10, report.Tokens.OverLimit);
        Assert.Contains("over the model's limit of 30", report.Issues.First(i => i.Code == IssueCodes.ExampleOverTokenLimit).Message);

        var fine = DatasetValidator.ValidateFile(path, new ValidationOptions { TokenLimit = 65_536 });
        Assert.False(fine.Counts.ContainsKey(IssueCodes.ExampleOverTokenLimit));
    }

    [Fact]
    public void ValidateFile_DuplicateExample_PointsAtFirstOccurrenceIgnoringWhitespace()
    {
        using var dir = new TempDirectory();
        var spaced = Examples.Chat(3).Replace(",", ", ", StringComparison.Ordinal).Replace(":", ": ", StringComparison.Ordinal);
        var path = dir.WriteLines("dup.jsonl", Examples.Filler().Append(spaced));
        var issue = Assert.Single(DatasetValidator.ValidateFile(path, new ValidationOptions()).Issues, i => i.Code == IssueCodes.DuplicateExample);
        Assert.Equal(11, issue.Line);
        Assert.Contains("line 3", issue.Message);
    }

    [Fact]
    public void ValidateFile_InconsistentSystemPrompts_OneDatasetWarningAtFirstDeviation()
    {
        using var dir = new TempDirectory();
        var other = Examples.Chat(99).Replace("You are a careful tutor.", "You are a pirate.", StringComparison.Ordinal);
        var path = dir.WriteLines("sys.jsonl", Examples.Filler().Take(4).Append(other).Concat(Examples.Filler(i => Examples.Chat(i + 20))));
        var issue = Assert.Single(DatasetValidator.ValidateFile(path, new ValidationOptions()).Issues, i => i.Code == IssueCodes.InconsistentSystemPrompt);
        Assert.Equal(5, issue.Line);
        Assert.Contains("2 different system prompts", issue.Message);

        var same = dir.WriteLines("same.jsonl", Examples.Filler());
        Assert.DoesNotContain(DatasetValidator.ValidateFile(same, new ValidationOptions()).Issues, i => i.Code == IssueCodes.InconsistentSystemPrompt);
    }

    [Fact]
    public void ValidateFile_TooFewExamples_ErrorUnlessTen()
    {
        using var dir = new TempDirectory();
        var nine = DatasetValidator.ValidateFile(dir.WriteLines("nine.jsonl", Examples.Filler(count: 9)), new ValidationOptions());
        var issue = Assert.Single(nine.Issues, i => i.Code == IssueCodes.TooFewExamples);
        Assert.Equal("9 examples; a training file needs at least 10.", issue.Message);
        var ten = DatasetValidator.ValidateFile(dir.WriteLines("ten.jsonl", Examples.Filler(count: 10)), new ValidationOptions());
        Assert.Equal(0, ten.Errors);
        Assert.Empty(ten.Issues);
    }

    [Fact]
    public void ValidateFile_ManyIssues_CountsAllKeepsConfiguredNumberPerCode()
    {
        using var dir = new TempDirectory();
        var path = dir.WriteLines("bad.jsonl", Enumerable.Range(0, 50).Select(i => $"{{\"messages\":[{{\"role\":\"bot{i}\",\"content\":\"a\"}},{{\"role\":\"assistant\",\"content\":\"b\"}}]}}"));
        var report = DatasetValidator.ValidateFile(path, new ValidationOptions { MaxIssuesPerCode = 7 });
        Assert.Equal(50, report.Counts[IssueCodes.UnrecognizedRole]);
        Assert.Equal(7, report.Issues.Count(i => i.Code == IssueCodes.UnrecognizedRole));
        Assert.Equal([1L, 2, 3, 4, 5, 6, 7], report.Issues.Where(i => i.Code == IssueCodes.UnrecognizedRole).Select(i => i.Line));
    }

    [Fact]
    public void ValidateFile_OneThreadOrTwoWithTinyBatches_IdenticalReports()
    {
        using var dir = new TempDirectory();
        var lines = Enumerable.Range(0, 400).Select(i => i % 37 == 0 ? "{oops" : i % 41 == 0 ? Examples.Chat(1) : Examples.Reflection(i));
        var path = dir.WriteLines("mixed.jsonl", lines);
        var one = DatasetValidator.ValidateFile(path, new ValidationOptions { Threads = 1, Reflection = true });
        var two = DatasetValidator.ValidateFile(path, new ValidationOptions { Threads = 2, BatchBytes = 256, Reflection = true });
        Assert.Equal(one.Issues, two.Issues);
        Assert.Equal(one.Counts, two.Counts);
        Assert.Equal(one.Tokens with { Histogram = [] }, two.Tokens with { Histogram = [] });
        Assert.Equal(one.Tokens.Histogram, two.Tokens.Histogram);
        Assert.Equal(one.Reflection, two.Reflection);
    }

    private static ValidationReport Validate(TempDirectory dir, string name, string line)
    {
        // Five valid examples before and after, so the line under test is line 6 and too_few_examples stays quiet.
        var path = dir.WriteLines(name, Examples.Filler().Take(5).Append(line).Concat(Examples.Filler(i => Examples.Chat(i + 100)).Take(5)));
        return DatasetValidator.ValidateFile(path, new ValidationOptions { Threads = 2, BatchBytes = 512 });
    }
}

using StrawberryPhi.Core.Reflection;
using StrawberryPhi.Core.Validation;

namespace StrawberryPhi.Core.Tests.Reflection;

public class ReflectionParserTests
{
    [Theory]
    [InlineData("<thinking>a</thinking><output>b</output>")]
    [InlineData("  <thinking>\n2+2 is 5.<reflection>No, 4.</reflection> So 4.\n</thinking>\n\n<output>4</output>\n")]
    [InlineData("<thinking>x < y and a <b> tag are text</thinking><output>ok</output>")]
    [InlineData("<thinking>a<reflection>b</reflection><reflection>c</reflection></thinking><output>d</output>")]
    public void Parse_WellFormed_HasNoProblems(string text)
    {
        var parse = ReflectionParser.Parse(text, ReflectionTags.Default);
        Assert.Empty(parse.Problems);
        Assert.True(parse.IsValid);
        Assert.NotNull(parse.Thinking);
        Assert.NotNull(parse.Output);
    }

    [Theory]
    [InlineData("<output>4</output>", IssueCodes.ReflectionMissingThinking)]
    [InlineData("<thinking>4</thinking>", IssueCodes.ReflectionMissingOutput)]
    [InlineData("<thinking>4<output>4</output>", IssueCodes.ReflectionUnclosedTag)]
    [InlineData("<thinking>4</thinking></reflection><output>4</output>", IssueCodes.ReflectionUnexpectedClosingTag)]
    [InlineData("<thinking>a<thinking>b</thinking></thinking><output>4</output>", IssueCodes.ReflectionNestedTag)]
    [InlineData("<thinking>a<reflection>b<reflection>c</reflection></reflection></thinking><output>4</output>", IssueCodes.ReflectionNestedTag)]
    [InlineData("<thinking>a</thinking><reflection>b</reflection><output>4</output>", IssueCodes.ReflectionOutsideThinking)]
    [InlineData("<thinking>a<output>4</output></thinking>", IssueCodes.ReflectionMisplacedTag)]
    [InlineData("Sure! <thinking>a</thinking><output>4</output>", IssueCodes.ReflectionTextOutsideTags)]
    [InlineData("<thinking>a</thinking><output>4</output> Hope that helps.", IssueCodes.ReflectionTextOutsideTags)]
    [InlineData("<output>4</output><thinking>a</thinking>", IssueCodes.ReflectionWrongOrder)]
    [InlineData("<thinking>a</thinking><output>4</output><output>5</output>", IssueCodes.ReflectionDuplicateBlock)]
    [InlineData("<thinking>a</thinking><output> \n </output>", IssueCodes.ReflectionEmptyOutput)]
    public void Parse_Malformed_ReportsCode(string text, string code)
    {
        var parse = ReflectionParser.Parse(text, ReflectionTags.Default);
        Assert.Contains(parse.Problems, p => p.Code == code);
    }

    [Fact]
    public void Parse_EmptyOutput_IsWarningNotError()
    {
        var parse = ReflectionParser.Parse("<thinking>a</thinking><output></output>", ReflectionTags.Default);
        Assert.True(parse.IsValid);
        Assert.Equal(Severity.Warning, Assert.Single(parse.Problems).Severity);
    }

    [Fact]
    public void Parse_CustomTags_UsesThemAndIgnoresDefaults()
    {
        var tags = ReflectionTags.Parse("reason, fix, answer");
        const string text = "<reason>a<fix>b</fix></reason><answer>c</answer>";
        var parse = ReflectionParser.Parse(text, tags);
        Assert.Empty(parse.Problems);
        Assert.Equal("c", parse.Output!.Value.Of(text).ToString());
        Assert.Equal("b", parse.Reflections.Single().Of(text).ToString());
        Assert.Contains(ReflectionParser.Parse("<thinking>a</thinking><output>b</output>", tags).Problems, p => p.Code == IssueCodes.ReflectionTextOutsideTags);
    }

    [Fact]
    public void ValidateFile_ContentParts_ReflectionNotTextOnlyWhenChecked()
    {
        using var dir = new TempDirectory();
        const string parts = """{"messages":[{"role":"system","content":"You are a careful tutor."},{"role":"user","content":"q"},{"role":"assistant","content":[{"type":"text","text":"<thinking>t</thinking><output>o</output>"}]}]}""";
        var path = dir.WriteLines("p.jsonl", Examples.Filler(Examples.Reflection, 9).Append(parts));
        var issue = Assert.Single(DatasetValidator.ValidateFile(path, new ValidationOptions { Reflection = true }).Issues);
        Assert.Equal((10L, IssueCodes.ReflectionNotText, "$.messages[2].content"), (issue.Line, issue.Code, issue.Path));
        Assert.Empty(DatasetValidator.ValidateFile(path, new ValidationOptions()).Issues);
    }

    [Fact]
    public void ValidateFile_OneBadTurnOfTwo_ExampleIsNotWellFormed()
    {
        using var dir = new TempDirectory();
        const string mixed = """{"messages":[{"role":"system","content":"You are a careful tutor."},{"role":"user","content":"q"},{"role":"assistant","content":"<thinking>t</thinking><output>o</output>"},{"role":"user","content":"q2"},{"role":"assistant","content":"plain"}]}""";
        var path = dir.WriteLines("r.jsonl", Examples.Filler(Examples.Reflection, 9).Append(mixed));
        var report = DatasetValidator.ValidateFile(path, new ValidationOptions { Reflection = true });
        Assert.Equal(10, report.Reflection!.ExamplesChecked);
        Assert.Equal(9, report.Reflection.ValidExamples);
    }

    [Theory]
    [InlineData("a,b")]
    [InlineData("a,a,b")]
    [InlineData("a,<b>,c")]
    public void TagsParse_Invalid_Throws(string text)
    {
        Assert.Throws<FormatException>(() => ReflectionTags.Parse(text));
    }

    [Fact]
    public void ValidateFile_Reflection_StatisticsAndCodesOnTrainedMessagesOnly()
    {
        using var dir = new TempDirectory();
        const string untrained = """{"messages":[{"role":"system","content":"You are a careful tutor."},{"role":"user","content":"q"},{"role":"assistant","content":"plain","weight":0},{"role":"user","content":"q2"},{"role":"assistant","content":"<thinking>t</thinking><output>o</output>"}]}""";
        const string plain = """{"messages":[{"role":"system","content":"You are a careful tutor."},{"role":"user","content":"q"},{"role":"assistant","content":"just an answer"}]}""";
        var path = dir.WriteLines("r.jsonl", Examples.Filler(Examples.Reflection, 8).Append(untrained).Append(plain));
        var report = DatasetValidator.ValidateFile(path, new ValidationOptions { Reflection = true });

        Assert.Equal(10, report.Reflection!.ExamplesChecked);
        Assert.Equal(9, report.Reflection.ValidExamples);
        Assert.Equal(8, report.Reflection.ExamplesWithReflection);
        Assert.Equal(0.8, report.Reflection.ShareWithReflection, 10);
        Assert.Equal(1.0, report.Reflection.ThinkingShare + report.Reflection.ReflectionShare + report.Reflection.OutputShare, 10);
        Assert.True(report.Reflection.ReflectionTokens > 0);
        var issues = report.Issues.Where(i => i.Code.StartsWith("reflection_", StringComparison.Ordinal)).ToList();
        Assert.All(issues, i => Assert.Equal(10, i.Line));
        Assert.Contains(issues, i => i.Code == IssueCodes.ReflectionMissingThinking && i.Path == "$.messages[2].content");

        var off = DatasetValidator.ValidateFile(path, new ValidationOptions());
        Assert.Null(off.Reflection);
        Assert.DoesNotContain(off.Issues, i => i.Code.StartsWith("reflection_", StringComparison.Ordinal));
    }
}

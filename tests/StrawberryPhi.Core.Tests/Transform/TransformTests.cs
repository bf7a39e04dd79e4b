using System.Text.Json;
using System.Text.Json.Nodes;
using StrawberryPhi.Core.Datasets;
using StrawberryPhi.Core.Import;
using StrawberryPhi.Core.Reflection;
using StrawberryPhi.Core.Transform;
using StrawberryPhi.Core.Validation;

namespace StrawberryPhi.Core.Tests.Transform;

public class TransformTests
{
    private const string Prompt = ReflectionTags.DefaultSystemPrompt;

    private static JsonObject Example(string? system, string answer)
    {
        var messages = new JsonArray();
        if (system is not null)
        {
            messages.Add(new JsonObject { ["role"] = "system", ["content"] = system });
        }
        messages.Add(new JsonObject { ["role"] = "user", ["content"] = "q" });
        messages.Add(new JsonObject { ["role"] = "assistant", ["content"] = answer });
        return new JsonObject { ["messages"] = messages };
    }

    private static JsonNode Last(JsonObject example) => example["messages"]!.AsArray()[^1]!;

    private static string? System(JsonObject example) =>
        example["messages"]!.AsArray().OfType<JsonObject>().FirstOrDefault(m => (string?)m["role"] == "system")?["content"]?.GetValue<string>();

    [Theory]
    [InlineData(SystemPromptMode.Prepend, null, Prompt)]
    [InlineData(SystemPromptMode.Prepend, "Be kind.", Prompt + "\n\nBe kind.")]
    [InlineData(SystemPromptMode.Replace, "Be kind.", Prompt)]
    [InlineData(SystemPromptMode.AddIfMissing, "Be kind.", "Be kind.")]
    [InlineData(SystemPromptMode.AddIfMissing, null, Prompt)]
    public void Apply_SystemPromptModes(SystemPromptMode mode, string? existing, string expected)
    {
        var example = Example(existing, "4");
        ReflectionConverter.Apply(example, new ReflectionConversion(Prompt, mode));
        Assert.Equal(expected, System(example));
        Assert.Equal("4", Last(example)["content"]!.GetValue<string>());
    }

    [Fact]
    public void Apply_Twice_IsIdempotent()
    {
        var example = Example("Be kind.", "4");
        var conversion = new ReflectionConversion(Prompt, WrapOutput: true);
        Assert.True(ReflectionConverter.Apply(example, conversion));
        var once = example.ToJsonString();
        Assert.False(ReflectionConverter.Apply(example, conversion));
        Assert.Equal(once, example.ToJsonString());
    }

    [Fact]
    public void Apply_WrapOutput_WrapsPlainAnswersOnlyAndInventsNoThinking()
    {
        var plain = Example(null, " 4 ");
        var tagged = Example(null, "<thinking>t</thinking><output>4</output>");
        var conversion = new ReflectionConversion(Prompt, WrapOutput: true);
        ReflectionConverter.Apply(plain, conversion);
        ReflectionConverter.Apply(tagged, conversion);
        Assert.Equal("<output>\n4\n</output>", Last(plain)["content"]!.GetValue<string>());
        Assert.Equal("<thinking>t</thinking><output>4</output>", Last(tagged)["content"]!.GetValue<string>());
    }

    [Fact]
    public void Apply_Tally_SaysExactlyWhatWasDone()
    {
        var tally = new ReflectionTally();
        var conversion = new ReflectionConversion(Prompt, WrapOutput: true);
        ReflectionConverter.Apply(Example(null, "4"), conversion, tally);
        ReflectionConverter.Apply(Example(null, "5"), conversion, tally);
        ReflectionConverter.Apply(Example(null, "<thinking>t</thinking><output>4</output>"), conversion, tally);

        Assert.Equal((3L, 2L, 1L, 0L), (tally.SystemPrompts, tally.Wrapped, tally.AlreadyTagged, tally.LeftPlain));
        Assert.Equal("Set the reflection system prompt in 3 examples; wrapped 2 plain answers in <output>; 1 answer already had reflection tags and was kept. " +
            "No reasoning was invented: wrapped answers have no <thinking> block, so the reflection checks list them until reasoning is added.", tally.Describe());

        var unwrapped = new ReflectionTally();
        ReflectionConverter.Apply(Example(null, "4"), new ReflectionConversion(Prompt), unwrapped);
        Assert.Equal("Set the reflection system prompt in 1 example; left 1 plain answer as it was; none already had reflection tags. No reasoning was invented.", unwrapped.Describe());
    }

    [Fact]
    public void Clean_KeepsOnlyExamplesWithoutErrors_AndSaysWhichLinesWentAndWhy()
    {
        using var dir = new TempDirectory();
        const string good = """{"messages":[{"role":"user","content":"q"},{"role":"assistant","content":"a"}]}""";
        var lines = Enumerable.Repeat(good, 12).ToList();
        lines[2] = """{"messages":[{"role":"bot","content":"q"},{"role":"assistant","content":"a"}]}""";
        lines[5] = "{not json";
        lines[8] = """{"messages":[{"role":"user","content":"q"}]}""";
        lines.Insert(10, "");
        var input = dir.WriteLines("in.jsonl", lines);
        var before = File.ReadAllBytes(input);

        var result = LineSelection.Clean(input, dir.File("clean.jsonl"), new ValidationOptions());

        Assert.Equal((9L, 3L), (result.Kept, result.Dropped));
        Assert.Equal([3L, 6L, 9L], result.FirstDropped.Select(i => i.Line));
        Assert.Equal(new Dictionary<string, long> { ["example_missing_assistant_message"] = 1, ["invalid_json"] = 1, ["unrecognized_role"] = 1 }, result.DroppedByCode);
        Assert.Equal(Enumerable.Repeat(good, 9), File.ReadAllLines(dir.File("clean.jsonl")));
        Assert.Equal(before, File.ReadAllBytes(input));
        Assert.Equal(0, DatasetValidator.ValidateFile(dir.File("clean.jsonl"), new ValidationOptions { MinExamples = 1 }).Errors);
    }

    [Fact]
    public async Task ConvertAsync_ChatToReflection_KeepsOtherFieldsAndLeavesInputUntouched()
    {
        using var dir = new TempDirectory();
        const string line = """{"messages":[{"role":"user","content":"q","name":"ann"},{"role":"assistant","content":"a","weight":1}],"tools":[]}""";
        var input = dir.WriteLines("in.jsonl", [line]);
        var before = await File.ReadAllBytesAsync(input);
        var result = await DatasetConverter.ConvertAsync(input, dir.File("out.jsonl"), DatasetFormat.Unknown, ColumnMapping.Auto, new ReflectionConversion(Prompt));
        Assert.Equal((1L, 1L), (result.Written, result.Changed));
        Assert.Equal(before, await File.ReadAllBytesAsync(input));
        var output = JsonNode.Parse(File.ReadAllLines(dir.File("out.jsonl")).Single())!;
        Assert.Equal("system", (string?)output["messages"]![0]!["role"]);
        Assert.Equal("ann", (string?)output["messages"]![1]!["name"]);
        Assert.Equal(1, (int)output["messages"]![2]!["weight"]!);
        Assert.NotNull(output["tools"]);
    }

    [Fact]
    public void Split_Seeded_ExactCountsDeterministicAndComplete()
    {
        using var dir = new TempDirectory();
        var lines = Enumerable.Range(0, 103).Select(Examples.Chat).ToList();
        var input = dir.WriteLines("all.jsonl", lines.Take(50).Append("").Concat(lines.Skip(50)));
        var result = LineSelection.Split(input, dir.File("t.jsonl"), dir.File("v.jsonl"), 0.2, seed: 7);
        Assert.Equal((82L, 21L), (result.Train, result.Validation));
        var train = File.ReadAllLines(dir.File("t.jsonl"));
        var validation = File.ReadAllLines(dir.File("v.jsonl"));
        Assert.Equal(lines.Order(), train.Concat(validation).Order());

        LineSelection.Split(input, dir.File("t2.jsonl"), dir.File("v2.jsonl"), 0.2, seed: 7);
        Assert.Equal(validation, File.ReadAllLines(dir.File("v2.jsonl")));
        LineSelection.Split(input, dir.File("t3.jsonl"), dir.File("v3.jsonl"), 0.2, seed: 8);
        Assert.NotEqual(validation, File.ReadAllLines(dir.File("v3.jsonl")));
    }

    [Fact]
    public void Sample_Seeded_KeepsOrderAndCount()
    {
        using var dir = new TempDirectory();
        var lines = Enumerable.Range(0, 50).Select(Examples.Chat).ToList();
        var input = dir.WriteLines("all.jsonl", lines);
        Assert.Equal(10, LineSelection.Sample(input, dir.File("s.jsonl"), 10, seed: 1));
        var sample = File.ReadAllLines(dir.File("s.jsonl"));
        Assert.Equal(sample.OrderBy(lines.IndexOf), sample);
        Assert.Equal(50, LineSelection.Sample(input, dir.File("all2.jsonl"), 500, seed: 1));
    }

    [Fact]
    public void Dedupe_KeepsFirstIgnoresWhitespaceAndReportsLines()
    {
        using var dir = new TempDirectory();
        var a = Examples.Chat(1);
        var spaced = a.Replace(",", " , ", StringComparison.Ordinal);
        var input = dir.WriteLines("d.jsonl", [a, Examples.Chat(2), spaced, "{oops", "{oops", Examples.Chat(2)]);
        var result = LineSelection.Dedupe(input, dir.File("out.jsonl"));
        Assert.Equal((3L, 3L), (result.Kept, result.Removed));
        Assert.Equal([(3L, 1L), (5, 4), (6, 2)], result.Examples);
        Assert.Equal([a, Examples.Chat(2), "{oops"], File.ReadAllLines(dir.File("out.jsonl")));
        var report = DatasetValidator.ValidateFile(dir.File("out.jsonl"), new ValidationOptions());
        Assert.False(report.Counts.ContainsKey(IssueCodes.DuplicateExample));
    }

    [Fact]
    public void AtomicFile_NotCommitted_LeavesNoFileAndKeepsOldContent()
    {
        using var dir = new TempDirectory();
        var target = dir.Write("keep.jsonl", "old\n");
        using (var file = new AtomicFile(target))
        {
            file.Stream.Write("new"u8);
        }
        Assert.Equal("old\n", File.ReadAllText(target));
        Assert.Single(Directory.GetFiles(dir.Path));
    }
}

using System.Text.Json;
using StrawberryPhi.Core.Tests;

namespace StrawberryPhi.Cli.Tests;

public class TransformCommandTests
{
    [Fact]
    public async Task Convert_CsvToReflection_ThenValidateReflection()
    {
        using var dir = new TempDirectory();
        var input = dir.WriteLines("qa.csv", Enumerable.Range(0, 12).Select(i => $"\"What is {i}+{i}?\",{2 * i}").Prepend("question,answer"));
        var output = dir.File("out.jsonl");
        var converted = await PhiRunner.RunAsync("convert", input, "-o", output, "--reflection", "--wrap-output");
        Assert.Equal(ExitCodes.Ok, converted.ExitCode);
        Assert.Contains("wrote 12 examples", converted.Output);
        Assert.Contains("Set the reflection system prompt in 12 examples; wrapped 12 plain answers in <output>; none already had reflection tags. " +
            "No reasoning was invented", converted.Output);
        Assert.Contains($"Next: phi validate {output} --reflection", converted.Output);

        var first = JsonDocument.Parse(File.ReadLines(output).First()).RootElement.GetProperty("messages");
        Assert.StartsWith("You are a world-class AI system", first[0].GetProperty("content").GetString());
        Assert.Equal("<output>\n0\n</output>", first[2].GetProperty("content").GetString());

        // Wrapping invents no reasoning, so the reflection checks flag the missing thinking block.
        var validated = await PhiRunner.RunAsync("validate", output, "--reflection", "--format", "json");
        Assert.Equal(ExitCodes.DataErrors, validated.ExitCode);
        var json = JsonDocument.Parse(validated.Output).RootElement;
        Assert.Equal(12, json.GetProperty("counts").GetProperty("reflection_missing_thinking").GetInt64());
        Assert.Equal(12, json.GetProperty("reflection_errors").GetInt64());

        // In words, the reflection format is a verdict of its own: the provider would accept this file.
        var text = await PhiRunner.RunAsync("validate", output, "--reflection");
        Assert.Contains("✓ no errors", text.Output);
        Assert.Contains("Reflection format: ✗ 12 errors (0 of 12 examples well formed; the provider does not check this)", text.Output);
    }

    [Fact]
    public async Task Convert_ColumnsCannotBeGuessed_SaysHowToNameThem()
    {
        using var dir = new TempDirectory();
        var input = dir.WriteLines("odd.csv", ["left,right", "x,y"]);

        var result = await PhiRunner.RunAsync("convert", input, "-o", dir.File("o.jsonl"));

        Assert.Equal(ExitCodes.CannotRun, result.ExitCode);
        Assert.Equal("phi: Cannot tell which column holds the prompt; the columns are: left, right. Choose the prompt column. " +
            "Name the columns with --map prompt=COLUMN,response=COLUMN[,system=COLUMN].\n", result.Error);
    }

    [Fact]
    public async Task Clean_KeepsTheExamplesWithoutErrors_AndListsTheDroppedLines()
    {
        using var dir = new TempDirectory();
        var good = """{"messages":[{"role":"user","content":"q"},{"role":"assistant","content":"a"}]}""";
        var lines = Enumerable.Repeat(good, 11).ToList();
        lines[3] = """{"messages":[{"role":"robot","content":"q"},{"role":"assistant","content":"a"}]}""";
        var input = dir.WriteLines("train.jsonl", lines);

        var result = await PhiRunner.RunAsync("clean", input, "-o", dir.File("clean.jsonl"));

        Assert.Equal(ExitCodes.Ok, result.ExitCode);
        Assert.Contains("Kept 10 examples and dropped 1 example with errors", result.Output);
        Assert.Contains("line 4, $.messages[0].role:", result.Output);
        Assert.Contains("(unrecognized_role)", result.Output);
        Assert.Equal(10, File.ReadAllLines(dir.File("clean.jsonl")).Length);
        Assert.Equal(ExitCodes.Ok, (await PhiRunner.RunAsync("validate", dir.File("clean.jsonl"))).ExitCode);
    }

    [Fact]
    public async Task Convert_RelativeOutput_NextHintRepeatsThePathAsGiven()
    {
        using var dir = new TempDirectory();
        var input = dir.WriteLines("qa.csv", ["question,answer", "a,b"]);
        var relative = Path.GetRelativePath(Environment.CurrentDirectory, dir.File("my out.jsonl"));

        var result = await PhiRunner.RunAsync("convert", input, "-o", relative);

        Assert.Contains($"Next: phi validate '{relative}'", result.Output);
    }

    [Fact]
    public async Task Convert_BadRows_ExitOneAndNameLines()
    {
        using var dir = new TempDirectory();
        var input = dir.WriteLines("qa.csv", ["prompt,response", "a,b", "c,", "d,e"]);
        var result = await PhiRunner.RunAsync("convert", input, "-o", dir.File("out.jsonl"));
        Assert.Equal(ExitCodes.DataErrors, result.ExitCode);
        Assert.Contains("Skipped 1 record with errors", result.Output);
        Assert.Contains("line 3: The response (column \"response\") is empty.", result.Output);
        Assert.Equal(2, File.ReadAllLines(dir.File("out.jsonl")).Length);
    }

    [Fact]
    public async Task Convert_OutputIsInput_RefusesAndKeepsInput()
    {
        using var dir = new TempDirectory();
        var input = dir.WriteLines("in.jsonl", Examples.Filler());
        var before = await File.ReadAllTextAsync(input);
        var result = await PhiRunner.RunAsync("convert", input, "-o", input, "--reflection");
        Assert.Equal(ExitCodes.CannotRun, result.ExitCode);
        Assert.Contains("is the input file", result.Error);
        Assert.Equal(before, await File.ReadAllTextAsync(input));
    }

    [Fact]
    public async Task Convert_BadMap_ExitsTwo()
    {
        using var dir = new TempDirectory();
        var input = dir.WriteLines("qa.csv", ["q,a", "x,y"]);
        var result = await PhiRunner.RunAsync("convert", input, "-o", dir.File("o.jsonl"), "--map", "prompt");
        Assert.Equal(ExitCodes.CannotRun, result.ExitCode);
        Assert.Contains("is not ROLE=COLUMN", result.Error);
    }

    [Fact]
    public async Task Split_DefaultNames_SeededAndComplete()
    {
        using var dir = new TempDirectory();
        var input = dir.WriteLines("data.jsonl", Examples.Filler(count: 40));
        var result = await PhiRunner.RunAsync("split", input, "--validation", "0.25", "--seed", "3");
        Assert.Equal(ExitCodes.Ok, result.ExitCode);
        Assert.Equal(30, File.ReadAllLines(dir.File("data.train.jsonl")).Length);
        Assert.Equal(10, File.ReadAllLines(dir.File("data.validation.jsonl")).Length);
    }

    [Fact]
    public async Task Split_BadShare_ExitsTwo()
    {
        using var dir = new TempDirectory();
        var input = dir.WriteLines("data.jsonl", Examples.Filler());
        var result = await PhiRunner.RunAsync("split", input, "--validation", "1.5");
        Assert.Equal(ExitCodes.CannotRun, result.ExitCode);
        Assert.Equal("phi: --validation must be between 0 and 1 (exclusive); got 1.5.\n", result.Error);
    }

    [Fact]
    public async Task Dedupe_And_Sample_WriteOutputs()
    {
        using var dir = new TempDirectory();
        var input = dir.WriteLines("data.jsonl", Examples.Filler().Concat(Examples.Filler(count: 3)));
        var dedupe = await PhiRunner.RunAsync("dedupe", input, "-o", dir.File("unique.jsonl"));
        Assert.Equal(ExitCodes.Ok, dedupe.ExitCode);
        Assert.Contains("removed 3 duplicates", dedupe.Output);
        Assert.Contains("line 11 repeats line 1", dedupe.Output);
        Assert.Equal(10, File.ReadAllLines(dir.File("unique.jsonl")).Length);

        var sample = await PhiRunner.RunAsync("sample", dir.File("unique.jsonl"), "-n", "4", "-o", dir.File("four.jsonl"));
        Assert.Equal(ExitCodes.Ok, sample.ExitCode);
        Assert.Equal(4, File.ReadAllLines(dir.File("four.jsonl")).Length);
    }
}

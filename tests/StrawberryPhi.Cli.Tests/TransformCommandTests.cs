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
        Assert.Contains("12 converted to reflection form", converted.Output);

        var first = JsonDocument.Parse(File.ReadLines(output).First()).RootElement.GetProperty("messages");
        Assert.StartsWith("You are a world-class AI system", first[0].GetProperty("content").GetString());
        Assert.Equal("<output>\n0\n</output>", first[2].GetProperty("content").GetString());

        // Wrapping invents no reasoning, so the reflection checks flag the missing thinking block.
        var validated = await PhiRunner.RunAsync("validate", output, "--reflection", "--format", "json");
        Assert.Equal(ExitCodes.DataErrors, validated.ExitCode);
        Assert.Equal(12, JsonDocument.Parse(validated.Output).RootElement.GetProperty("counts").GetProperty("reflection_missing_thinking").GetInt64());
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

using System.Text.Json;
using StrawberryPhi.Core.Tests;

namespace StrawberryPhi.Cli.Tests;

public class ValidateCommandTests
{
    [Fact]
    public async Task Validate_CleanFile_ExitsZeroWithReadableSummary()
    {
        using var dir = new TempDirectory();
        var path = dir.WriteLines("ok.jsonl", Examples.Filler(count: 12));
        var result = await PhiRunner.RunAsync("validate", path);
        Assert.Equal(ExitCodes.Ok, result.ExitCode);
        Assert.Equal("", result.Error);
        Assert.Contains("✓ no errors", result.Output);
        Assert.Contains("12 examples", result.Output);
        Assert.Contains("o200k_base", result.Output);
        Assert.Contains("shut down on 2027-01-14 (in 52 days)", result.Output);
    }

    [Fact]
    public async Task Validate_Json_HasTheFieldsScriptsRelyOn()
    {
        using var dir = new TempDirectory();
        var path = dir.WriteLines("bad.jsonl", Examples.Filler().Append("""{"messages":[{"role":"bot","content":"x"},{"role":"assistant","content":"y"}]}"""));
        var result = await PhiRunner.RunAsync("validate", path, "--format", "json", "--model", "gpt-4.1");
        Assert.Equal(ExitCodes.DataErrors, result.ExitCode);

        using var json = JsonDocument.Parse(result.Output);
        var root = json.RootElement;
        Assert.Equal(11, root.GetProperty("examples").GetInt64());
        var issue = root.GetProperty("issues").EnumerateArray().Single(i => i.GetProperty("code").GetString() == "unrecognized_role");
        Assert.Equal(11, issue.GetProperty("line").GetInt64());
        Assert.Equal("$.messages[0].role", issue.GetProperty("path").GetString());
        Assert.Equal("error", issue.GetProperty("severity").GetString());
        Assert.False(string.IsNullOrEmpty(issue.GetProperty("message").GetString()));
        Assert.Equal(1, root.GetProperty("counts").GetProperty("unrecognized_role").GetInt64());

        var tokens = root.GetProperty("tokens");
        Assert.Equal("o200k_base", tokens.GetProperty("encoding").GetString());
        Assert.True(tokens.GetProperty("total").GetInt64() > tokens.GetProperty("assistant").GetInt64());
        foreach (var key in new[] { "min", "max", "mean", "median", "p5", "p95" })
        {
            Assert.True(tokens.GetProperty("per_example").TryGetProperty(key, out _), key);
        }
        Assert.Equal(0, tokens.GetProperty("over_limit").GetInt64());

        var estimate = root.GetProperty("estimate");
        Assert.Equal("gpt-4.1-2025-04-14", estimate.GetProperty("model").GetString());
        Assert.Equal(9, estimate.GetProperty("epochs").GetInt32());
        Assert.True(estimate.GetProperty("cost_usd").GetDecimal() >= 0);
        Assert.Contains(estimate.GetProperty("notices").EnumerateArray(), n => n.GetProperty("code").GetString() == "model_shutting_down");
    }

    [Fact]
    public async Task Validate_ReflectionFlag_AddsReflectionStatistics()
    {
        using var dir = new TempDirectory();
        var path = dir.WriteLines("r.jsonl", Examples.Filler(Examples.Reflection));
        var result = await PhiRunner.RunAsync("validate", path, "--reflection", "--format", "json");
        Assert.Equal(ExitCodes.Ok, result.ExitCode);
        using var json = JsonDocument.Parse(result.Output);
        Assert.Equal(1.0, json.RootElement.GetProperty("reflection").GetProperty("share_with_reflection").GetDouble());
    }

    [Fact]
    public async Task Validate_Cl100kModel_UsesItsEncodingAndLimit()
    {
        using var dir = new TempDirectory();
        var path = dir.WriteLines("ok.jsonl", Examples.Filler());
        var result = await PhiRunner.RunAsync("validate", path, "--format", "json", "--model", "gpt-3.5-turbo");
        using var json = JsonDocument.Parse(result.Output);
        Assert.Equal("cl100k_base", json.RootElement.GetProperty("tokens").GetProperty("encoding").GetString());
        Assert.Equal(16385, json.RootElement.GetProperty("tokens").GetProperty("token_limit").GetInt32());
        Assert.Contains(json.RootElement.GetProperty("estimate").GetProperty("notices").EnumerateArray(),
            n => n.GetProperty("severity").GetString() == "error" && n.GetProperty("code").GetString() == "model_shut_down");
    }

    [Theory]
    [InlineData("validate")]
    [InlineData("stats")]
    public async Task Command_MissingFile_ExitsTwoWithOneLine(string command)
    {
        using var dir = new TempDirectory();
        var result = await PhiRunner.RunAsync(command, dir.File("nope.jsonl"));
        Assert.Equal(ExitCodes.CannotRun, result.ExitCode);
        Assert.Equal($"phi: {dir.File("nope.jsonl")}: no such file.\n", result.Error);
        Assert.Equal("", result.Output);
    }

    [Fact]
    public async Task Validate_Directory_ExitsTwo()
    {
        using var dir = new TempDirectory();
        var result = await PhiRunner.RunAsync("validate", dir.Path);
        Assert.Equal(ExitCodes.CannotRun, result.ExitCode);
        Assert.Equal($"phi: {dir.Path} is a directory, not a file.\n", result.Error);
    }

    [Theory]
    [InlineData("validate", "x.jsonl", "--format", "xml")]
    [InlineData("validate", "x.jsonl", "--bogus")]
    [InlineData("validate")]
    [InlineData("frobnicate")]
    public async Task Command_BadArguments_ExitsTwoWithOneLine(params string[] args)
    {
        var result = await PhiRunner.RunAsync(args);
        Assert.Equal(ExitCodes.CannotRun, result.ExitCode);
        Assert.StartsWith("phi: ", result.Error);
        Assert.Single(result.Error.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public async Task Validate_UnknownModel_ExitsTwoListingKnown()
    {
        using var dir = new TempDirectory();
        var path = dir.WriteLines("ok.jsonl", Examples.Filler());
        var result = await PhiRunner.RunAsync("validate", path, "--model", "gpt-5");
        Assert.Equal(ExitCodes.CannotRun, result.ExitCode);
        Assert.StartsWith("phi: unknown model \"gpt-5\"; known: gpt-4.1-2025-04-14", result.Error);
    }

    [Fact]
    public async Task Validate_EmptyFile_ExitsOneWithEmptyFileIssue()
    {
        using var dir = new TempDirectory();
        var result = await PhiRunner.RunAsync("validate", dir.Write("empty.jsonl", ""), "--format", "json");
        Assert.Equal(ExitCodes.DataErrors, result.ExitCode);
        Assert.Contains("\"code\":\"empty_file\"", result.Output);
    }

    [Fact]
    public async Task Stats_PrintsDistributionWithoutListingIssues()
    {
        using var dir = new TempDirectory();
        var path = dir.WriteLines("ok.jsonl", Examples.Filler(count: 30).Append("{bad"));
        var result = await PhiRunner.RunAsync("stats", path);
        Assert.Equal(ExitCodes.DataErrors, result.ExitCode);
        Assert.Contains("per example: min", result.Output);
        Assert.Contains("invalid_json", result.Output);
        Assert.DoesNotContain("line 31", result.Output);
    }

    [Fact]
    public async Task Process_MissingFile_NoStackTrace()
    {
        var result = await PhiRunner.RunProcessAsync("validate", "/nonexistent/data.jsonl");
        Assert.Equal(ExitCodes.CannotRun, result.ExitCode);
        Assert.Equal("phi: /nonexistent/data.jsonl: no such file.\n", result.Error);
        Assert.DoesNotContain("   at ", result.Error + result.Output);
    }

    [Fact]
    public async Task Process_ValidateJson_WritesOneJsonObjectToStdout()
    {
        using var dir = new TempDirectory();
        var path = dir.WriteLines("ok.jsonl", Examples.Filler());
        var result = await PhiRunner.RunProcessAsync("validate", path, "--format", "json");
        Assert.Equal(ExitCodes.Ok, result.ExitCode);
        using var json = JsonDocument.Parse(result.Output);
        Assert.Equal(10, json.RootElement.GetProperty("examples").GetInt64());
    }

    [Fact]
    public async Task Models_ListsCatalogWithShutdowns()
    {
        var result = await PhiRunner.RunAsync("models");
        Assert.Equal(ExitCodes.Ok, result.ExitCode);
        Assert.Contains("gpt-4o-mini-2024-07-18", result.Output);
        Assert.Contains("2026-10-23 (shut down)", result.Output);
        Assert.Contains("OpenAI accepts no new fine-tuning jobs from 2027-01-06", result.Output);
    }
}

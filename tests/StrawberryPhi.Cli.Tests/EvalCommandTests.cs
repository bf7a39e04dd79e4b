using System.Text.Json.Nodes;

namespace StrawberryPhi.Cli.Tests;

public sealed class EvalCommandTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("phi-eval-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task Grade_Json_OneResultPerLineWithTotals()
    {
        var file = Path.Combine(_directory, "answers.jsonl");
        await File.WriteAllLinesAsync(file,
        [
            """{"answer": "<thinking>48/2</thinking><output>24</output>", "reference": "48 / 2 = 24\n#### 24"}""",
            """{"answer": "The answer is $1,200.", "reference": 1200}""",
            "",
            """{"answer": "23", "reference": "24"}""",
            """not json""",
        ]);

        var result = await PhiRunner.RunAsync("eval", "grade", file, "--grader", "numeric", "--format", "json");

        Assert.Equal(0, result.ExitCode);
        var json = JsonNode.Parse(result.Output)!;
        Assert.Equal((2, 4), (json["passed"]!.GetValue<int>(), json["total"]!.GetValue<int>()));
        var results = json["results"]!.AsArray();
        Assert.Equal([1L, 2L, 4L, 5L], results.Select(r => r!["line"]!.GetValue<long>()));
        Assert.Equal("24", results[0]!["extracted"]!.GetValue<string>());
        Assert.Equal("23 ≠ 24", results[2]!["reason"]!.GetValue<string>());
        Assert.StartsWith("the line is not JSON", results[3]!["reason"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Grade_Text_TableAndSummary()
    {
        var file = Path.Combine(_directory, "capitals.jsonl");
        await File.WriteAllLinesAsync(file, ["""{"answer": "PARIS.", "reference": "Paris"}""", """{"answer": "Lyon", "reference": "Paris"}"""]);

        var result = await PhiRunner.RunAsync("eval", "grade", file, "--grader", "normalized");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("1 of 2 passed (normalized).", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Grade_UnknownGrader_ExitTwoNamingThem()
    {
        var result = await PhiRunner.RunAsync("eval", "grade", "x.jsonl", "--grader", "fuzzy");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("fuzzy", result.Error, StringComparison.Ordinal);
    }
}

using System.Text.Json.Nodes;
using static StrawberryPhi.Web.Tests.Integration.PhiRunner;

namespace StrawberryPhi.Web.Tests.Integration;

/// <summary><c>phi chat</c>, <c>phi compare</c> and <c>phi eval run|show|export</c> in-process against a real studio.</summary>
public sealed class EvalCliTests(StudioHost host) : IClassFixture<StudioHost>
{
    [Fact]
    public async Task Chat_StreamsThroughTheGateway_AndListsModels()
    {
        var studio = host.BaseAddress.ToString();
        var list = await Phi("chat", "--studio", studio, "--list");
        Assert.Contains("Local engine/strawberry-small", list.Output.Split('\n').Select(l => l.Trim()));

        var chat = await Phi("chat", "--studio", studio, "-m", "Local engine/strawberry-tiny", "--max-tokens", "6", "--seed", "4", "--temperature", "1", "--format", "json", "12+34=");
        Assert.True(chat.Code == 0, chat.Error);
        var answer = JsonNode.Parse(chat.Output)!;
        Assert.Equal(6, answer["completion_tokens"]!.GetValue<int>());
        Assert.Equal("length", answer["finish_reason"]!.GetValue<string>());
        var again = JsonNode.Parse((await Phi("chat", "--studio", studio, "-m", "Local engine/strawberry-tiny", "--max-tokens", "6", "--seed", "4", "--temperature", "1", "--format", "json", "12+34=")).Output)!;
        Assert.Equal(answer["answer"]!.GetValue<string>(), again["answer"]!.GetValue<string>());

        var missing = await Phi("chat", "--studio", studio, "-m", "Nowhere/x", "hi");
        Assert.Equal(2, missing.Code);
        Assert.Contains("names no connection", missing.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Compare_TwoModels_AnswersMetricsAndADiff()
    {
        var result = await Phi("compare", "--studio", host.BaseAddress.ToString(), "-m", "Local engine/strawberry-tiny", "-m", "Local engine/strawberry-small",
            "--max-tokens", "8", "--temperature", "0", "--format", "json", "1+1=");
        Assert.True(result.Code == 0, result.Error);
        var json = JsonNode.Parse(result.Output)!;
        Assert.Equal(2, json["answers"]!.AsArray().Count);
        var pieces = json["diff"]!.AsArray().Select(p => (p!["kind"]!.GetValue<string>(), p["text"]!.GetValue<string>())).ToList();
        Assert.Equal(json["answers"]![1]!["answer"]!.GetValue<string>().Trim(), string.Concat(pieces.Where(p => p.Item1 != "removed").Select(p => p.Item2)).Trim());
    }

    [Fact]
    public async Task EvalRun_FromAFile_WatchedToTheEnd_ThenShownAndExported()
    {
        var studio = host.BaseAddress.ToString();
        var set = Path.Combine(host.DataDirectory, "cli-set.jsonl");
        await File.WriteAllLinesAsync(set, Enumerable.Range(1, 4).Select(i => $$"""{"prompt": "{{i}}+{{i}}=", "reference": "{{2 * i}}"}"""));

        var run = await Phi("eval", "run", "--studio", studio, "--set", set, "-m", "Local engine/strawberry-tiny", "-m", "Local engine/strawberry-small",
            "--grader", "numeric", "--max-tokens", "6", "--temperature", "0", "--watch");
        Assert.True(run.Code == 0, run.Error + run.Output);
        Assert.Contains("Uploaded cli-set.jsonl", run.Output, StringComparison.Ordinal);
        Assert.Contains("succeeded, 8 of 8 answers", run.Output, StringComparison.Ordinal);
        Assert.Contains("McNemar's exact p =", run.Output, StringComparison.Ordinal);

        var runId = run.Output.Split('\n').First(l => l.StartsWith("Run ", StringComparison.Ordinal)).Split(' ')[1];
        var shown = JsonNode.Parse((await Phi("eval", "show", "--studio", studio, runId, "--format", "json")).Output)!;
        Assert.Equal(2, shown["models"]!.AsArray().Count);
        Assert.Equal(4, shown["models"]![0]!["n"]!.GetValue<int>());
        var csv = await Phi("eval", "export", "--studio", studio, runId, "--as", "csv");
        Assert.StartsWith("itemId,model,answer", csv.Output, StringComparison.Ordinal);
    }
}

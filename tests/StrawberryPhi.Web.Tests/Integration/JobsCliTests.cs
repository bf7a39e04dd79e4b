using System.Globalization;
using System.Text.Json.Nodes;
using static StrawberryPhi.Web.Tests.Integration.PhiRunner;

namespace StrawberryPhi.Web.Tests.Integration;

/// <summary><c>phi jobs</c> in-process against a real studio, as a user's script drives it.</summary>
public sealed class JobsCliTests(StudioHost host) : IClassFixture<StudioHost>
{
    [Fact]
    public async Task CreateWatchListShowExport_AJobFromStartToEnd()
    {
        var path = Path.Combine(host.DataDirectory, "cli-train.jsonl");
        await File.WriteAllLinesAsync(path, Enumerable.Range(0, 12).Select(i =>
            $$"""{"messages": [{"role": "user", "content": "{{i}}+3="}, {"role": "assistant", "content": "{{(i + 3).ToString(CultureInfo.InvariantCulture)}}"}]}"""));
        await host.WaitValidatedAsync((await host.UploadAsync(path)).Id);
        var studio = host.BaseAddress.ToString();

        var created = await Phi("jobs", "create", "--studio", studio, "--model", "strawberry-tiny", "--training", "cli-train", "--epochs", "2", "--batch-size", "4",
            "--suffix", "cli", "--metadata", "team=evals", "--watch");

        Assert.True(created.Code == 0, created.Error + created.Output);
        Assert.Contains("succeeded", created.Output, StringComparison.Ordinal);
        Assert.Contains("ft:strawberry-tiny:local:cli:", created.Output, StringComparison.Ordinal);
        Assert.Contains("│", created.Output, StringComparison.Ordinal); // the loss chart
        var list = await Phi("jobs", "list", "--studio", studio, "--format", "json");
        var job = JsonNode.Parse(list.Output)!["items"]!.AsArray().Single(j => j!["suffix"]?.GetValue<string>() == "cli")!;
        Assert.Equal("evals", job["metadata"]!["team"]!.GetValue<string>());
        var id = job["id"]!.GetValue<string>();

        var shown = await Phi("jobs", "show", "--studio", studio, id);
        Assert.Contains("checkpoint at step", shown.Output, StringComparison.Ordinal);
        var csv = await Phi("jobs", "export", "--studio", studio, id, "--as", "csv");
        Assert.StartsWith("step,train_loss,train_mean_token_accuracy,valid_loss", csv.Output, StringComparison.Ordinal);
        var record = Path.Combine(host.DataDirectory, "record.json");
        var exported = await Phi("jobs", "export", "--studio", studio, id, "--as", "json", "-o", record);
        Assert.Equal(0, exported.Code);
        var whole = JsonNode.Parse(await File.ReadAllTextAsync(record))!;
        Assert.Equal(id, whole["job"]!["id"]!.GetValue<string>());
        Assert.NotEmpty(whole["events"]!.AsArray());

        var cancel = await Phi("jobs", "cancel", "--studio", studio, id);
        Assert.Equal(2, cancel.Code);
        Assert.Contains("it cannot cancel any more", cancel.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NoStudioAnswers_OneSentenceSayingHowToStartOne()
    {
        var result = await Phi("jobs", "list", "--studio", "http://127.0.0.1:9");

        Assert.Equal(2, result.Code);
        Assert.Equal("phi: No studio answers at http://127.0.0.1:9: start one with `dotnet run --project src/StrawberryPhi.Web` (or point --studio at yours).", result.Error.Trim());
    }

    [Fact]
    public async Task Create_UnknownDataset_SaysWhatTheStudioHas()
    {
        var result = await Phi("jobs", "create", "--studio", host.BaseAddress.ToString(), "--model", "strawberry-tiny", "--training", "no-such-dataset");

        Assert.Equal(2, result.Code);
        Assert.Contains("No training dataset is named \"no-such-dataset\"", result.Error, StringComparison.Ordinal);
    }
}

using System.Net;
using System.Net.Http.Json;
using StrawberryPhi.Web.Data;
using StrawberryPhi.Web.Evaluation;

namespace StrawberryPhi.Web.Tests.Integration;

/// <summary>Golden outputs captured from a fine-tuned model, then compared with candidates after that model is deleted at the provider.</summary>
public sealed class GoldenTests(StudioHost host) : IClassFixture<StudioHost>
{
    [Fact]
    public async Task Capture_ThenSourceDeleted_CompareGivesAgreementWithItsInterval()
    {
        var local = await host.LocalConnectionAsync();
        var job = await host.FinishedJobAsync("golden-train.jsonl", reflection: true);
        using var api = host.Api();
        using var form = new MultipartFormDataContent();
        form.Add(new StringContent(string.Join("\n", Enumerable.Range(1, 5).Select(i => $$"""{"id": "g{{i}}", "prompt": "{{i}}+{{i}}=", "reference": {{2 * i}}}"""))), "file", "golden-set.jsonl");
        using var setResponse = await api.PostAsync(new Uri("api/evals/sets", UriKind.Relative), form);
        var set = (await setResponse.Content.ReadFromJsonAsync<EvalSetView>(Json.Options))!;

        using var captured = await api.PostAsJsonAsync(new Uri("api/golden", UriKind.Relative), new { providerId = local, model = job.FineTunedModel, setId = set.Id });
        Assert.Equal(HttpStatusCode.Created, captured.StatusCode);
        var golden = (await captured.Content.ReadFromJsonAsync<GoldenView>(Json.Options))!;
        var service = host.Service<GoldenService>();
        var frozen = await host.WaitForAsync(async () => await service.GetAsync(golden.Id, CancellationToken.None) is { Status: EvalStatuses.Succeeded } g ? g : null);
        Assert.Equal(["g1", "g2", "g3", "g4", "g5"], frozen.Answers.Select(a => a.ItemId));
        var inInventory = (await host.Service<StrawberryPhi.Web.Jobs.InventoryService>().GetAsync(askProviders: false, CancellationToken.None)).Items.Single(i => i.Model == job.FineTunedModel);
        Assert.True(inInventory.GoldenOutputs);
        Assert.DoesNotContain(inInventory.Missing, m => m.StartsWith("golden", StringComparison.Ordinal));

        // The source model goes away at the provider; the golden answers stay.
        using (var deleted = await api.DeleteAsync(new Uri($"local/v1/models/{Uri.EscapeDataString(job.FineTunedModel!)}", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
        }
        Assert.Equal(frozen.Answers, (await service.GetAsync(golden.Id, CancellationToken.None)).Answers);

        // A candidate: the untrained base. Then the base against golden outputs captured from itself agrees on every item.
        var candidate = await CompareAsync(api, golden.Id, local, "strawberry-tiny");
        Assert.Equal(golden.Id, candidate.GoldenId);
        Assert.NotNull(candidate.Agreement);
        Assert.Equal(5, candidate.Agreement!.Items);
        Assert.InRange(candidate.Agreement.Rate, candidate.Agreement.CiLow, candidate.Agreement.CiHigh);
        var differing = await host.Service<EvalService>().ResultsAsync(candidate.Id, null, false, null, 0, 10, CancellationToken.None);
        Assert.Equal(5 - candidate.Agreement.Agreed, differing.Total); // the items where they differ, listed

        using var self = await api.PostAsJsonAsync(new Uri("api/golden", UriKind.Relative), new { providerId = local, model = "strawberry-tiny", setId = set.Id });
        var selfGolden = (await self.Content.ReadFromJsonAsync<GoldenView>(Json.Options))!;
        await host.WaitForAsync(async () => await service.GetAsync(selfGolden.Id, CancellationToken.None) is { Status: EvalStatuses.Succeeded } g ? g : null);
        var same = await CompareAsync(api, selfGolden.Id, local, "strawberry-tiny");
        Assert.Equal((1.0, 5), (same.Agreement!.Rate, same.Agreement.Agreed));
    }

    [Fact]
    public async Task Cli_CaptureFromAFile_ThenCompare_ShowsTheAgreement()
    {
        var studio = host.BaseAddress.ToString();
        var path = Path.Combine(host.DataDirectory, "golden-cli.jsonl");
        await File.WriteAllLinesAsync(path, Enumerable.Range(1, 3).Select(i => $$"""{"prompt": "{{i}}*3=", "reference": {{3 * i}}}"""));
        var captured = await PhiRunner.Phi("golden", "capture", "--studio", studio, "-m", "Local engine/strawberry-small", "--set", path, "--format", "json");
        Assert.True(captured.Code == 0, captured.Error);
        var id = System.Text.Json.Nodes.JsonNode.Parse(captured.Output)!["id"]!.GetValue<string>();
        await host.WaitForAsync(async () => await host.Service<GoldenService>().GetAsync(Guid.Parse(id), CancellationToken.None) is { Status: EvalStatuses.Succeeded } g ? g : null);

        var compared = await PhiRunner.Phi("golden", "compare", "--studio", studio, id, "-m", "Local engine/strawberry-small", "--format", "json");
        Assert.True(compared.Code == 0, compared.Error);
        var runId = System.Text.Json.Nodes.JsonNode.Parse(compared.Output)!["id"]!.GetValue<string>();
        await host.WaitForAsync(async () => await host.Service<EvalService>().GetRunAsync(Guid.Parse(runId), CancellationToken.None) is { } r && EvalStatuses.IsFinal(r.Status) ? r : null);
        var shown = await PhiRunner.Phi("eval", "show", "--studio", studio, runId);
        Assert.Contains("Agreement with the golden outputs: 100% (", shown.Output, StringComparison.Ordinal);
        Assert.Contains("3 of 3 items", shown.Output, StringComparison.Ordinal);
    }

    private async Task<EvalRunView> CompareAsync(HttpClient api, Guid goldenId, Guid providerId, string model)
    {
        using var response = await api.PostAsJsonAsync(new Uri($"api/golden/{goldenId}/compare", UriKind.Relative), new { providerId, model });
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        var run = (await response.Content.ReadFromJsonAsync<EvalRunView>(Json.Options))!;
        return await host.WaitForAsync(async () => await host.Service<EvalService>().GetRunAsync(run.Id, CancellationToken.None) is { } r && EvalStatuses.IsFinal(r.Status) ? r : null);
    }
}

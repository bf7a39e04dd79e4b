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

    [Fact]
    public async Task Rerun_ElsewhereWithTheSameDataAndHyperparameters_Linked_ThenComparedWithTheGoldenOutputs()
    {
        var local = await host.LocalConnectionAsync();
        var origin = await host.FinishedJobAsync("rerun-train.jsonl", reflection: true);
        var service = host.Service<GoldenService>();
        var set = await host.Service<EvalService>().CreateSetAsync("rerun-set",
            new MemoryStream(System.Text.Encoding.UTF8.GetBytes("{\"prompt\": \"1+2=\", \"reference\": 3}\n{\"prompt\": \"2+5=\", \"reference\": 7}\n")), CancellationToken.None);
        var golden = await service.CaptureAsync(new GoldenInput(local, origin.FineTunedModel, set.Id), CancellationToken.None);
        await host.WaitForAsync(async () => await service.GetAsync(golden.Id, CancellationToken.None) is { Status: EvalStatuses.Succeeded } g ? g : null);

        using var api = host.Api();
        using var first = await api.PostAsJsonAsync(new Uri($"api/jobs/{origin.Id}/rerun", UriKind.Relative), new { providerId = local, model = "strawberry-small" });
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        var rerun = (await first.Content.ReadFromJsonAsync<StrawberryPhi.Web.Jobs.JobView>(Json.Options))!;
        using var again = await api.PostAsJsonAsync(new Uri($"api/jobs/{origin.Id}/rerun", UriKind.Relative), new { providerId = local, model = "strawberry-small" });
        Assert.Equal(HttpStatusCode.OK, again.StatusCode); // a double click makes no second job
        Assert.Equal(rerun.Id, (await again.Content.ReadFromJsonAsync<StrawberryPhi.Web.Jobs.JobView>(Json.Options))!.Id);
        Assert.Equal((origin.Id, origin.TrainingDatasetId, origin.Seed, "strawberry-small"), (rerun.RerunOfJobId, rerun.TrainingDatasetId, rerun.Seed, rerun.Model));

        var done = await host.WaitJobAsync(rerun.Id, j => j.IsFinal);
        Assert.Equal("succeeded", done.Status);
        Assert.Equal(origin.Hyperparameters["n_epochs"], done.Hyperparameters["n_epochs"]);
        Assert.Equal(origin.Hyperparameters["batch_size"], done.Hyperparameters["batch_size"]);
        // Its model is compared with the origin's golden outputs, by itself.
        var comparison = await host.WaitForAsync(async () =>
        {
            await using var context = await host.Service<Microsoft.EntityFrameworkCore.IDbContextFactory<StudioDbContext>>().CreateDbContextAsync();
            var id = context.EvalRuns.Where(r => r.GoldenId == golden.Id).Select(r => (Guid?)r.Id).FirstOrDefault();
            return id is { } runId && await host.Service<EvalService>().GetRunAsync(runId, CancellationToken.None) is { } run && EvalStatuses.IsFinal(run.Status) ? run : null;
        });
        Assert.Equal(EvalStatuses.Succeeded, comparison.Status);
        Assert.Equal($"Local engine/{done.FineTunedModel}", comparison.Models[0].Model);
        Assert.NotNull(comparison.Agreement);
    }

    [Fact]
    public async Task Capture_WithoutASet_UsesTheModelsOwnValidationData_OnceMadeIntoASet()
    {
        var local = await host.LocalConnectionAsync();
        var train = await host.SumsDatasetAsync("golden-own-train.jsonl");
        var validation = await host.SumsDatasetAsync("golden-own-validation.jsonl", examples: 10);
        var (job, _) = await host.Service<StrawberryPhi.Web.Jobs.JobService>().CreateAsync(
            StudioHost.JobInput(local, train, epochs: 1) with { ValidationDatasetId = validation }, null, CancellationToken.None);
        var done = await host.WaitJobAsync(job.Id, j => j.IsFinal);
        Assert.Equal(JobStatuses.Succeeded, done.Status);
        using var api = host.Api();

        using var first = await api.PostAsJsonAsync(new Uri("api/golden", UriKind.Relative), new { providerId = local, model = done.FineTunedModel });
        Assert.True(first.StatusCode == HttpStatusCode.Created, await first.Content.ReadAsStringAsync());
        var golden = (await first.Content.ReadFromJsonAsync<GoldenView>(Json.Options))!;
        var service = host.Service<GoldenService>();
        var frozen = await host.WaitForAsync(async () => await service.GetAsync(golden.Id, CancellationToken.None) is { Status: EvalStatuses.Succeeded } g ? g : null);
        Assert.Equal(10, frozen.Answers.Count);
        var set = await host.Service<EvalService>().GetSetAsync(golden.SetId, CancellationToken.None);
        Assert.Equal(validation, set.DatasetId);

        // A second capture of the same model uses the same set, not a copy.
        using var second = await api.PostAsJsonAsync(new Uri("api/golden", UriKind.Relative), new { providerId = local, model = done.FineTunedModel });
        Assert.Equal(golden.SetId, (await second.Content.ReadFromJsonAsync<GoldenView>(Json.Options))!.SetId);

        // A base model has no validation data of its own: the refusal says to choose a set.
        using var refused = await api.PostAsJsonAsync(new Uri("api/golden", UriKind.Relative), new { providerId = local, model = "strawberry-tiny" });
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        var body = await refused.Content.ReadAsStringAsync();
        Assert.Contains("setId", body, StringComparison.Ordinal);
        Assert.Contains("No job of this connection made strawberry-tiny", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rerun_WithoutTheTrainingDataHeld_SaysWhatIsMissing()
    {
        var local = await host.LocalConnectionAsync();
        var now = host.Service<TimeProvider>().GetUtcNow().UtcDateTime;
        var row = new FineTuneJob { Id = Guid.NewGuid(), ProviderId = local, Model = "strawberry-tiny", MethodType = "supervised", Origin = "imported", CreatedAt = now, TrainingFileId = "file-elsewhere" };
        row.MarkSubmitted("ftjob-no-data", now);
        await using (var context = await host.Service<Microsoft.EntityFrameworkCore.IDbContextFactory<StudioDbContext>>().CreateDbContextAsync())
        {
            context.Jobs.Add(row);
            await context.SaveChangesAsync();
        }
        using var api = host.Api();
        using var response = await api.PostAsJsonAsync(new Uri($"api/jobs/{row.Id}/rerun", UriKind.Relative), new { providerId = local });
        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Contains("file-elsewhere", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    private async Task<EvalRunView> CompareAsync(HttpClient api, Guid goldenId, Guid providerId, string model)
    {
        using var response = await api.PostAsJsonAsync(new Uri($"api/golden/{goldenId}/compare", UriKind.Relative), new { providerId, model });
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        var run = (await response.Content.ReadFromJsonAsync<EvalRunView>(Json.Options))!;
        return await host.WaitForAsync(async () => await host.Service<EvalService>().GetRunAsync(run.Id, CancellationToken.None) is { } r && EvalStatuses.IsFinal(r.Status) ? r : null);
    }
}

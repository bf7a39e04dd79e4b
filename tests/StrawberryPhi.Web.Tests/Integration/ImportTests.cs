using System.ClientModel;
using System.ClientModel.Primitives;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using OpenAI;
using OpenAI.Files;
using StrawberryPhi.Web.Jobs;

namespace StrawberryPhi.Web.Tests.Integration;

/// <summary>
/// A connection's history brought in: jobs made through the engine's own API, outside the studio, imported whole
/// (events, metric points, checkpoints, result files), again only what is new, one failing job not stopping the others.
/// </summary>
public sealed class ImportTests(StudioHost host) : IClassFixture<StudioHost>
{
    private LocalEngine.Api.LocalEngine Engine => host.Service<LocalEngine.Api.LocalEngine>();

    private async Task<JobImportResult> ImportAsync()
    {
        using var api = host.Api();
        using var response = await api.PostAsync(new Uri($"api/providers/{await host.LocalConnectionAsync()}/import-jobs", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JobImportResult>(Json.Options))!;
    }

    [Fact]
    public async Task Import_EveryJobWhole_HundredsOfEventsPaged_ThenAgainOnlyWhatIsNew_AndAFailingJobDoesNotStopTheOthers()
    {
        // 12 examples, batch 1, 20 epochs: 240 steps, each with its metrics event (several pages of events).
        var big = await host.OutsideJobAsync(12, 20, 1);
        var small = await host.OutsideJobAsync(10, 1, 5);

        var first = await ImportAsync();

        Assert.Empty(first.Failures);
        Assert.Equal((2, 2), (first.JobsFound, first.JobsNew));
        var engineEvents = Engine.Store.ListEvents(big).Count + Engine.Store.ListEvents(small).Count;
        Assert.True(engineEvents > 250, $"{engineEvents} events");
        Assert.Equal((engineEvents, engineEvents), (first.EventsFound, first.EventsNew));
        Assert.Equal(first.CheckpointsFound, first.CheckpointsNew);
        Assert.True(first.CheckpointsNew >= 2 + 1, $"{first.CheckpointsNew} checkpoints");

        var jobs = host.Service<JobService>();
        var imported = await jobs.ListAsync(new JobQuery(Origin: JobImporter.Origin), CancellationToken.None);
        Assert.Equal(2, imported.Total);
        var bigJob = imported.Items.Single(j => j.RemoteId == big);
        Assert.Equal("succeeded", bigJob.Status);
        Assert.NotNull(bigJob.FineTunedModel);
        // The charts are rebuilt from the metric events: every step once.
        var steps = (await jobs.MetricsAsync(bigJob.Id, CancellationToken.None)).Select(m => m.Step).ToList();
        Assert.Equal(Enumerable.Range(1, 240), steps);
        Assert.NotEmpty(await jobs.ResultFilesAsync(bigJob.Id, withContent: false, CancellationToken.None));
        // The training files' content is held here now, byte for byte, as datasets named as at the provider.
        Assert.Equal(2, first.FilesDownloaded);
        var (content, fileName, _, _) = await host.Service<StrawberryPhi.Web.Datasets.DatasetService>().OpenAsync(bigJob.TrainingDatasetId!.Value, CancellationToken.None);
        await using (content)
        {
            Assert.Equal(StudioHost.OutsideLines(12), await new StreamReader(content).ReadToEndAsync());
        }
        Assert.StartsWith("outside-", fileName, StringComparison.Ordinal);
        Assert.Equal("provider", (await host.Service<StrawberryPhi.Web.Datasets.DatasetService>().GetAsync(bigJob.TrainingDatasetId!.Value, CancellationToken.None)).Summary.Origin);

        var again = await ImportAsync();
        Assert.Equal((2, 0, engineEvents, 0, 0, 0), (again.JobsFound, again.JobsNew, again.EventsFound, again.EventsNew, again.CheckpointsNew, again.FilesDownloaded));

        // A third job whose events the provider cannot give: reported, and the others still imported.
        var failing = await host.OutsideJobAsync(10, 1, 5);
        var fourth = await host.OutsideJobAsync(10, 1, 5);
        host.Faults.Rule = (request, _) => request.RequestUri!.AbsolutePath.EndsWith($"/fine_tuning/jobs/{failing}/events", StringComparison.Ordinal)
            ? FaultInjector.OpenAiError(HttpStatusCode.InternalServerError, "The events store is down.", "server_error")
            : null;
        try
        {
            var third = await ImportAsync();
            var failure = Assert.Single(third.Failures);
            Assert.Equal(failing, failure.RemoteId);
            Assert.Contains("The events store is down.", failure.Reason, StringComparison.Ordinal);
            Assert.Equal((4, 2), (third.JobsFound, third.JobsNew));
            Assert.Equal(Engine.Store.ListEvents(fourth).Count, third.EventsNew);
        }
        finally
        {
            host.Faults.Rule = null;
        }
        // Once the provider answers again, the import completes what it missed (unless the tracker, which retries
        // the failed poll on its own, got there first: either way every event is stored once).
        var fifth = await ImportAsync();
        Assert.Empty(fifth.Failures);
        var failingRow = (await jobs.ListAsync(new JobQuery(Origin: JobImporter.Origin, Take: 100), CancellationToken.None)).Items.Single(j => j.RemoteId == failing);
        var stored = await jobs.EventsAsync(failingRow.Id, null, 0, 10_000, CancellationToken.None);
        Assert.Equal(Engine.Store.ListEvents(failing).Select(e => e.Id).Order(), stored.Items.Select(e => e.RemoteId).Order());
    }
}

/// <summary><c>phi import jobs</c> against a studio of its own (the counts above must not see its job).</summary>
public sealed class ImportCliTests(StudioHost host) : IClassFixture<StudioHost>
{
    [Fact]
    public async Task ImportCli_SaysWhatItFound()
    {
        var client = new OpenAIClient(new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(host.BaseAddress, "local/v1") });
        var lines = string.Join("\n", Enumerable.Range(0, 10).Select(i => $$"""{"messages": [{"role": "user", "content": "{{i}}+1="}, {"role": "assistant", "content": "{{i + 1}}"}]}"""));
        var file = (await client.GetOpenAIFileClient().UploadFileAsync(BinaryData.FromString(lines), "cli-outside.jsonl", FileUploadPurpose.FineTune)).Value;
        using var content = BinaryContent.Create(BinaryData.FromString($$"""{"model": "strawberry-tiny", "training_file": "{{file.Id}}"}"""));
#pragma warning disable OPENAI001
        var created = await client.GetFineTuningClient().FineTuneAsync(content, waitUntilCompleted: false, new RequestOptions());
#pragma warning restore OPENAI001

        var result = await PhiRunner.Phi("import", "jobs", "--studio", host.BaseAddress.ToString(), "--format", "json");

        Assert.True(result.Code == 0, result.Error);
        var json = JsonNode.Parse(result.Output)!;
        Assert.Equal((1, 1), (json["jobsFound"]!.GetValue<int>(), json["jobsNew"]!.GetValue<int>()));
        Assert.Empty(json["failures"]!.AsArray());
        var text = await PhiRunner.Phi("import", "jobs", "--studio", host.BaseAddress.ToString());
        Assert.StartsWith("1 job (0 new), ", text.Output, StringComparison.Ordinal);
        Assert.Equal(created.JobId, (await host.Service<JobService>().ListAsync(new JobQuery(Origin: JobImporter.Origin), CancellationToken.None)).Items.Single().RemoteId);
    }
}

/// <summary>The inventory: each fine-tuned model with its base's shutdown, what is held here, most urgent first.</summary>
public sealed class InventoryTests(StudioHost host) : IClassFixture<StudioHost>
{
    [Fact]
    public async Task Inventory_MostUrgentFirst_SaysWhatIsHeldAndWhatIsMissing()
    {
        var trained = await host.FinishedJobAsync("inventory-train.jsonl");
        // A fine-tune of a base with a shutdown date, as an import of an OpenAI account would record it (no data held).
        var local = await host.LocalConnectionAsync();
        var now = host.Service<TimeProvider>().GetUtcNow().UtcDateTime;
        await using (var context = await host.Service<Microsoft.EntityFrameworkCore.IDbContextFactory<StrawberryPhi.Web.Data.StudioDbContext>>().CreateDbContextAsync())
        {
            var row = new StrawberryPhi.Web.Data.FineTuneJob
            {
                Id = Guid.NewGuid(), ProviderId = local, Model = "gpt-4o-mini-2024-07-18", MethodType = "supervised", Origin = JobImporter.Origin,
                CreatedAt = now, TrainingFileId = "file-abc",
            };
            row.MarkSubmitted("ftjob-inventory", now);
            row.Apply("succeeded", "ft:gpt-4o-mini-2024-07-18:acme::inv1", 1000, null, null, null, null, null, now, null, "{}", now);
            context.Jobs.Add(row);
            await context.SaveChangesAsync();
        }
        using var api = host.Api();
        var inventory = (await api.GetFromJsonAsync<Inventory>(new Uri("api/inventory", UriKind.Relative), Json.Options))!;

        Assert.Equal(2, inventory.Items.Count);
        var urgent = inventory.Items[0];
        Assert.Equal(("ft:gpt-4o-mini-2024-07-18:acme::inv1", "gpt-4o-mini-2024-07-18", new DateOnly(2027, 1, 14)), (urgent.Model, urgent.BaseModel, urgent.BaseShutdown));
        Assert.Equal(new DateOnly(2027, 1, 14).DayNumber - inventory.Today.DayNumber, urgent.DaysLeft);
        Assert.True(urgent.AtRisk);
        Assert.False(urgent.TrainingDataHeld);
        Assert.Contains(urgent.Missing, m => m.StartsWith("training data", StringComparison.Ordinal));
        var ours = inventory.Items[1];
        Assert.Equal((trained.FineTunedModel, (int?)null, false, true), (ours.Model, ours.DaysLeft, ours.AtRisk, ours.TrainingDataHeld));
        Assert.Equal(1, inventory.AtRisk);

        var cli = await PhiRunner.Phi("inventory", "--studio", host.BaseAddress.ToString());
        Assert.True(cli.Code == 0, cli.Error);
        Assert.Contains("2 fine-tuned models, 1 at risk", cli.Output, StringComparison.Ordinal);
    }
}

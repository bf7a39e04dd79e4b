using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using StrawberryPhi.Core.Transform;
using StrawberryPhi.Providers;
using StrawberryPhi.Web.Data;
using StrawberryPhi.Web.Datasets;
using StrawberryPhi.Web.Providers;
using StrawberryPhi.Web.Settings;

namespace StrawberryPhi.Web.Tests.Integration;

/// <summary>The dead ends and rough edges a new user hit in the datasets workflow, each seen through the API or the services.</summary>
public sealed class DatasetWorkflowTests(StudioHost host) : IClassFixture<StudioHost>
{
    private DatasetService Datasets => host.Service<DatasetService>();

    private async Task<ProviderView> LocalAsync() =>
        (await host.Service<ProviderConnectionService>().ListAsync(CancellationToken.None)).Single(p => p.BuiltIn);

    [Fact]
    public async Task Clean_DatasetWithErrors_MakesACleanCopyThatSaysWhichLinesWentAndWhy()
    {
        var source = await host.UploadAsync(StudioHost.Example("with-defects.jsonl"), "to-clean.jsonl");
        await host.WaitValidatedAsync(source.Id);

        using var api = host.Api();
        using var response = await api.PostAsync(new Uri($"api/datasets/{source.Id}/clean", UriKind.Relative), null);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var cleaned = (await response.Content.ReadFromJsonAsync<DatasetSummary>(Json.Options))!;
        Assert.Equal(("clean", source.Id, "to-clean · clean"), (cleaned.Origin, cleaned.ParentId, cleaned.Name));
        var detail = await host.WaitValidatedAsync(cleaned.Id);
        Assert.Equal(0, detail.Report!.Errors);
        Assert.Contains("line 3 (unrecognized_role)", detail.OriginDetail, StringComparison.Ordinal);
        Assert.Contains("line 6 (example_missing_assistant_message)", detail.OriginDetail, StringComparison.Ordinal);
        Assert.Contains("line 8 (invalid_json)", detail.OriginDetail, StringComparison.Ordinal);
        Assert.Null(DatasetUploadService.WhyNotUploadable(detail.Summary.Status, detail.Summary.Errors));

        // Nothing to clean is said, not made.
        using var again = await api.PostAsync(new Uri($"api/datasets/{cleaned.Id}/clean", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
    }

    [Fact]
    public async Task ConvertWithWrap_ReflectionIssuesAreTheirOwnVerdict_AndTheUploadGoes()
    {
        var source = await host.UploadAsync(StudioHost.Example("qa.csv"), "qa-upload.csv");
        var imported = await Datasets.ImportAsync(source.Id, new ImportRequest(null, null, null), CancellationToken.None);
        await host.WaitValidatedAsync(imported.Id);
        var converted = await Datasets.ConvertAsync(imported.Id, new ConvertRequest(null, SystemPromptMode.Prepend, WrapOutput: true), CancellationToken.None);

        var detail = await host.WaitValidatedAsync(converted.Id);

        Assert.Equal(12, detail.Report!.ReflectionErrors);
        Assert.Equal(12, detail.Report.Counts["reflection_missing_thinking"]);
        Assert.Equal((0L, 12L), (detail.Summary.Errors, detail.Summary.ReflectionErrors));
        Assert.Contains("wrapped 12 plain answers in <output>; none already had reflection tags. No reasoning was invented", detail.OriginDetail, StringComparison.Ordinal);
        Assert.Null(DatasetUploadService.WhyNotUploadable(detail.Summary.Status, detail.Summary.Errors));
        var uploads = host.Service<DatasetUploadService>();
        var upload = await uploads.StartAsync(converted.Id, (await LocalAsync()).Id, CancellationToken.None);
        await uploads.WaitAsync(upload.Id).WaitAsync(StudioHost.Timeout);
        Assert.Equal(UploadStatus.Uploaded, Assert.Single(await uploads.ListAsync(converted.Id, CancellationToken.None)).Status);
    }

    [Fact]
    public async Task Split_SmallDataset_TheValidationPartIsUsable()
    {
        var source = await host.UploadAsync(StudioHost.Example("reflection-sample.jsonl"), "small-split.jsonl");
        await host.WaitValidatedAsync(source.Id);

        var parts = await Datasets.SplitAsync(source.Id, new SplitRequest(0.1, 42), CancellationToken.None);

        var validation = await host.WaitValidatedAsync(parts[1].Id);
        Assert.InRange(validation.Report!.Examples, 1, 9);
        Assert.DoesNotContain(validation.Report.Issues, i => i.Code == "too_few_examples");
        Assert.Equal(0, validation.Summary.Errors);
    }

    [Fact]
    public async Task Upload_LongFileName_KeepsItsBeginning()
    {
        var name = "Customer support transcripts " + new string('x', 240) + ".jsonl";

        var created = await host.UploadAsync(StudioHost.Example("reflection-sample.jsonl"), name);

        Assert.StartsWith("Customer support transcripts xxx", created.FileName, StringComparison.Ordinal);
        Assert.EndsWith(".jsonl", created.FileName, StringComparison.Ordinal);
        Assert.Equal(200, created.FileName.Length);
    }

    [Fact]
    public async Task ImportedSource_SaysSoAndLinksItsResult_AndIdenticalContentLinksTheDatasetThatHasIt()
    {
        var source = await host.UploadAsync(StudioHost.Example("qa.csv"), "imported-once.csv");
        var imported = await Datasets.ImportAsync(source.Id, new ImportRequest("question", "answer", null), CancellationToken.None);

        Assert.Equal(imported.Id, (await Datasets.GetAsync(source.Id, CancellationToken.None)).Summary.ImportedAs);
        Assert.Equal("imported-once · imported", imported.Name);
        Assert.Equal(imported.Id, (await Datasets.ListAsync(CancellationToken.None)).Single(d => d.Id == source.Id).ImportedAs);

        var twice = await host.UploadAsync(StudioHost.Example("qa.csv"), "imported-once.csv");
        Assert.Equal("imported-once (2)", twice.Name); // told apart from the first in lists and links
        var again = await host.UploadAsync(StudioHost.Example("qa.csv"), "imported-again.csv");
        var link = Assert.Single((await Datasets.GetAsync(again.Id, CancellationToken.None)).SameContent, l => l.Id == source.Id);
        Assert.Contains((await Datasets.GetAsync(again.Id, CancellationToken.None)).SameContent, l => l.Name == "imported-once (2)");
        Assert.Equal("imported-once", link.Name);
    }

    [Fact]
    public async Task ImportPreview_NamesTheGuessedColumns_AndShowsTheFirstRecords()
    {
        var source = await host.UploadAsync(StudioHost.Example("qa.csv"), "preview-import.csv");

        var preview = await Datasets.ImportPreviewAsync(source.Id, new ImportRequest(null, null, null), 3, CancellationToken.None);

        Assert.Equal("columns prompt=question, response=answer", preview.Reads);
        Assert.Equal(new ImportColumns("question", "answer", null), preview.Columns);
        Assert.Equal(3, preview.Examples.Count);
        Assert.Equal("What is 1 times 3?", preview.Examples[0].Messages[0].Text);
        var wrong = await Datasets.ImportPreviewAsync(source.Id, new ImportRequest("nope", null, null), 3, CancellationToken.None);
        Assert.StartsWith("The prompt column \"nope\" does not exist", wrong.Error, StringComparison.Ordinal);
        var twice = await Datasets.ImportPreviewAsync(source.Id, new ImportRequest("question", "answer", "question"), 3, CancellationToken.None);
        Assert.Equal("The system prompt and the prompt are both column \"question\"; choose a different column for each.", twice.Error);
    }

    [Fact]
    public async Task ShutDownModels_AreMarked_CannotBeTheDefault_AndGetNoCost()
    {
        var connections = host.Service<ProviderConnectionService>();
        var openAi = await connections.CreateAsync(new ProviderInput($"OpenAI {Guid.NewGuid():N}", ProviderKind.OpenAI, null, "sk-test-0000000000000000", null, null), CancellationToken.None);
        var models = await connections.ModelsAsync(openAi.Id, CancellationToken.None);
        var nano = Assert.Single(models.Models, m => m.Id == "gpt-4.1-nano-2025-04-14");
        Assert.True(nano.ShutDown);
        Assert.Null(nano.TrainingPricePer1M);
        Assert.False(Assert.Single(models.Models, m => m.Id == "gpt-4o-mini-2024-07-18").ShutDown);

        var settings = host.Service<SettingsService>();
        var refused = await Assert.ThrowsAsync<StudioException>(() => settings.UpdateAsync(s => s with { DefaultTargetModel = "gpt-4.1-nano-2025-04-14" }, CancellationToken.None));
        Assert.Equal("defaultTargetModel", refused.Field);

        var dataset = await host.UploadAsync(StudioHost.Example("reflection-sample.jsonl"), "for-a-retired-model.jsonl");
        await host.WaitValidatedAsync(dataset.Id);
        await Datasets.RevalidateAsync(dataset.Id, new ValidateRequest("gpt-4.1-nano-2025-04-14", null), CancellationToken.None);
        var estimate = (await host.WaitValidatedAsync(dataset.Id)).Report!.Estimate!;
        Assert.Null(estimate.CostUsd);
        Assert.Contains(estimate.Notices, n => n.Code == "model_shut_down");
    }

    [Fact]
    public async Task CustomEndpoint_ModelsAreWhatItLists()
    {
        var connections = host.Service<ProviderConnectionService>();
        var custom = await connections.CreateAsync(
            new ProviderInput($"Custom {Guid.NewGuid():N}", ProviderKind.Custom, new Uri(host.BaseAddress, "local/v1/").ToString(), null, null, null), CancellationToken.None);

        var models = await connections.ModelsAsync(custom.Id, CancellationToken.None);

        Assert.Equal(["strawberry-tiny", "strawberry-small"], models.Models.Select(m => m.Id).Take(2).ToArray());
        Assert.DoesNotContain(models.Models, m => m.Id.StartsWith("gpt-", StringComparison.Ordinal));
    }

    [Fact]
    public async Task UploadToProvider_AlreadyThere_SaysSoWithItsFileId()
    {
        var dataset = await host.UploadAsync(StudioHost.Example("reflection-sample.jsonl"), "twice.jsonl");
        await host.WaitValidatedAsync(dataset.Id);
        var local = await LocalAsync();
        using var api = host.Api();
        using var first = await api.PostAsJsonAsync(new Uri($"api/datasets/{dataset.Id}/uploads", UriKind.Relative), new { providerId = local.Id });
        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        await host.Service<DatasetUploadService>().WaitAsync((await first.Content.ReadFromJsonAsync<UploadView>(Json.Options))!.Id).WaitAsync(StudioHost.Timeout);

        using var second = await api.PostAsJsonAsync(new Uri($"api/datasets/{dataset.Id}/uploads", UriKind.Relative), new { providerId = local.Id });

        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        var upload = (await second.Content.ReadFromJsonAsync<UploadView>(Json.Options))!;
        Assert.Equal(UploadStatus.Uploaded, upload.Status);
        Assert.StartsWith("file-", upload.RemoteFileId, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LocalContextFit_SaysWhatIsLongerThanEachLocalBase()
    {
        var dataset = await host.UploadAsync(StudioHost.Example("reflection-sample.jsonl"), "context-fit.jsonl");
        await host.WaitValidatedAsync(dataset.Id);
        using var api = host.Api();

        var fits = await api.GetFromJsonAsync<JsonElement>(new Uri($"api/datasets/{dataset.Id}/local-context", UriKind.Relative));

        var tiny = fits.EnumerateArray().Single(f => f.GetProperty("model").GetString() == "strawberry-tiny");
        Assert.Equal(256, tiny.GetProperty("context").GetInt32());
        Assert.True(tiny.GetProperty("longer").GetInt64() > 0, tiny.ToString());
        Assert.Equal(0, tiny.GetProperty("nothingLeft").GetInt64());
    }

    [Fact]
    public async Task Healthz_WhileEveryLoopRuns_IsHealthy()
    {
        using var api = host.Api();
        using var response = await api.GetAsync(new Uri("healthz", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Healthy", await response.Content.ReadAsStringAsync());
    }
}

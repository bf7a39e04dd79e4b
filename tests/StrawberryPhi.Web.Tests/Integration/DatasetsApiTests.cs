using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using StrawberryPhi.Core.Validation;
using StrawberryPhi.Web.Data;
using StrawberryPhi.Web.Datasets;
using StrawberryPhi.Web.Providers;

namespace StrawberryPhi.Web.Tests.Integration;

public sealed class DatasetsApiTests(StudioHost host) : IClassFixture<StudioHost>
{
    private DatasetService Datasets => host.Service<DatasetService>();

    [Fact]
    public async Task Upload_WithKnownDefects_ReportsEachAtItsLine()
    {
        var created = await host.UploadAsync(StudioHost.Example("with-defects.jsonl"));
        Assert.Equal(DatasetStatus.Validating, created.Status);

        var detail = await host.WaitValidatedAsync(created.Id);

        Assert.Equal(DatasetStatus.Ready, detail.Summary.Status);
        var issues = detail.Report!.Issues;
        Assert.Contains(issues, i => i is { Line: 3, Code: "unrecognized_role", Path: "$.messages[1].role" });
        Assert.Contains(issues, i => i is { Line: 6, Code: "example_missing_assistant_message" });
        Assert.Contains(issues, i => i is { Line: 8, Code: "invalid_json" });
        Assert.Contains(issues, i => i is { Line: 10, Code: "duplicate_example" });
        Assert.Equal(14, detail.Report.Lines);
        Assert.True(detail.Report.Tokens.Histogram.Count > 0);
        Assert.Equal("gpt-4o-mini-2024-07-18", detail.Report.Estimate!.Model);

        using var api = host.Api();
        var page = await api.GetFromJsonAsync<IssuePage>(new Uri($"api/datasets/{created.Id}/issues?code=invalid_json", UriKind.Relative), Json.Options);
        Assert.Equal(8, Assert.Single(page!.Items).Line);
        // The severity is written as reports write it, in any case.
        var errors = await api.GetFromJsonAsync<IssuePage>(new Uri($"api/datasets/{created.Id}/issues?severity=error", UriKind.Relative), Json.Options);
        Assert.Equal(4, errors!.Total);
        Assert.All(errors.Items, i => Assert.Equal(Severity.Error, i.Severity));
        var warnings = await api.GetFromJsonAsync<IssuePage>(new Uri($"api/datasets/{created.Id}/issues?severity=WARNING", UriKind.Relative), Json.Options);
        Assert.Equal(2, warnings!.Total);
    }

    [Fact]
    public async Task Times_ReadBackFromTheDatabase_AreSentAsUtc()
    {
        var created = await host.UploadAsync(StudioHost.Example("reflection-sample.jsonl"), "times.jsonl");
        await host.WaitValidatedAsync(created.Id);
        var connections = host.Service<ProviderConnectionService>();
        var local = (await connections.ListAsync(CancellationToken.None)).Single(p => p.BuiltIn);
        await connections.TestAsync(local.Id, CancellationToken.None);

        using var api = host.Api();
        using var datasets = JsonDocument.Parse(await api.GetStringAsync(new Uri("api/datasets", UriKind.Relative)));
        var row = datasets.RootElement.EnumerateArray().Single(d => d.GetProperty("id").GetGuid() == created.Id);
        using var providers = JsonDocument.Parse(await api.GetStringAsync(new Uri("api/providers", UriKind.Relative)));
        var provider = providers.RootElement.EnumerateArray().Single(p => p.GetProperty("id").GetGuid() == local.Id);

        // SQLite keeps no kind: without marking them UTC again they came back zone-less and clients read local time.
        Assert.EndsWith("Z", row.GetProperty("createdAt").GetString(), StringComparison.Ordinal);
        Assert.EndsWith("Z", provider.GetProperty("lastTestedAt").GetString(), StringComparison.Ordinal);
        Assert.Equal(DateTimeKind.Utc, (await Datasets.GetAsync(created.Id, CancellationToken.None)).Summary.CreatedAt.Kind);
    }

    [Fact]
    public async Task Examples_PageBySizeAndSearch_ReadTheRightLines()
    {
        var created = await host.UploadAsync(StudioHost.Example("with-defects.jsonl"), "preview.jsonl");

        var second = await Datasets.ExamplesAsync(created.Id, 1, 5, null, CancellationToken.None);
        Assert.Equal(14, second.Total);
        Assert.Equal([6L, 7, 8, 9, 10], second.Items.Select(e => e.Line).ToArray());
        Assert.NotNull(second.Items.Single(e => e.Line == 8).ParseError);

        var search = await Datasets.ExamplesAsync(created.Id, 0, 10, "ASSISTENT", CancellationToken.None);
        var match = Assert.Single(search.Items);
        Assert.Equal(3, match.Line);
        Assert.Equal("assistent", match.Messages[1].Role);

        var reflective = (await Datasets.ExampleAsync(created.Id, 4, CancellationToken.None)).Messages[^1].Reflection!;
        Assert.Equal(1, reflective.Reflections);
        Assert.Contains(reflective.Thinking, s => s.Kind == SegmentKind.Reflection && s.Text.StartsWith("Checking:", StringComparison.Ordinal));
        Assert.Equal("29", reflective.Output);
    }

    [Fact]
    public async Task ConvertSplitDedupe_MakeNewDatasetsWithProvenance_AndLeaveTheOriginalUntouched()
    {
        var source = await host.UploadAsync(StudioHost.Example("with-defects.jsonl"), "source.jsonl");
        await host.WaitValidatedAsync(source.Id);
        var before = await Sha256Async(source.Id);

        var converted = await Datasets.ConvertAsync(source.Id, new ConvertRequest(null), CancellationToken.None);
        var halves = await Datasets.SplitAsync(source.Id, new SplitRequest(0.25, 7), CancellationToken.None);
        var unique = await Datasets.DedupeAsync(source.Id, CancellationToken.None);

        Assert.Equal(before, await Sha256Async(source.Id));
        Assert.All([converted, .. halves, unique], d => Assert.Equal(source.Id, d.ParentId));
        Assert.Equal(["convert", "split-train", "split-validation", "dedupe"], new[] { converted, halves[0], halves[1], unique }.Select(d => d.Origin).ToArray());

        var dedupeDetail = await host.WaitValidatedAsync(unique.Id);
        Assert.StartsWith("1 duplicate removed", dedupeDetail.OriginDetail, StringComparison.Ordinal);
        Assert.DoesNotContain(dedupeDetail.Report!.Issues, i => i.Code == "duplicate_example");

        var train = await host.WaitValidatedAsync(halves[0].Id);
        var validation = await host.WaitValidatedAsync(halves[1].Id);
        Assert.Equal(14, train.Report!.Lines + validation.Report!.Lines);
        Assert.True(validation.Report.Lines > 0 && train.Report.Lines > validation.Report.Lines);

        var reflection = await host.WaitValidatedAsync(converted.Id);
        Assert.True(reflection.ReflectionChecks);
        Assert.NotNull(reflection.Report!.Reflection);
        var parent = await Datasets.GetAsync(source.Id, CancellationToken.None);
        Assert.Equal(4, parent.Children.Count);
    }

    [Fact]
    public async Task ImportCsv_WithColumnMapping_MakesAValidChatDataset()
    {
        var source = await host.UploadAsync(StudioHost.Example("qa.csv"));
        Assert.Equal(DatasetStatus.NeedsImport, source.Status);
        var detail = await Datasets.GetAsync(source.Id, CancellationToken.None);
        Assert.Equal(["question", "answer"], detail.Columns!.ToArray());

        using var api = host.Api();
        using var wrong = await api.PostAsJsonAsync(new Uri($"api/datasets/{source.Id}/import", UriKind.Relative), new ImportRequest("nope", null, null), Json.Options);
        Assert.Equal(HttpStatusCode.BadRequest, wrong.StatusCode);
        using (var problem = JsonDocument.Parse(await wrong.Content.ReadAsStringAsync()))
        {
            Assert.StartsWith("The prompt column \"nope\" does not exist; the columns are: question, answer.", problem.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        using var response = await api.PostAsJsonAsync(new Uri($"api/datasets/{source.Id}/import", UriKind.Relative), new ImportRequest("question", "answer", null), Json.Options);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var imported = (await response.Content.ReadFromJsonAsync<DatasetSummary>(Json.Options))!;
        var report = (await host.WaitValidatedAsync(imported.Id)).Report!;

        Assert.Equal(12, report.Examples);
        Assert.Equal(0, report.Errors);
        Assert.Equal("import", imported.Origin);
    }

    [Fact]
    public async Task SameBytes_UploadedAndDeletedAtOnce_EveryRemainingDatasetKeepsItsFile()
    {
        var unique = Path.Combine(host.DataDirectory, "..", $"race-{Guid.NewGuid():N}.jsonl");
        await File.WriteAllTextAsync(unique, $$"""{"messages":[{"role":"user","content":"{{Guid.NewGuid():N}}"},{"role":"assistant","content":"ok"}]}""" + "\n");
        try
        {
            // Identical uploads at once: each is kept, and all share one file.
            var first = await Task.WhenAll(Enumerable.Range(0, 4).Select(i => host.UploadAsync(unique, $"race-{i}.jsonl")));
            var stored = Path.Combine(host.DataDirectory, "datasets", (await Datasets.GetAsync(first[0].Id, CancellationToken.None)).Sha256 + ".jsonl");
            Assert.True(File.Exists(stored));

            // Deleting all of them while the same bytes arrive again: the file stays for the new ones.
            using var api = host.Api();
            var deletes = first.Select(d => api.DeleteAsync(new Uri($"api/datasets/{d.Id}", UriKind.Relative)));
            var uploads = Enumerable.Range(0, 3).Select(i => host.UploadAsync(unique, $"again-{i}.jsonl"));
            var deleted = Task.WhenAll(deletes);
            var again = await Task.WhenAll(uploads);
            foreach (var response in await deleted)
            {
                Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
                response.Dispose();
            }

            Assert.True(File.Exists(stored), "datasets uploaded again still use the file");
            foreach (var dataset in again)
            {
                Assert.Equal(1, (await Datasets.ExamplesAsync(dataset.Id, 0, 10, null, CancellationToken.None)).Total);
            }
        }
        finally
        {
            File.Delete(unique);
        }
    }

    [Fact]
    public async Task StoredFileRemovedOutsideTheStudio_EveryUseSaysSoInWords()
    {
        var unique = Path.Combine(host.DataDirectory, "..", $"vanish-{Guid.NewGuid():N}.jsonl");
        await File.WriteAllTextAsync(unique, $$"""{"messages":[{"role":"user","content":"{{Guid.NewGuid():N}}"},{"role":"assistant","content":"ok"}]}""" + "\n");
        DatasetSummary dataset;
        try
        {
            dataset = await host.UploadAsync(unique, "vanish.jsonl");
        }
        finally
        {
            File.Delete(unique);
        }
        await host.WaitValidatedAsync(dataset.Id);
        var stored = (await Datasets.GetAsync(dataset.Id, CancellationToken.None)).Sha256 + ".jsonl";
        File.Delete(Path.Combine(host.DataDirectory, "datasets", stored));
        using var api = host.Api();

        foreach (var (method, url) in new[]
        {
            (HttpMethod.Get, $"api/datasets/{dataset.Id}/examples?page=0"),
            (HttpMethod.Get, $"api/datasets/{dataset.Id}/examples/1"),
            (HttpMethod.Get, $"api/datasets/{dataset.Id}/content"),
            (HttpMethod.Post, $"api/datasets/{dataset.Id}/split"),
            (HttpMethod.Post, $"api/datasets/{dataset.Id}/dedupe"),
        })
        {
            using var request = new HttpRequestMessage(method, new Uri(url, UriKind.Relative)) { Content = method == HttpMethod.Post ? JsonContent.Create(new { }) : null };
            using var response = await api.SendAsync(request);
            Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
            Assert.Contains($"datasets/{stored} in the data directory) is missing", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // Validating again marks the dataset failed with the same words; its row and report stay readable.
        await Datasets.RevalidateAsync(dataset.Id, new ValidateRequest(null, null), CancellationToken.None);
        var detail = await host.WaitValidatedAsync(dataset.Id);
        Assert.Equal(DatasetStatus.Failed, detail.Summary.Status);
        Assert.Contains("is missing: it was moved or deleted outside the studio", detail.Summary.StatusMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Delete_RemovesTheRowAndTheFileOnlyWhenNoOtherDatasetSharesIt_ChildrenStay()
    {
        // Content no other test uploads, with one duplicate so that the de-duplicated child has other bytes.
        var unique = Path.Combine(host.DataDirectory, "..", $"unique-{Guid.NewGuid():N}.jsonl");
        var line = $$"""{"messages":[{"role":"user","content":"{{Guid.NewGuid():N}}"},{"role":"assistant","content":"ok"}]}""";
        await File.WriteAllLinesAsync(unique, [line, line]);
        DatasetSummary first, second;
        try
        {
            first = await host.UploadAsync(unique, "shared-a.jsonl");
            second = await host.UploadAsync(unique, "shared-b.jsonl");
        }
        finally
        {
            File.Delete(unique);
        }
        await host.WaitValidatedAsync(first.Id);
        var child = await Datasets.DedupeAsync(first.Id, CancellationToken.None);
        var stored = Path.Combine(host.DataDirectory, "datasets", (await Datasets.GetAsync(first.Id, CancellationToken.None)).Sha256 + ".jsonl");
        using var api = host.Api();

        using (var response = await api.DeleteAsync(new Uri($"api/datasets/{first.Id}", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        }
        Assert.True(File.Exists(stored), "the other dataset with the same bytes still needs the file");
        Assert.Null((await Datasets.GetAsync(child.Id, CancellationToken.None)).Summary.ParentId);

        using (var response = await api.DeleteAsync(new Uri($"api/datasets/{second.Id}", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        }
        Assert.False(File.Exists(stored));
        using var gone = await api.GetAsync(new Uri($"api/datasets/{first.Id}", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
    }

    [Fact]
    public async Task Rename_ChangesTheName_AndAnEmptyNameIsRefused()
    {
        var dataset = await host.UploadAsync(StudioHost.Example("qa.csv"), "rename.csv");
        using var api = host.Api();

        using var ok = await api.PatchAsJsonAsync(new Uri($"api/datasets/{dataset.Id}", UriKind.Relative), new { name = "Times table" }, Json.Options);
        using var bad = await api.PatchAsJsonAsync(new Uri($"api/datasets/{dataset.Id}", UriKind.Relative), new { name = "  " }, Json.Options);

        Assert.Equal("Times table", (await ok.Content.ReadFromJsonAsync<DatasetSummary>(Json.Options))!.Name);
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
    }

    [Fact]
    public async Task UploadBinaryFile_ReportsWhatItIsAtFileLevel()
    {
        var path = Path.Combine(host.DataDirectory, "..", $"garbage-{Guid.NewGuid():N}.jsonl");
        await File.WriteAllBytesAsync(path, [0, 1, 2, 3, 0xff, 0xfe, 0, 0, 7, 8]);
        try
        {
            var created = await host.UploadAsync(path);
            var report = (await host.WaitValidatedAsync(created.Id)).Report!;
            var issue = Assert.Single(report.Issues);
            Assert.Equal(0, issue.Line);
            Assert.Equal("binary_file", issue.Code);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task UploadToLocalEngine_AnswerLostOnTheWay_RetryAdoptsTheFileWithoutDuplicates()
    {
        var (dataset, local) = await ValidDatasetAndLocalEngineAsync("upload-me.jsonl");
        var uploads = host.Service<DatasetUploadService>();
        // Other tests of this class send requests through the same host: only this test's count.
        var mark = host.Faults.Requests.Count;
        // Every upload attempt reaches the engine, which stores the file, but its answer is lost.
        host.Faults.Rule = (request, _) => request.Method == HttpMethod.Post && request.RequestUri!.AbsolutePath.EndsWith("/files", StringComparison.Ordinal) ? new Fault.DropResponse() : null;

        var started = await uploads.StartAsync(dataset.Id, local.Id, CancellationToken.None);
        await uploads.WaitAsync(started.Id).WaitAsync(StudioHost.Timeout);
        host.Faults.Rule = null;

        var upload = Assert.Single(await uploads.ListAsync(dataset.Id, CancellationToken.None));
        Assert.Equal(UploadStatus.Uploaded, upload.Status);
        Assert.StartsWith("file-", upload.RemoteFileId, StringComparison.Ordinal);
        var client = await host.Service<ProviderConnectionService>().ClientAsync(local.Id, CancellationToken.None);
        Assert.Single(await client.ListFilesAsync(CancellationToken.None), f => f.FileName == upload.RemoteFileName);
        Assert.Single(host.Faults.Requests.Skip(mark), r => r.Method == HttpMethod.Post && r.Uri.AbsolutePath.EndsWith("/files", StringComparison.Ordinal));

        // Asking again is a no-op: the dataset is already there.
        var again = await uploads.StartAsync(dataset.Id, local.Id, CancellationToken.None);
        Assert.Equal(upload.RemoteFileId, again.RemoteFileId);
    }

    [Fact]
    public async Task UploadToProvider_StartedTwentyTimesAtOnce_UploadsOnce()
    {
        var (dataset, local) = await ValidDatasetAndLocalEngineAsync("double-click.jsonl");
        var uploads = host.Service<DatasetUploadService>();

        var started = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Task.Run(() => uploads.StartAsync(dataset.Id, local.Id, CancellationToken.None))));
        await Task.WhenAll(started.Select(s => uploads.WaitAsync(s.Id))).WaitAsync(StudioHost.Timeout);

        Assert.Single(started.Select(s => s.Id).Distinct());
        var upload = Assert.Single(await uploads.ListAsync(dataset.Id, CancellationToken.None));
        Assert.Equal(UploadStatus.Uploaded, upload.Status);
        Assert.Equal(1, upload.Attempts);
        var client = await host.Service<ProviderConnectionService>().ClientAsync(local.Id, CancellationToken.None);
        Assert.Single(await client.ListFilesAsync(CancellationToken.None), f => f.FileName == upload.RemoteFileName);
        // A start that raced the upload's end once queued it again, and the second run killed the uploads loop.
        using var api = host.Api();
        using var health = await api.GetAsync(new Uri("healthz", UriKind.Relative));
        Assert.Equal("Healthy", await health.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task UploadToProvider_FailsEveryTime_IsMarkedFailedWithTheReason_ThenRetrySucceedsOnce()
    {
        var (dataset, local) = await ValidDatasetAndLocalEngineAsync("flaky.jsonl");
        var uploads = host.Service<DatasetUploadService>();
        host.Faults.Rule = (request, _) => request.Method == HttpMethod.Post && request.RequestUri!.AbsolutePath.EndsWith("/files", StringComparison.Ordinal)
            ? FaultInjector.OpenAiError(HttpStatusCode.ServiceUnavailable, "The server is overloaded.", "server_error", new Dictionary<string, string> { ["retry-after-ms"] = "1" })
            : null;

        var first = await uploads.StartAsync(dataset.Id, local.Id, CancellationToken.None);
        await uploads.WaitAsync(first.Id).WaitAsync(StudioHost.Timeout);
        var failed = Assert.Single(await uploads.ListAsync(dataset.Id, CancellationToken.None));
        Assert.Equal(UploadStatus.Failed, failed.Status);
        Assert.Equal("The provider had an internal error (503), still after retries: The server is overloaded.", failed.Error);

        host.Faults.Rule = null;
        var retry = await uploads.StartAsync(dataset.Id, local.Id, CancellationToken.None);
        await uploads.WaitAsync(retry.Id).WaitAsync(StudioHost.Timeout);

        var done = Assert.Single(await uploads.ListAsync(dataset.Id, CancellationToken.None));
        Assert.Equal(UploadStatus.Uploaded, done.Status);
        Assert.Equal(2, done.Attempts);
        var client = await host.Service<ProviderConnectionService>().ClientAsync(local.Id, CancellationToken.None);
        Assert.Single(await client.ListFilesAsync(CancellationToken.None), f => f.FileName == done.RemoteFileName);
    }

    [Fact]
    public async Task UploadToProvider_DatasetWithErrors_IsRefusedBeforeAnyCall()
    {
        var (dataset, local) = await ValidDatasetAndLocalEngineAsync("refused.jsonl", "with-defects.jsonl");
        using var api = host.Api();

        using var response = await api.PostAsJsonAsync(new Uri($"api/datasets/{dataset.Id}/uploads", UriKind.Relative), new { providerId = local.Id }, Json.Options);

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Contains("the provider would reject it for", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task OpenApiDocument_DescribesTheApi()
    {
        using var api = host.Api();
        using var document = JsonDocument.Parse(await api.GetStringAsync(new Uri("api/openapi/v1.json", UriKind.Relative)));
        var paths = document.RootElement.GetProperty("paths");

        foreach (var path in new[] { "/api/providers", "/api/providers/{id}/test", "/api/datasets", "/api/datasets/{id}/issues", "/api/datasets/{id}/examples", "/api/settings" })
        {
            Assert.True(paths.TryGetProperty(path, out _), path);
        }
        Assert.DoesNotContain("protectedApiKey", document.RootElement.GetRawText(), StringComparison.OrdinalIgnoreCase);

        // Generators (Kiota, NSwag, openapi-generator) name methods by operationId and type errors by the documented answers.
        var operations = paths.EnumerateObject()
            .SelectMany(p => p.Value.EnumerateObject().Where(o => o.Name is "get" or "post" or "put" or "patch" or "delete").Select(o => (Path: p.Name, Method: o.Name, Operation: o.Value)))
            .ToList();
        Assert.True(operations.Count >= 28, $"{operations.Count} operations");
        var ids = operations.Select(o => o.Operation.TryGetProperty("operationId", out var id) ? id.GetString() : null).ToList();
        Assert.All(operations.Zip(ids), o => Assert.False(string.IsNullOrEmpty(o.Second), $"{o.First.Method} {o.First.Path} has no operationId"));
        Assert.Equal(ids.Count, ids.Distinct().Count());
        foreach (var (path, method, operation) in operations.Where(o => o.Path.Contains('{', StringComparison.Ordinal) || o.Operation.TryGetProperty("requestBody", out _)))
        {
            var problems = operation.GetProperty("responses").EnumerateObject().Where(r => r.Name.StartsWith('4') || r.Name.StartsWith('5')).ToList();
            Assert.True(problems.Count > 0, $"{method} {path} documents no error answer");
            Assert.All(problems, r => Assert.True(r.Value.GetProperty("content").TryGetProperty("application/problem+json", out _), $"{method} {path} {r.Name} is not ProblemDetails"));
        }
    }

    [Fact]
    public async Task Settings_RoundTrip_AndBadValuesNameTheField()
    {
        using var api = host.Api();
        var settings = (await api.GetFromJsonAsync<Settings.SettingsView>(new Uri("api/settings", UriKind.Relative), Json.Options))!;
        using var saved = await api.PutAsJsonAsync(new Uri("api/settings", UriKind.Relative), settings with { Temperature = 0.3, Theme = ThemeMode.Dark }, Json.Options);
        saved.EnsureSuccessStatusCode();
        Assert.Equal(ThemeMode.Dark, (await api.GetFromJsonAsync<Settings.SettingsView>(new Uri("api/settings", UriKind.Relative), Json.Options))!.Theme);

        using var bad = await api.PutAsJsonAsync(new Uri("api/settings", UriKind.Relative), settings with { TopP = 3 }, Json.Options);
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("\"field\":\"topP\"", await bad.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        await api.PutAsJsonAsync(new Uri("api/settings", UriKind.Relative), settings, Json.Options);
    }

    /// <summary>A validated dataset (by default a clean one) and the built-in local engine connection.</summary>
    private async Task<(DatasetSummary Dataset, ProviderView Local)> ValidDatasetAndLocalEngineAsync(string fileName, string example = "reflection-sample.jsonl")
    {
        var dataset = await host.UploadAsync(StudioHost.Example(example), fileName);
        await host.WaitValidatedAsync(dataset.Id);
        var local = (await host.Service<ProviderConnectionService>().ListAsync(CancellationToken.None)).Single(p => p.BuiltIn);
        return (dataset, local);
    }

    private async Task<string> Sha256Async(Guid id)
    {
        var (content, _, _, _) = await Datasets.OpenAsync(id, CancellationToken.None);
        await using (content)
        {
            return Convert.ToHexStringLower(await SHA256.HashDataAsync(content));
        }
    }
}

public sealed class UploadLimitTests(SmallLimitStudioHost host) : IClassFixture<SmallLimitStudioHost>
{
    [Fact]
    public async Task Upload_OverTheLimit_IsRefusedBeforeTheBodyIsRead_AndNothingIsStored()
    {
        using var api = host.Api();
        using var form = new MultipartFormDataContent();
        using var content = new ByteArrayContent(new byte[SmallLimitStudioHost.Limit * 40]);
        form.Add(content, "file", "big.jsonl");

        using var response = await api.PostAsync(new Uri("api/datasets", UriKind.Relative), form);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("the limit is 4 KB", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Empty(await host.Service<DatasetService>().ListAsync(CancellationToken.None));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(host.DataDirectory, "datasets"), "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Upload_OverTheLimitWithoutLength_IsCutOffWhileStreaming()
    {
        using var api = host.Api();
        using var form = new MultipartFormDataContent();
        using var content = new StreamContent(new MemoryStream(new byte[SmallLimitStudioHost.Limit * 4]));
        form.Add(content, "file", "chunked.jsonl");
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("api/datasets", UriKind.Relative)) { Content = form };
        request.Headers.TransferEncodingChunked = true;

        using var response = await api.SendAsync(request);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Empty(await host.Service<DatasetService>().ListAsync(CancellationToken.None));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(host.DataDirectory, "datasets"), "*", SearchOption.AllDirectories));
    }
}

public sealed class MultipartUploadTests(SmallPartsStudioHost host) : IClassFixture<SmallPartsStudioHost>
{
    [Fact]
    public async Task UploadOverTheSingleFileLimit_GoesInPartsAndArrivesWhole()
    {
        var dataset = await host.UploadAsync(StudioHost.Example("reflection-sample.jsonl"), "parts.jsonl");
        await host.WaitValidatedAsync(dataset.Id);
        var local = (await host.Service<ProviderConnectionService>().ListAsync(CancellationToken.None)).Single(p => p.BuiltIn);
        var uploads = host.Service<DatasetUploadService>();

        var started = await uploads.StartAsync(dataset.Id, local.Id, CancellationToken.None);
        await uploads.WaitAsync(started.Id).WaitAsync(StudioHost.Timeout);

        var done = Assert.Single(await uploads.ListAsync(dataset.Id, CancellationToken.None));
        Assert.Equal(UploadStatus.Uploaded, done.Status);
        var sent = host.Faults.Requests.Select(r => r.Uri.AbsolutePath).ToList();
        Assert.DoesNotContain(host.Faults.Requests, r => r.Method == HttpMethod.Post && r.Uri.AbsolutePath.EndsWith("/files", StringComparison.Ordinal));
        Assert.Equal((int)Math.Ceiling(dataset.Bytes / 1000.0), sent.Count(p => p.EndsWith("/parts", StringComparison.Ordinal)));
        Assert.Single(sent, p => p.EndsWith("/complete", StringComparison.Ordinal));
        using var api = host.Api();
        var stored = await api.GetByteArrayAsync(new Uri($"local/v1/files/{done.RemoteFileId}/content", UriKind.Relative));
        Assert.Equal(await File.ReadAllBytesAsync(StudioHost.Example("reflection-sample.jsonl")), stored);
    }
}

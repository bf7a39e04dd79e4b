using System.IO.Compression;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using StrawberryPhi.Web.Bundle;
using StrawberryPhi.Web.Datasets;
using StrawberryPhi.Web.Evaluation;
using StrawberryPhi.Web.Jobs;
using StrawberryPhi.Web.Providers;

namespace StrawberryPhi.Web.Tests.Integration;

/// <summary>
/// The migration bundle: a studio's record (a job made outside it and imported, its data, golden outputs) exported
/// and imported into a fresh studio, where everything is as it was; importing again adds nothing; a damaged bundle
/// is refused whole.
/// </summary>
public sealed class BundleTests(StudioHost host) : IClassFixture<StudioHost>
{
    private const string Secret = "sk-bundle-test-secret-7f3a9c";

    [Fact]
    public async Task Export_ImportIntoAFreshStudio_EverythingAsItWas_AgainAddsNothing_AndNoKeyTravels()
    {
        // The source: a job made at the provider outside the studio, its history imported (with its training file), a
        // connection with a key, golden outputs of the job's model.
        var remote = await host.OutsideJobAsync(10, 1, 5);
        var local = await host.LocalConnectionAsync();
        using var api = host.Api();
        using (var imported = await api.PostAsync(new Uri($"api/providers/{local}/import-jobs", UriKind.Relative), null))
        {
            Assert.Equal(HttpStatusCode.OK, imported.StatusCode);
        }
        var job = (await host.Service<JobService>().ListAsync(new JobQuery(Origin: JobImporter.Origin), CancellationToken.None)).Items.Single(j => j.RemoteId == remote);
        await host.Service<ProviderConnectionService>().CreateAsync(
            new ProviderInput("Team OpenAI", StrawberryPhi.Providers.ProviderKind.OpenAI, null, Secret, "org-bundle", null), CancellationToken.None);
        EvalSetView set;
        using (var items = new MemoryStream(Encoding.UTF8.GetBytes("{\"id\": \"a\", \"prompt\": \"1+1=\", \"reference\": 2}\n{\"id\": \"b\", \"prompt\": \"2+3=\", \"reference\": 5}\n")))
        {
            set = await host.Service<EvalService>().CreateSetAsync("bundle-golden", items, CancellationToken.None);
        }
        var uploads = host.Service<DatasetUploadService>();
        await host.WaitValidatedAsync(job.TrainingDatasetId!.Value); // the imported file is validated like any upload
        var upload = await uploads.StartAsync(job.TrainingDatasetId!.Value, local, CancellationToken.None);
        await uploads.WaitAsync(upload.Id).WaitAsync(StudioHost.Timeout);
        var goldens = host.Service<GoldenService>();
        var golden = await goldens.CaptureAsync(new GoldenInput(local, job.FineTunedModel, set.Id), CancellationToken.None);
        var frozen = await host.WaitForAsync(async () => await goldens.GetAsync(golden.Id, CancellationToken.None) is { Status: "succeeded" } g ? g : null);

        // Exported with the CLI, as a user would.
        var zip = Path.Combine(host.DataDirectory, "..", $"bundle-{Guid.NewGuid():N}.zip");
        try
        {
            var exported = await PhiRunner.Phi("bundle", "export", "--studio", host.BaseAddress.ToString(), "-o", zip);
            Assert.True(exported.Code == 0, exported.Error);
            Assert.Contains("Wrote ", exported.Output, StringComparison.Ordinal);
            var bytes = await File.ReadAllBytesAsync(zip);
            AssertNoSecret(bytes);
            AssertManifestChecksums(bytes);

            var fresh = new StudioHost();
            await fresh.InitializeAsync();
            try
            {
                var first = await ImportAsync(fresh, bytes);
                Assert.Contains(first.Connections, c => c.Name == "Team OpenAI" && c.Outcome == "added" && c.NeedsKey);
                Assert.Contains(first.Connections, c => c.Outcome == "built-in" && !c.NeedsKey);
                foreach (var table in first.Tables)
                {
                    // Uploads to the other studio's engine name files this engine never had: they stay behind.
                    var expected = table.Table == "DatasetUploads" ? 0 : table.InBundle;
                    Assert.True(table.Table != "DatasetUploads" || table.InBundle >= 1, "the source's upload to its engine is in the bundle");
                    Assert.True(table.Added == expected, $"{table.Table}: {table.Added} of {table.InBundle} added");
                }

                // The datasets, byte for byte, with the same ids.
                var sourceDatasets = await host.Service<DatasetService>().ListAsync(CancellationToken.None);
                Assert.NotEmpty(sourceDatasets);
                var contents = new HashSet<string>();
                foreach (var dataset in sourceDatasets)
                {
                    var content = await ContentAsync(host, dataset.Id);
                    Assert.Equal(content, await ContentAsync(fresh, dataset.Id));
                    contents.Add(content);
                }
                Assert.Equal((contents.Count, 0), (first.FilesWritten, first.FilesHeld));

                // The job, with the same ids where they are the provider's, on this studio's local engine, its record whole.
                var freshLocal = await fresh.LocalConnectionAsync();
                var copy = await fresh.Service<JobService>().GetAsync(job.Id, CancellationToken.None);
                Assert.Equal((job.RemoteId, job.FineTunedModel, job.Status, job.Origin, job.TrainingFileId, job.TrainingDatasetId, freshLocal),
                    (copy.RemoteId, copy.FineTunedModel, copy.Status, copy.Origin, copy.TrainingFileId, copy.TrainingDatasetId, copy.ProviderId));
                var (before, after) = (await host.Service<JobService>().RecordAsync(job.Id, CancellationToken.None), await fresh.Service<JobService>().RecordAsync(job.Id, CancellationToken.None));
                Assert.NotEmpty(before.Events);
                Assert.Equal(before.Events.Count, after.Events.Count);
                Assert.Equal(JsonSerializer.Serialize(before.Events), JsonSerializer.Serialize(after.Events));
                Assert.Equal(JsonSerializer.Serialize(before.Metrics), JsonSerializer.Serialize(after.Metrics));
                Assert.Equal(JsonSerializer.Serialize(before.Checkpoints), JsonSerializer.Serialize(after.Checkpoints));
                Assert.NotEmpty(after.ResultFiles);
                Assert.Equal(JsonSerializer.Serialize(before.ResultFiles), JsonSerializer.Serialize(after.ResultFiles));

                // This studio's engine never trained the job's model: said on import, and in the inventory.
                Assert.Contains(job.FineTunedModel, first.ModelsNotHere);
                var listed = (await fresh.Service<InventoryService>().GetAsync(askProviders: true, CancellationToken.None)).Items.Single(i => i.Model == job.FineTunedModel);
                Assert.True(listed.ModelGone);
                Assert.StartsWith("the model itself (not at this studio's local engine", listed.Missing[0], StringComparison.Ordinal);
                var atHome = (await host.Service<InventoryService>().GetAsync(askProviders: true, CancellationToken.None)).Items.Single(i => i.Model == job.FineTunedModel);
                Assert.False(atHome.ModelGone);

                // The golden outputs: the same answers, captured from a model this studio's engine never had.
                var goldenThere = await fresh.Service<GoldenService>().GetAsync(golden.Id, CancellationToken.None);
                Assert.Equal("succeeded", goldenThere.Status);
                Assert.Equal(frozen.Answers, goldenThere.Answers);
                Assert.Equal(freshLocal, goldenThere.ProviderId);

                // The connection came without its key: said, not invented.
                var team = (await fresh.Service<ProviderConnectionService>().ListAsync(CancellationToken.None)).Single(p => p.Name == "Team OpenAI");
                Assert.Equal((false, "org-bundle"), (team.HasKey, team.Organization));
                var noKey = await Assert.ThrowsAsync<StudioException>(() => fresh.Service<ProviderConnectionService>().ClientAsync(team.Id, CancellationToken.None));
                Assert.Equal("The connection \"Team OpenAI\" has no API key (it came from a bundle, which never holds keys): add it in Settings.", noKey.Message);

                // Again, with the CLI: nothing new.
                var again = await PhiRunner.Phi("bundle", "import", "--studio", fresh.BaseAddress.ToString(), zip);
                Assert.True(again.Code == 0, again.Error);
                Assert.Contains("Nothing new: everything in the bundle was there already.", again.Output, StringComparison.Ordinal);
                var second = await ImportAsync(fresh, bytes);
                Assert.Equal(0, second.Added);
                Assert.Empty(second.ModelsNotHere); // said once, by the import that brought the job
                Assert.Equal((0, contents.Count), (second.FilesWritten, second.FilesHeld));
                Assert.Equal((await host.Service<ProviderConnectionService>().ListAsync(CancellationToken.None)).Count,
                    (await fresh.Service<ProviderConnectionService>().ListAsync(CancellationToken.None)).Count);
            }
            finally
            {
                await ((IAsyncLifetime)fresh).DisposeAsync();
            }
        }
        finally
        {
            File.Delete(zip);
        }
    }

    [Fact]
    public async Task Import_DamagedOrForeignBundle_IsRefusedWhole_NamingWhatIsWrong()
    {
        await host.SumsDatasetAsync("bundle-damaged.jsonl");
        await host.Service<ProviderConnectionService>().CreateAsync(
            new ProviderInput($"Endpoint {Guid.NewGuid():N}", StrawberryPhi.Providers.ProviderKind.Custom, "http://127.0.0.1:9/v1", null, null, null), CancellationToken.None);
        using var api = host.Api();
        var bytes = await api.GetByteArrayAsync(new Uri("api/bundle", UriKind.Relative));

        var fresh = new StudioHost();
        await fresh.InitializeAsync();
        try
        {
            // One byte of a dataset changed after export.
            var damaged = Rewrite(bytes, (name, content) => name.StartsWith("datasets/", StringComparison.Ordinal) ? [.. content.Take(content.Length - 2), (byte)'#', content[^1]] : content);
            var refused = await RefusedAsync(fresh, damaged);
            Assert.Matches("^datasets/[0-9a-f]{64}\\.jsonl does not match its checksum: the bundle is damaged\\. Nothing was imported\\.$", refused);

            // A file the manifest does not list.
            var extra = Rewrite(bytes, (_, content) => content, ("tables/Extra.jsonl", "{}\n"u8.ToArray()));
            Assert.Equal("The bundle holds tables/Extra.jsonl, which its manifest does not list: it was changed after it was made.", await RefusedAsync(fresh, extra));

            // Not a zip; a zip that is not a bundle.
            Assert.StartsWith("This is not a zip file: a bundle is the zip that Export bundle on the inventory", await RefusedAsync(fresh, "not a zip"u8.ToArray()), StringComparison.Ordinal);
            Assert.StartsWith("The zip has no manifest.json", await RefusedAsync(fresh, Rewrite(bytes, (_, content) => content, drop: "manifest.json")), StringComparison.Ordinal);

            // Nothing of any of them was stored: no dataset, no file, not even the connection the bundle would add.
            Assert.Empty(await fresh.Service<DatasetService>().ListAsync(CancellationToken.None));
            Assert.Single(await fresh.Service<ProviderConnectionService>().ListAsync(CancellationToken.None));
            Assert.Empty(Directory.EnumerateFiles(Path.Combine(fresh.DataDirectory, "datasets"), "*.jsonl"));
            Assert.Empty(Directory.EnumerateFiles(Path.Combine(fresh.DataDirectory, "datasets", "staging")));

            // A studio that holds everything of the bundle already checks its files all the same.
            await ImportAsync(fresh, bytes);
            Assert.Equal(refused, await RefusedAsync(fresh, damaged));
        }
        finally
        {
            await ((IAsyncLifetime)fresh).DisposeAsync();
        }
    }

    private static async Task<BundleImportResult> ImportAsync(StudioHost studio, byte[] bundle)
    {
        using var api = studio.Api();
        using var form = new MultipartFormDataContent { { new ByteArrayContent(bundle), "file", "bundle.zip" } };
        using var response = await api.PostAsync(new Uri("api/bundle", UriKind.Relative), form);
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<BundleImportResult>(Json.Options))!;
    }

    private static async Task<string> RefusedAsync(StudioHost studio, byte[] bundle)
    {
        using var api = studio.Api();
        using var form = new MultipartFormDataContent { { new ByteArrayContent(bundle), "file", "bundle.zip" } };
        using var response = await api.PostAsync(new Uri("api/bundle", UriKind.Relative), form);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("detail").GetString()!;
    }

    private static async Task<string> ContentAsync(StudioHost studio, Guid datasetId)
    {
        var (content, _, _, _) = await studio.Service<DatasetService>().OpenAsync(datasetId, CancellationToken.None);
        await using (content)
        {
            return Convert.ToHexStringLower(await SHA256.HashDataAsync(content));
        }
    }

    /// <summary>Neither the key, nor its encrypted form, nor its hint is anywhere in the bundle (compressed or not).</summary>
    private static void AssertNoSecret(byte[] bundle)
    {
        using var zip = new ZipArchive(new MemoryStream(bundle), ZipArchiveMode.Read);
        foreach (var entry in zip.Entries)
        {
            using var reader = new StreamReader(entry.Open());
            var text = reader.ReadToEnd();
            Assert.DoesNotContain(Secret, text, StringComparison.Ordinal);
            Assert.DoesNotContain("ProtectedApiKey", text, StringComparison.Ordinal);
            Assert.DoesNotContain("KeyHint", text, StringComparison.Ordinal);
        }
    }

    private static void AssertManifestChecksums(byte[] bundle)
    {
        using var zip = new ZipArchive(new MemoryStream(bundle), ZipArchiveMode.Read);
        using var manifest = JsonDocument.Parse(zip.GetEntry("manifest.json")!.Open());
        Assert.Equal("strawberry-phi-bundle", manifest.RootElement.GetProperty("format").GetString());
        var entries = manifest.RootElement.GetProperty("entries").EnumerateArray().ToList();
        Assert.Equal(zip.Entries.Count - 1, entries.Count);
        foreach (var entry in entries)
        {
            using var content = new MemoryStream();
            zip.GetEntry(entry.GetProperty("path").GetString()!)!.Open().CopyTo(content);
            Assert.Equal(entry.GetProperty("sha256").GetString(), Convert.ToHexStringLower(SHA256.HashData(content.ToArray())));
            Assert.Equal(entry.GetProperty("bytes").GetInt64(), content.Length);
        }
    }

    /// <summary>The bundle with each file passed through <paramref name="change"/>, one left out, or one added.</summary>
    private static byte[] Rewrite(byte[] bundle, Func<string, byte[], byte[]> change, (string Name, byte[] Content)? add = null, string? drop = null)
    {
        using var output = new MemoryStream();
        using (var source = new ZipArchive(new MemoryStream(bundle), ZipArchiveMode.Read))
        using (var target = new ZipArchive(output, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var entry in source.Entries.Where(e => e.FullName != drop))
            {
                using var content = new MemoryStream();
                entry.Open().CopyTo(content);
                using var stream = target.CreateEntry(entry.FullName).Open();
                stream.Write(change(entry.FullName, content.ToArray()));
            }
            if (add is { } extra)
            {
                using var stream = target.CreateEntry(extra.Name).Open();
                stream.Write(extra.Content);
            }
        }
        return output.ToArray();
    }
}

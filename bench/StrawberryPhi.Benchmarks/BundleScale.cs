extern alias studio;

using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using studio::StrawberryPhi.Web.Data;
using studio::StrawberryPhi.Web.Datasets;

namespace StrawberryPhi.Benchmarks;

/// <summary>
/// The migration bundle at size, on two real studios (SQLite, Kestrel): export of a studio with several large
/// datasets and many jobs with their events, import into a fresh studio, and the second import (nothing new).
/// </summary>
public static class BundleScale
{
    public static async Task RunAsync(int datasets, int megabytes, int jobs, int eventsPerJob)
    {
        var source = Directory.CreateTempSubdirectory("phi-bench-bundle-").FullName;
        var zip = Path.Combine(Path.GetTempPath(), $"phi-bench-{Guid.NewGuid():N}.zip");
        try
        {
            await using var from = new JobsScale.Studio(source);
            from.Start();
            await SeedAsync(from, datasets, megabytes, jobs, eventsPerJob);
            Console.WriteLine($"seeded {datasets} datasets of {megabytes} MB, {jobs:N0} jobs with {eventsPerJob:N0} events and metric points each");
            using var http = new HttpClient { BaseAddress = from.BaseAddress, Timeout = TimeSpan.FromHours(1) };

            var started = Stopwatch.GetTimestamp();
            await using (var file = File.Create(zip))
            await using (var body = await http.GetStreamAsync("api/bundle"))
            {
                await body.CopyToAsync(file);
            }
            var export = Stopwatch.GetElapsedTime(started);
            var bytes = new FileInfo(zip).Length;
            var raw = (long)datasets * megabytes * 1024 * 1024;
            Console.WriteLine($"export: {export.TotalSeconds:F1} s, bundle {bytes / 1048576.0:F1} MB ({raw / 1048576.0:F0} MB of datasets), {raw / 1048576.0 / export.TotalSeconds:F0} MB/s of datasets");

            // Side by side: the import storing every row in one batch (as first written), then in batches of 2,000.
            foreach (var (label, batch) in new[] { ("one batch", "0"), ("batches of 2,000", "2000") })
            {
                var directory = Directory.CreateTempSubdirectory("phi-bench-bundle-").FullName;
                try
                {
                    await using var to = new JobsScale.Studio(directory, new Dictionary<string, string> { ["Bundle:ImportBatch"] = batch });
                    to.Start();
                    using var http2 = new HttpClient { BaseAddress = to.BaseAddress, Timeout = TimeSpan.FromHours(1) };
                    foreach (var pass in new[] { "import into a fresh studio", "import again (nothing new)" })
                    {
                        GC.Collect();
                        var allocated = GC.GetTotalAllocatedBytes(precise: true);
                        started = Stopwatch.GetTimestamp();
                        await using var stream = File.OpenRead(zip);
                        using var form = new MultipartFormDataContent { { new StreamContent(stream), "file", "bundle.zip" } };
                        using var response = await http2.PostAsync("api/bundle", form);
                        var answer = await response.Content.ReadFromJsonAsync<JsonObject>();
                        var elapsed = Stopwatch.GetElapsedTime(started);
                        if (!response.IsSuccessStatusCode)
                        {
                            throw new InvalidOperationException(answer?.ToJsonString());
                        }
                        Console.WriteLine($"{label}, {pass}: {elapsed.TotalSeconds:F1} s, {(GC.GetTotalAllocatedBytes(precise: true) - allocated) / 1048576.0:N0} MB allocated, " +
                            $"{answer!["added"]} rows added, {answer["filesWritten"]} dataset files stored");
                    }
                }
                finally
                {
                    Directory.Delete(directory, recursive: true);
                }
            }
            Console.WriteLine($"peak working set of the process (both studios): {Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0:F0} MB");
        }
        finally
        {
            File.Delete(zip);
            Directory.Delete(source, recursive: true);
        }
    }

    private static async Task SeedAsync(JobsScale.Studio studio, int datasets, int megabytes, int jobs, int eventsPerJob)
    {
        var service = studio.Services.GetRequiredService<DatasetService>();
        var ids = new List<Guid>();
        for (var i = 0; i < datasets; i++)
        {
            var path = Path.Combine(Path.GetTempPath(), $"phi-bench-{Guid.NewGuid():N}.jsonl");
            DataGenerator.Generate(path, megabytes * 1024L * 1024, seed: 100 + i);
            await using (var file = File.OpenRead(path))
            {
                ids.Add((await service.CreateFromUploadAsync(file, $"bench-{i}.jsonl", CancellationToken.None)).Id);
            }
            File.Delete(path);
        }
        // Validation uses every core: done before anything is timed.
        foreach (var id in ids)
        {
            while ((await service.GetAsync(id, CancellationToken.None)).Summary.Status == DatasetStatus.Validating)
            {
                await Task.Delay(200);
            }
        }

        var db = studio.Services.GetRequiredService<IDbContextFactory<StudioDbContext>>();
        await using var context = await db.CreateDbContextAsync();
        var provider = await context.Providers.FirstAsync(p => p.BuiltIn);
        var start = DateTime.UtcNow.AddDays(-30);
        for (var i = 0; i < jobs; i++)
        {
            var created = start.AddMinutes(i * 4);
            var job = new FineTuneJob
            {
                Id = Guid.CreateVersion7(new DateTimeOffset(created)), ProviderId = provider.Id, Model = "strawberry-tiny", MethodType = "supervised",
                CreatedAt = created, Origin = "imported", TrainingDatasetId = ids[i % ids.Count],
            };
            job.MarkSubmitted($"ftjob-bench-{i:D6}", created);
            job.Apply(JobStatuses.Succeeded, $"ft:strawberry-tiny:local::ftjob-bench-{i:D6}", 10_000, null, null, null, null, null, created.AddMinutes(3), null, "{}", created.AddMinutes(3));
            context.Jobs.Add(job);
            for (var step = 1; step <= eventsPerJob; step++)
            {
                context.JobEvents.Add(new JobEventRecord
                {
                    JobId = job.Id, RemoteId = $"ftevent-{i}-{step}", CreatedAt = created.AddSeconds(step), Level = "info", Type = "metrics",
                    Message = $"Step {step}/{eventsPerJob}: training loss={3.0 / Math.Sqrt(step):F4}",
                    DataJson = $"{{\"step\":{step},\"train_loss\":{3.0 / Math.Sqrt(step):F4},\"total_steps\":{eventsPerJob}}}",
                });
                context.JobMetrics.Add(new JobMetricPoint
                {
                    JobId = job.Id, Step = step, TotalSteps = eventsPerJob, TrainLoss = 3.0 / Math.Sqrt(step), Time = created.AddSeconds(step), RemoteId = $"ftevent-{i}-{step}",
                });
            }
            if (i % 20 == 19)
            {
                await context.SaveChangesAsync();
                context.ChangeTracker.Clear();
            }
        }
        await context.SaveChangesAsync();
    }
}

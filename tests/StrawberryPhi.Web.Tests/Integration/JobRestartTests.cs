using System.Globalization;
using System.Text.Json.Nodes;
using StrawberryPhi.Web.Data;
using StrawberryPhi.Web.Jobs;
using StrawberryPhi.Web.Providers;

namespace StrawberryPhi.Web.Tests.Integration;

/// <summary>The studio (and its embedded engine) stopped in the middle of a job and started again on the same data.</summary>
public sealed class JobRestartTests
{
    [Fact]
    public async Task StudioRestartedMidJob_TheJobResumesAndNothingIsLostOrStoredTwice()
    {
        var directory = Directory.CreateTempSubdirectory("phi-restart-").FullName;
        try
        {
            Guid jobId;
            await using (var first = new SecondStudioHost(directory))
            {
                await first.InitializeAsync();
                var path = Path.Combine(directory, "restart.jsonl");
                await File.WriteAllLinesAsync(path, Enumerable.Range(0, 40).Select(i =>
                    $$"""{"messages": [{"role": "user", "content": "{{i}}*2="}, {"role": "assistant", "content": "{{(i * 2).ToString(CultureInfo.InvariantCulture)}}"}]}"""));
                var dataset = await first.UploadAsync(path);
                await first.WaitValidatedAsync(dataset.Id);
                var local = (await first.Service<ProviderConnectionService>().ListAsync(CancellationToken.None)).Single(p => p.BuiltIn);
                var method = new JsonObject { ["type"] = "supervised", ["supervised"] = new JsonObject { ["hyperparameters"] = new JsonObject { ["n_epochs"] = 50, ["batch_size"] = 2 } } };
                var (job, _) = await first.Service<JobService>().CreateAsync(new JobInput(local.Id, "strawberry-tiny", dataset.Id, Method: method, Seed: 2), null, CancellationToken.None);
                jobId = job.Id;
                // Stopped once a few steps are stored: the job has 1,000 steps (several seconds), far more than a stop takes.
                await first.WaitForAsync(async () => await first.Service<JobService>().GetAsync(jobId, CancellationToken.None) is { Step: >= 3 } j ? j : null);
            }

            await using var second = new SecondStudioHost(directory);
            await second.InitializeAsync();
            var engine = second.Service<LocalEngine.Api.LocalEngine>();
            var jobs = second.Service<JobService>();
            // It goes on from its saved step: seen once a few more steps are stored. Then it is cancelled, so the test
            // does not wait for the rest (the engine's own tests run a resumed job to its end).
            var resumed = await second.WaitForAsync(async () =>
                await jobs.GetAsync(jobId, CancellationToken.None) is { Status: JobStatuses.Running, RemoteId: { } remoteId } j
                && engine.Store.ListEvents(remoteId).FirstOrDefault(e => e.Message.StartsWith("The engine stopped while this job ran; it resumes from step", StringComparison.Ordinal)) is { } said
                && j.Step >= int.Parse(said.Message.Split(' ')[^1].TrimEnd('.'), CultureInfo.InvariantCulture) + 3 ? j : null);
            await jobs.CancelAsync(jobId, CancellationToken.None);
            var done = await second.WaitForAsync(async () => await jobs.GetAsync(jobId, CancellationToken.None) is { IsFinal: true } j ? j : null);

            Assert.Equal(JobStatuses.Cancelled, done.Status);
            await second.Service<JobTracker>().PollAsync(jobId, CancellationToken.None);
            var engineEvents = engine.Store.ListEvents(done.RemoteId!);
            var stored = await jobs.EventsAsync(jobId, null, 0, 100_000, CancellationToken.None);
            Assert.Equal(engineEvents.Select(e => e.Id).Order(), stored.Items.Select(e => e.RemoteId).Order());
            var steps = (await jobs.MetricsAsync(jobId, CancellationToken.None)).Select(m => m.Step).ToList();
            Assert.Equal(Enumerable.Range(1, steps.Count), steps); // every step once, across the stop
            Assert.True(steps.Count > resumed.Step!.Value - 3, $"{steps.Count} steps stored");
            Assert.Single(engine.Store.ListJobs(), j => j.Id == done.RemoteId);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}

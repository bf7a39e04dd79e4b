using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using StrawberryPhi.Web.Data;
using StrawberryPhi.Web.Jobs;

namespace StrawberryPhi.Web.Tests.Integration;

/// <summary>Jobs created through the studio's API on its real local engine, tracked to the end, with faults injected at the HTTP level.</summary>
public sealed class JobsTests(StudioHost host) : IClassFixture<StudioHost>
{
    private LocalEngine.Api.LocalEngine Engine => host.Service<LocalEngine.Api.LocalEngine>();

    [Fact]
    public async Task Create_OnTheLocalEngine_SucceedsWithEveryEventMetricPointAndCheckpointStoredOnce()
    {
        var dataset = await TrainingDatasetAsync("jobs-succeed.jsonl");
        using var api = host.Api();

        using var response = await api.PostAsJsonAsync("api/jobs", Input(await LocalIdAsync(), dataset, epochs: 2, suffix: "whole"), Json.Options);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var created = (await response.Content.ReadFromJsonAsync<JobView>(Json.Options))!;
        Assert.Equal(JobStatuses.Pending, created.Status);
        var done = await WaitAsync(created.Id, j => j.IsFinal);
        Assert.True(done.Status == JobStatuses.Succeeded, $"{done.Status}: {done.Error?.Message} {done.LastPollError}");
        Assert.StartsWith("ft:strawberry-tiny:local:whole:", done.FineTunedModel, StringComparison.Ordinal);
        Assert.True(done.TrainedTokens > 0);
        Assert.Equal("2", done.Hyperparameters["n_epochs"]);

        // Everything the engine wrote is in the studio's record, once.
        await host.Service<JobTracker>().PollAsync(created.Id, CancellationToken.None); // one more poll adds nothing
        var record = (await api.GetFromJsonAsync<JobRecord>($"api/jobs/{created.Id}/record", Json.Options))!;
        var engineEvents = Engine.Store.ListEvents(done.RemoteId!);
        Assert.Equal(engineEvents.Select(e => e.Id).Order(), record.Events.Select(e => e.RemoteId).Order());
        var steps = engineEvents.Count(e => e.Type == "metrics");
        Assert.Equal(Enumerable.Range(1, steps), record.Metrics.Select(m => m.Step));
        Assert.All(record.Metrics, m => Assert.NotNull(m.TrainLoss));
        Assert.Equal(Engine.Store.ListCheckpoints(done.RemoteId!).Select(c => c.Id).Order(), record.Checkpoints.Select(c => c.RemoteId).Order());
        Assert.Equal(2, record.Checkpoints.Count);
        Assert.Equal(new JobMetaView(done.Id, done.Status), new JobMetaView(record.Job.Id, record.Job.Status));

        // The result file (the engine's step metrics CSV) was downloaded when the job ended.
        var result = Assert.Single(record.ResultFiles);
        Assert.Equal(Assert.Single(Engine.Store.GetJob(done.RemoteId!)!.ResultFiles), result.RemoteId);
        Assert.StartsWith("step,train_loss", result.Content, StringComparison.Ordinal);

        var csv = await api.GetStringAsync($"api/jobs/{created.Id}/metrics.csv");
        var lines = csv.TrimEnd('\n').Split('\n');
        Assert.Equal("step,train_loss,train_mean_token_accuracy,valid_loss,valid_mean_token_accuracy,full_valid_loss,full_valid_mean_token_accuracy,time", lines[0]);
        Assert.Equal(steps + 1, lines.Length);
        Assert.StartsWith("1,", lines[1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_AnswerLostAfterTheProviderMadeTheJob_AdoptsItInsteadOfMakingASecond()
    {
        var dataset = await TrainingDatasetAsync("jobs-lost.jsonl");
        var dropped = 0;
        host.Faults.Rule = (request, _) =>
            request.Method == HttpMethod.Post && request.RequestUri!.AbsolutePath.EndsWith("/fine_tuning/jobs", StringComparison.Ordinal)
            && Interlocked.Increment(ref dropped) == 1 ? new Fault.DropResponse() : null;
        try
        {
            var (job, _) = await host.Service<JobService>().CreateAsync(Input(await LocalIdAsync(), dataset, epochs: 1), null, CancellationToken.None);

            var submitted = await WaitAsync(job.Id, j => j.RemoteId is not null || j.IsFinal);

            Assert.NotNull(submitted.RemoteId);
            Assert.Single(Engine.Store.ListJobs(), j => j.Metadata?.GetValueOrDefault(FineTuneJob.MarkerKey) == job.Id.ToString());
            Assert.Equal(1, dropped); // one create call reached the engine; the retry found its job instead of creating again
        }
        finally
        {
            host.Faults.Rule = null;
        }
    }

    [Fact]
    public async Task Create_ServerErrorAfterTheProviderMadeTheJob_ExactlyOneRemoteJob()
    {
        var dataset = await TrainingDatasetAsync("jobs-500.jsonl");
        var creates = 0;
        host.Faults.Rule = (request, _) =>
            request.Method == HttpMethod.Post && request.RequestUri!.AbsolutePath.EndsWith("/fine_tuning/jobs", StringComparison.Ordinal)
            && Interlocked.Increment(ref creates) == 1
                ? new Fault.ReplaceResponse(HttpStatusCode.InternalServerError, """{"error": {"message": "The server had an error", "type": "server_error", "code": null}}""")
                : null;
        try
        {
            var (job, _) = await host.Service<JobService>().CreateAsync(Input(await LocalIdAsync(), dataset, epochs: 1), null, CancellationToken.None);

            var submitted = await WaitAsync(job.Id, j => j.RemoteId is not null || j.IsFinal);

            Assert.NotNull(submitted.RemoteId);
            Assert.Single(Engine.Store.ListJobs(), j => j.Metadata?.GetValueOrDefault(FineTuneJob.MarkerKey) == job.Id.ToString());
            Assert.Equal(1, creates);
        }
        finally
        {
            host.Faults.Rule = null;
        }
    }

    [Fact]
    public async Task Submit_AfterARestartInTheMiddle_AdoptsTheJobTheLostAttemptMade()
    {
        // A studio stopped after the create call reached the engine and before it stored the answer: the row is
        // pending with one attempt counted, and the engine has the job with the row's marker.
        var dataset = await TrainingDatasetAsync("jobs-restart-submit.jsonl");
        var jobs = host.Service<JobService>();
        var (job, _) = await jobs.CreateAsync(Input(await LocalIdAsync(), dataset, epochs: 1), null, CancellationToken.None);
        var submitted = await WaitAsync(job.Id, j => j.RemoteId is not null || j.IsFinal);
        var fileId = submitted.TrainingFileId!;
        var orphanId = Guid.CreateVersion7();
        var db = host.Service<Microsoft.EntityFrameworkCore.IDbContextFactory<StrawberryPhi.Web.Data.StudioDbContext>>();
        await using (var context = await db.CreateDbContextAsync())
        {
            context.Jobs.Add(new FineTuneJob
            {
                Id = orphanId, ProviderId = submitted.ProviderId, Model = "strawberry-tiny", TrainingDatasetId = dataset, TrainingFileId = fileId,
                MethodType = "supervised", CreatedAt = TimeProvider.System.GetUtcNow().UtcDateTime, SubmitAttempts = 1,
            });
            await context.SaveChangesAsync();
        }
        var made = Engine.Runner.Create(new LocalEngine.Engine.CreateJobRequest("strawberry-tiny", fileId, NEpochs: 1,
            Metadata: new Dictionary<string, string> { [FineTuneJob.MarkerKey] = orphanId.ToString() }));

        host.Service<JobSubmitter>().Enqueue(orphanId); // what the start of a studio does with pending rows
        var adopted = await WaitAsync(orphanId, j => j.RemoteId is not null || j.IsFinal);

        Assert.Equal(made.Id, adopted.RemoteId);
        Assert.Single(Engine.Store.ListJobs(), j => j.Metadata?.GetValueOrDefault(FineTuneJob.MarkerKey) == orphanId.ToString());
    }

    [Fact]
    public async Task Poll_OneJobsProviderHangs_TheOtherJobsAreStillTracked()
    {
        var dataset = await TrainingDatasetAsync("jobs-hang.jsonl");
        var jobs = host.Service<JobService>();
        var (stuck, _) = await jobs.CreateAsync(Input(await LocalIdAsync(), dataset, epochs: 1, suffix: "stuck"), null, CancellationToken.None);
        var stuckRemote = (await WaitAsync(stuck.Id, j => j.RemoteId is not null)).RemoteId!;
        using var release = new CancellationTokenSource();
        var never = Task.Delay(System.Threading.Timeout.InfiniteTimeSpan, TimeProvider.System, release.Token);
        // Every poll of that job hangs (a provider that accepts the connection and never answers).
        host.Faults.Rule = (request, _) => request.RequestUri!.AbsolutePath.Contains(stuckRemote, StringComparison.Ordinal) ? new Fault.Hold(never) : null;
        try
        {
            var (other, _) = await jobs.CreateAsync(Input(await LocalIdAsync(), dataset, epochs: 1, suffix: "moving"), null, CancellationToken.None);

            var done = await WaitAsync(other.Id, j => j.IsFinal);

            Assert.Equal(JobStatuses.Succeeded, done.Status);
            Assert.False((await jobs.GetAsync(stuck.Id, CancellationToken.None)).IsFinal);
        }
        finally
        {
            host.Faults.Rule = null;
            await release.CancelAsync();
        }
        Assert.True((await WaitAsync(stuck.Id, j => j.IsFinal)).Status == JobStatuses.Succeeded); // and it catches up
    }

    [Fact]
    public async Task Create_SameIdempotencyKeyTwiceAtOnce_OneJob()
    {
        var dataset = await TrainingDatasetAsync("jobs-twice.jsonl");
        var input = Input(await LocalIdAsync(), dataset, epochs: 1);
        using var api = host.Api();
        async Task<HttpResponseMessage> Post()
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "api/jobs") { Content = JsonContent.Create(input, options: Json.Options) };
            request.Headers.Add("Idempotency-Key", "double-click-1");
            return await api.SendAsync(request);
        }

        var responses = await Task.WhenAll(Post(), Post());

        var jobs = await Task.WhenAll(responses.Select(r => r.Content.ReadFromJsonAsync<JobView>(Json.Options)));
        Assert.Equal(jobs[0]!.Id, jobs[1]!.Id);
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.Created], responses.Select(r => r.StatusCode).Order());
        var submitted = await WaitAsync(jobs[0]!.Id, j => j.RemoteId is not null || j.IsFinal);
        Assert.Single(Engine.Store.ListJobs(), j => j.Metadata?.GetValueOrDefault(FineTuneJob.MarkerKey) == submitted.Id.ToString());
        foreach (var response in responses)
        {
            response.Dispose();
        }
    }

    [Fact]
    public async Task Poll_ServerErrorsAndResetsWhilePolling_NoEventLostOrDuplicated()
    {
        var dataset = await TrainingDatasetAsync("jobs-flaky.jsonl");
        var polls = 0;
        host.Faults.Rule = (request, _) =>
        {
            if (request.Method != HttpMethod.Get || !request.RequestUri!.AbsolutePath.Contains("/fine_tuning/jobs/", StringComparison.Ordinal))
            {
                return null;
            }
            // Every other poll request fails one way or another: after the retries, some polls fail whole.
            return (Interlocked.Increment(ref polls) % 4) switch
            {
                0 => FaultInjector.OpenAiError(HttpStatusCode.ServiceUnavailable, "Overloaded", "server_error"),
                2 => new Fault.DropResponse(),
                _ => null,
            };
        };
        try
        {
            var (job, _) = await host.Service<JobService>().CreateAsync(Input(await LocalIdAsync(), dataset, epochs: 2), null, CancellationToken.None);

            var done = await WaitAsync(job.Id, j => j.IsFinal && j.LastPollError is null);
            host.Faults.Rule = null;
            await host.Service<JobTracker>().PollAsync(job.Id, CancellationToken.None);

            Assert.True(done.Status == JobStatuses.Succeeded, $"{done.Status}: {done.Error?.Message} {done.LastPollError}");
            var stored = await host.Service<JobService>().EventsAsync(job.Id, null, 0, 10_000, CancellationToken.None);
            var engineEvents = Engine.Store.ListEvents(done.RemoteId!);
            Assert.Equal(engineEvents.Select(e => e.Id).Order(), stored.Items.Select(e => e.RemoteId).Order());
            Assert.True(polls > 4, $"only {polls} poll requests were made");
        }
        finally
        {
            host.Faults.Rule = null;
        }
    }

    [Fact]
    public async Task Poll_RateLimitedWithRetryAfter_WaitsAsAsked()
    {
        var dataset = await TrainingDatasetAsync("jobs-429.jsonl");
        var gets = new System.Collections.Concurrent.ConcurrentQueue<long>();
        var limited = 0;
        host.Faults.Rule = (request, _) =>
        {
            if (request.Method != HttpMethod.Get || !request.RequestUri!.AbsolutePath.Contains("/fine_tuning/jobs/ftjob-", StringComparison.Ordinal)
                || request.RequestUri.AbsolutePath.Contains("/events", StringComparison.Ordinal) || request.RequestUri.AbsolutePath.Contains("/checkpoints", StringComparison.Ordinal))
            {
                return null;
            }
            gets.Enqueue(TimeProvider.System.GetTimestamp());
            return Interlocked.Increment(ref limited) == 1
                ? FaultInjector.OpenAiError(HttpStatusCode.TooManyRequests, "Slow down", "rate_limit_exceeded", new Dictionary<string, string> { ["Retry-After"] = "1" })
                : null;
        };
        try
        {
            var (job, _) = await host.Service<JobService>().CreateAsync(Input(await LocalIdAsync(), dataset, epochs: 1), null, CancellationToken.None);

            var done = await WaitAsync(job.Id, j => j.IsFinal);

            Assert.True(done.Status == JobStatuses.Succeeded, $"{done.Status}: {done.Error?.Message} {done.LastPollError}");
            var times = gets.ToArray();
            Assert.True(times.Length >= 2);
            Assert.True(TimeProvider.System.GetElapsedTime(times[0], times[1]) >= TimeSpan.FromSeconds(0.95),
                $"the second request came {TimeProvider.System.GetElapsedTime(times[0], times[1]).TotalMilliseconds:N0} ms after the 429 that asked for 1 s");
        }
        finally
        {
            host.Faults.Rule = null;
        }
    }

    [Fact]
    public async Task Cancel_RunningJob_EndsCancelledAtTheProviderAndHere()
    {
        var dataset = await TrainingDatasetAsync("jobs-cancel.jsonl", examples: 60);
        using var api = host.Api();
        using var response = await api.PostAsJsonAsync("api/jobs", Input(await LocalIdAsync(), dataset, epochs: 50), Json.Options);
        var job = (await response.Content.ReadFromJsonAsync<JobView>(Json.Options))!;
        await WaitAsync(job.Id, j => j.Status == JobStatuses.Running || j.IsFinal);

        using var cancel = await api.PostAsync(new Uri($"api/jobs/{job.Id}/cancel", UriKind.Relative), null);

        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        var cancelled = await WaitAsync(job.Id, j => j.IsFinal);
        Assert.Equal(JobStatuses.Cancelled, cancelled.Status);
        Assert.Equal("cancelled", Engine.Store.GetJob(cancelled.RemoteId!)!.Status);
        using var again = await api.PostAsync(new Uri($"api/jobs/{job.Id}/cancel", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
    }

    [Fact]
    public async Task PauseAndResume_ThroughTheStudio_ContinuesAndEndsWhenCancelled()
    {
        var dataset = await TrainingDatasetAsync("jobs-pause.jsonl", examples: 60);
        using var api = host.Api();
        using var response = await api.PostAsJsonAsync("api/jobs", Input(await LocalIdAsync(), dataset, epochs: 50), Json.Options);
        var job = (await response.Content.ReadFromJsonAsync<JobView>(Json.Options))!;
        await WaitAsync(job.Id, j => j.Status == JobStatuses.Running && j.Step > 0);

        using var pause = await api.PostAsync(new Uri($"api/jobs/{job.Id}/pause", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.OK, pause.StatusCode);
        var paused = await WaitAsync(job.Id, j => j.Status == JobStatuses.Paused);
        var pausedAt = paused.Step!.Value;
        Assert.Contains(Engine.Store.ListEvents(paused.RemoteId!), e => e.Message == $"Fine-tuning job paused after step {Engine.Store.GetResumeState(paused.RemoteId!)!.Value.Step}.");

        using var resume = await api.PostAsync(new Uri($"api/jobs/{job.Id}/resume", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.OK, resume.StatusCode);
        var running = await WaitAsync(job.Id, j => j.Status == JobStatuses.Running && j.Step > pausedAt);
        using var cancel = await api.PostAsync(new Uri($"api/jobs/{job.Id}/cancel", UriKind.Relative), null);
        var ended = await WaitAsync(job.Id, j => j.IsFinal);

        Assert.Equal(JobStatuses.Cancelled, ended.Status);
        var steps = (await host.Service<JobService>().MetricsAsync(job.Id, CancellationToken.None)).Select(m => m.Step).ToList();
        Assert.Equal(Enumerable.Range(1, steps.Count), steps); // no step lost or repeated across the pause
        Assert.True(running.Step > pausedAt);
    }

    [Fact]
    public async Task Create_DpoOnPreferencePairs_TrainsOnTheLocalEngineWithBeta()
    {
        var path = Path.Combine(host.DataDirectory, "jobs-pairs.jsonl");
        await File.WriteAllLinesAsync(path, Enumerable.Range(0, 12).Select(i => System.Text.Json.JsonSerializer.Serialize(new
        {
            input = new { messages = new[] { new { role = "user", content = $"{i}+1=" } } },
            preferred_output = new[] { new { role = "assistant", content = $"{i + 1}" } },
            non_preferred_output = new[] { new { role = "assistant", content = $"{i + 2}" } },
        })));
        var dataset = await host.UploadAsync(path);
        var detail = await host.WaitValidatedAsync(dataset.Id);
        Assert.Equal(0, detail.Summary.Errors);
        var supervised = Input(await LocalIdAsync(), dataset.Id, 1);
        var check = await host.Service<JobService>().CheckAsync(supervised, CancellationToken.None);
        Assert.Contains(check.Problems, p => p.Field == "trainingDatasetId" && p.Message.Contains("DPO method", StringComparison.Ordinal));
        Assert.Contains("dpo", check.Methods);
        var dpo = supervised with
        {
            Method = new JsonObject { ["type"] = "dpo", ["dpo"] = new JsonObject { ["hyperparameters"] = new JsonObject { ["beta"] = 0.3, ["n_epochs"] = 2, ["batch_size"] = 4 } } },
        };

        var (job, _) = await host.Service<JobService>().CreateAsync(dpo, null, CancellationToken.None);
        var done = await WaitAsync(job.Id, j => j.IsFinal);

        Assert.True(done.Status == JobStatuses.Succeeded, done.Error?.Message);
        Assert.Equal(("dpo", "0.3"), (done.Method, done.Hyperparameters["beta"]));
        Assert.Equal(6, (await host.Service<JobService>().MetricsAsync(job.Id, CancellationToken.None)).Count);
    }

    [Theory]
    [InlineData("n_epochs", "0", "Epochs must be 1 to 50")]
    [InlineData("batch_size", "300", "Batch size must be 1 to 256")]
    [InlineData("learning_rate_multiplier", "0", "Learning rate multiplier must be greater than 0")]
    public async Task Create_HyperparameterOutOfBounds_400NamingTheField(string name, string value, string message)
    {
        var dataset = await TrainingDatasetAsync($"jobs-bounds-{name}.jsonl");
        var method = new JsonObject { ["type"] = "supervised", ["supervised"] = new JsonObject { ["hyperparameters"] = new JsonObject { [name] = JsonNode.Parse(value) } } };
        using var api = host.Api();

        using var response = await api.PostAsJsonAsync("api/jobs", Input(await LocalIdAsync(), dataset, 1) with { Method = method }, Json.Options);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonObject>();
        Assert.StartsWith(message, problem!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal($"method.supervised.hyperparameters.{name}", problem["field"]!.GetValue<string>());
    }

    [Fact]
    public async Task Create_DatasetWithErrors_RefusedWithTheReasonAndItsReport()
    {
        var dataset = await host.UploadAsync(StudioHost.Example("with-defects.jsonl"), "jobs-defects.jsonl");
        await host.WaitValidatedAsync(dataset.Id);
        using var api = host.Api();

        using var response = await api.PostAsJsonAsync("api/jobs", Input(await LocalIdAsync(), dataset.Id, 1), Json.Options);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonObject>();
        Assert.Contains("error", problem!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains($"/datasets/{dataset.Id}", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("trainingDatasetId", problem["field"]!.GetValue<string>());
    }

    private sealed record JobMetaView(Guid Id, string Status);

    private static JobInput Input(Guid providerId, Guid datasetId, int epochs, string? suffix = null) => StudioHost.JobInput(providerId, datasetId, epochs, suffix: suffix);

    private Task<Guid> LocalIdAsync() => host.LocalConnectionAsync();

    private Task<Guid> TrainingDatasetAsync(string name, int examples = 12) => host.SumsDatasetAsync(name, examples);

    private Task<JobView> WaitAsync(Guid id, Func<JobView, bool> done) => host.WaitJobAsync(id, done);
}

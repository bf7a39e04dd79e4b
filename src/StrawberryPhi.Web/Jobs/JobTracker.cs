using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using StrawberryPhi.Providers;
using StrawberryPhi.Web.Data;
using StrawberryPhi.Web.Providers;
using StrawberryPhi.Web.Security;

namespace StrawberryPhi.Web.Jobs;

/// <summary>
/// Polls every active job of every connection and stores what is new: the job's state, each event and metric point,
/// each checkpoint, and (when it ends) its result files, each exactly once (the provider's ids are unique keys).
/// What is due is read from the database (<see cref="FineTuneJob.NextPollAt"/>), so a restart resumes where the
/// last run stopped. A poll never waits for another: a hanging connection holds only its own slots.
/// </summary>
public sealed class JobTracker(
    IDbContextFactory<StudioDbContext> db, ProviderConnectionService providers, IOptions<JobTrackerOptions> options, TimeProvider time,
    StudioNotifier events, Notifications.NotificationService notifications, Evaluation.RerunComparer reruns, ILogger<JobTracker> logger)
{
    private const int PageSize = 100;
    private readonly ConcurrentDictionary<Guid, Task> _inFlight = new();
    private readonly ConcurrentDictionary<Guid, bool> _again = new();
    private readonly ConcurrentDictionary<Guid, SemaphoreSlim> _perConnection = new();

    /// <summary>
    /// One poll of a job at a time, whoever asks (the loop, an import, an action): two at once would both find the
    /// same events and result files new, and the second to store them would fail on the unique index.
    /// </summary>
    private readonly ConcurrentDictionary<Guid, SemaphoreSlim> _perJob = new();
    private CancellationToken _stopping = CancellationToken.None;

    private JobTrackerOptions Options => options.Value;

    /// <summary>Polls every job that is due and not already being polled; returns without waiting for them.</summary>
    internal async Task TickAsync(CancellationToken stoppingToken)
    {
        _stopping = stoppingToken;
        var now = time.GetUtcNow().UtcDateTime;
        List<(Guid Id, Guid ProviderId)> due;
        await using (var context = await db.CreateDbContextAsync(stoppingToken))
        {
            due = (await context.Jobs.AsNoTracking().Where(j => j.NextPollAt != null && j.NextPollAt <= now && j.RemoteId != null)
                .OrderBy(j => j.NextPollAt).Select(j => new { j.Id, j.ProviderId }).Take(1000).ToListAsync(stoppingToken))
                .Select(j => (j.Id, j.ProviderId)).ToList();
        }
        foreach (var (id, providerId) in due)
        {
            Launch(id, providerId);
        }
    }

    /// <summary>Polls a job now (a webhook, an action's answer), or right after the poll under way.</summary>
    public void PollSoon(Guid jobId)
    {
        _ = Task.Run(async () =>
        {
            try
            {
                await using var context = await db.CreateDbContextAsync(_stopping);
                var providerId = await context.Jobs.Where(j => j.Id == jobId && j.RemoteId != null).Select(j => (Guid?)j.ProviderId).FirstOrDefaultAsync(_stopping);
                if (providerId is { } found)
                {
                    Launch(jobId, found);
                }
            }
            catch (OperationCanceledException)
            {
                // Stopping.
            }
        });
    }

    /// <summary>The embedded local engine changed a job's status: poll the studio's job for it now (the engine's own webhook).</summary>
    internal void EngineJobChanged(string remoteId)
    {
        _ = Task.Run(async () =>
        {
            try
            {
                await using var context = await db.CreateDbContextAsync(_stopping);
                var local = await context.Providers.Where(p => p.Kind == ProviderKind.Local).Select(p => p.Id).ToListAsync(_stopping);
                var job = await context.Jobs.Where(j => j.RemoteId == remoteId && local.Contains(j.ProviderId))
                    .Select(j => new { j.Id, j.ProviderId }).FirstOrDefaultAsync(_stopping);
                if (job is not null)
                {
                    Launch(job.Id, job.ProviderId);
                }
            }
            catch (OperationCanceledException)
            {
                // Stopping.
            }
        });
    }

    private void Launch(Guid jobId, Guid providerId)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_inFlight.TryAdd(jobId, started.Task))
        {
            _again[jobId] = true; // polled once more when the current poll ends
            return;
        }
        _ = Task.Run(async () =>
        {
            try
            {
                do
                {
                    _again.TryRemove(jobId, out _);
                    var slots = _perConnection.GetOrAdd(providerId, _ => new SemaphoreSlim(Options.MaxConcurrencyPerConnection));
                    await slots.WaitAsync(_stopping);
                    try
                    {
                        await PollAsync(jobId, _stopping);
                    }
                    finally
                    {
                        slots.Release();
                    }
                }
                while (_again.ContainsKey(jobId) && !_stopping.IsCancellationRequested);
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                // Stopping: the job is polled again after the restart.
            }
            catch (Exception e)
            {
                // A bug in one poll must not stop the others: logged with the job, retried after the longest delay.
                logger.LogError(e, "Polling job {JobId} failed unexpectedly", jobId);
                await RescheduleAfterFailureAsync(jobId, $"{e.GetType().Name}: {e.Message}", null);
            }
            finally
            {
                _inFlight.TryRemove(jobId, out _);
                started.TrySetResult();
            }
        });
    }

    /// <summary>One poll: the job, its new events and metric points, its new checkpoints, and its result files once it ended.</summary>
    internal async Task PollAsync(Guid jobId, CancellationToken cancellationToken)
    {
        var gate = _perJob.GetOrAdd(jobId, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        try
        {
            await PollOnceAsync(jobId, cancellationToken);
        }
        finally
        {
            gate.Release();
        }
    }

    private async Task PollOnceAsync(Guid jobId, CancellationToken cancellationToken)
    {
        FineTuneJob row;
        await using (var context = await db.CreateDbContextAsync(cancellationToken))
        {
            row = await context.Jobs.AsNoTracking().FirstAsync(j => j.Id == jobId, cancellationToken);
        }
        if (row.RemoteId is not { } remoteId)
        {
            return;
        }
        IProviderClient client;
        try
        {
            client = await providers.ClientAsync(row.ProviderId, cancellationToken);
        }
        catch (Exception e) when (e is StudioException or KeyVaultException)
        {
            await RescheduleAfterFailureAsync(jobId, e.Message, null);
            return;
        }
        try
        {
            var remote = await client.GetJobAsync(remoteId, cancellationToken);
            var newEvents = await NewEventsAsync(client, jobId, remoteId, cancellationToken);
            var checkpoints = await AllAsync((after, token) => client.ListCheckpointsAsync(remoteId, after, PageSize, token), c => c.Id, cancellationToken);
            await StoreAsync(jobId, remote, newEvents, checkpoints, client.Kind == ProviderKind.Local, cancellationToken);
            if (JobStatuses.IsFinal(remote.Status) && !row.ResultsFetched)
            {
                await FetchResultFilesAsync(jobId, client, remote, cancellationToken);
            }
        }
        catch (ProviderException e)
        {
            logger.LogWarning("Polling job {JobId} ({RemoteId}) failed: {Reason}", jobId, remoteId, e.Message);
            await RescheduleAfterFailureAsync(jobId, e.Message, e.RetryAfter);
        }
    }

    /// <summary>
    /// Events newer than the newest stored one: pages newest first until an event already stored is met (the cursor),
    /// returned oldest first. After a restart the stored events are the cursor, so nothing is fetched twice.
    /// </summary>
    private async Task<List<ProviderJobEvent>> NewEventsAsync(IProviderClient client, Guid jobId, string remoteId, CancellationToken cancellationToken)
    {
        var found = new List<ProviderJobEvent>();
        string? after = null;
        while (true)
        {
            var page = await client.ListEventsAsync(remoteId, after, PageSize, cancellationToken);
            var ids = page.Items.Select(e => e.Id).ToList();
            HashSet<string> known;
            await using (var context = await db.CreateDbContextAsync(cancellationToken))
            {
                known = [.. await context.JobEvents.Where(e => e.JobId == jobId && ids.Contains(e.RemoteId)).Select(e => e.RemoteId).ToListAsync(cancellationToken)];
            }
            found.AddRange(page.Items.TakeWhile(e => !known.Contains(e.Id)));
            if (known.Count > 0 || !page.HasMore || page.Items.Count == 0)
            {
                break;
            }
            after = page.Items[^1].Id;
        }
        found.Reverse();
        return found;
    }

    private static async Task<List<T>> AllAsync<T>(Func<string?, CancellationToken, Task<ProviderPage<T>>> list, Func<T, string> id, CancellationToken cancellationToken)
    {
        var all = new List<T>();
        string? after = null;
        while (true)
        {
            var page = await list(after, cancellationToken);
            all.AddRange(page.Items);
            if (!page.HasMore || page.Items.Count == 0)
            {
                return all;
            }
            after = id(page.Items[^1]);
        }
    }

    /// <summary>Stores the job's state and what is new in one transaction; ids already stored are skipped.</summary>
    private async Task StoreAsync(Guid jobId, ProviderJob remote, List<ProviderJobEvent> newEvents, List<ProviderCheckpoint> checkpoints, bool local, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().UtcDateTime;
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        var row = await context.Jobs.FirstAsync(j => j.Id == jobId, cancellationToken);
        var eventIds = newEvents.Select(e => e.Id).ToList();
        var storedEvents = (await context.JobEvents.Where(e => e.JobId == jobId && eventIds.Contains(e.RemoteId)).Select(e => e.RemoteId).ToListAsync(cancellationToken)).ToHashSet();
        var steps = newEvents.Select(e => MetricOf(e)?.Step).OfType<int>().ToList();
        var storedSteps = (await context.JobMetrics.Where(m => m.JobId == jobId && steps.Contains(m.Step)).Select(m => m.Step).ToListAsync(cancellationToken)).ToHashSet();
        foreach (var item in newEvents.Where(e => storedEvents.Add(e.Id)))
        {
            context.JobEvents.Add(new JobEventRecord
            {
                JobId = jobId, RemoteId = item.Id, CreatedAt = item.CreatedAt.UtcDateTime, Level = item.Level, Message = item.Message, Type = item.Type, DataJson = item.Data,
            });
            if (MetricOf(item) is { } point && storedSteps.Add(point.Step))
            {
                point.JobId = jobId;
                context.JobMetrics.Add(point);
                row.NoteTrainingSeen(point.Time);
                (row.Step, row.TotalSteps) = (point.Step, point.TotalSteps ?? row.TotalSteps);
            }
        }
        var checkpointIds = checkpoints.Select(c => c.Id).ToList();
        var storedCheckpoints = (await context.JobCheckpoints.Where(c => c.JobId == jobId && checkpointIds.Contains(c.RemoteId)).Select(c => c.RemoteId).ToListAsync(cancellationToken)).ToHashSet();
        foreach (var checkpoint in checkpoints.Where(c => storedCheckpoints.Add(c.Id)))
        {
            context.JobCheckpoints.Add(new JobCheckpointRecord
            {
                JobId = jobId, RemoteId = checkpoint.Id, Model = checkpoint.Model, Step = checkpoint.Step,
                MetricsJson = JsonSerializer.Serialize(checkpoint.Metrics), CreatedAt = checkpoint.CreatedAt.UtcDateTime,
            });
        }
        var changed = Apply(row, remote, now);
        row.LastPolledAt = now;
        row.LastPollError = null;
        row.PollFailures = 0;
        if (!JobStatuses.IsFinal(row.Status))
        {
            var interval = local ? Options.LocalInterval : row.Status == JobStatuses.Running ? Options.RunningInterval : Options.QueuedInterval;
            row.NextPollAt = now + Options.Clamp(interval);
        }
        else
        {
            row.NextPollAt = null;
        }
        await context.SaveChangesAsync(cancellationToken);
        if (changed)
        {
            logger.LogInformation("Job {JobId} is {Status}", jobId, row.Status);
            if (JobStatuses.IsFinal(row.Status))
            {
                await EndedAsync(jobId, cancellationToken);
            }
        }
        events.JobChanged(jobId);
    }

    /// <summary>Applies the provider's answer to a job row outside a poll (an action's answer); the next poll stores the rest.</summary>
    internal async Task ApplyAsync(Guid jobId, ProviderJob remote, CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        var row = await context.Jobs.FirstAsync(j => j.Id == jobId, cancellationToken);
        var changed = Apply(row, remote, time.GetUtcNow().UtcDateTime);
        if (!JobStatuses.IsFinal(row.Status))
        {
            row.NextPollAt = time.GetUtcNow().UtcDateTime;
        }
        await context.SaveChangesAsync(cancellationToken);
        if (changed && JobStatuses.IsFinal(row.Status))
        {
            await EndedAsync(jobId, cancellationToken);
        }
        events.JobChanged(jobId);
    }

    /// <summary>A job just ended: it is told, and a re-run is compared with its origin's golden outputs.</summary>
    private async Task EndedAsync(Guid jobId, CancellationToken cancellationToken)
    {
        await notifications.JobEndedAsync(jobId, cancellationToken);
        await reruns.JobEndedAsync(jobId, cancellationToken);
    }

    /// <summary>The provider's job object onto the row (its rules keep a finished job finished).</summary>
    internal static bool Apply(FineTuneJob row, ProviderJob remote, DateTime now) => row.Apply(
        remote.Status, remote.FineTunedModel, remote.TrainedTokens, remote.Error?.Code, remote.Error?.Message, remote.Error?.Param,
        remote.Hyperparameters.Count > 0 ? JsonSerializer.Serialize(remote.Hyperparameters) : null,
        remote.ResultFiles.Count > 0 ? JsonSerializer.Serialize(remote.ResultFiles) : null,
        remote.FinishedAt?.UtcDateTime, remote.EstimatedFinish?.UtcDateTime, remote.Json, now);

    /// <summary>The metric point a metrics event carries, or null.</summary>
    internal static JobMetricPoint? MetricOf(ProviderJobEvent item)
    {
        if (item.Type != "metrics" || item.Data is null)
        {
            return null;
        }
        using var json = JsonDocument.Parse(item.Data);
        var data = json.RootElement;
        double? D(string name) => data.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;
        if (D("step") is not { } step)
        {
            return null;
        }
        return new JobMetricPoint
        {
            Step = (int)step, TotalSteps = D("total_steps") is { } total ? (int)total : null,
            TrainLoss = D("train_loss"), TrainMeanTokenAccuracy = D("train_mean_token_accuracy"),
            ValidLoss = D("valid_loss"), ValidMeanTokenAccuracy = D("valid_mean_token_accuracy"),
            FullValidLoss = D("full_valid_loss"), FullValidMeanTokenAccuracy = D("full_valid_mean_token_accuracy"),
            Time = item.CreatedAt.UtcDateTime, RemoteId = item.Id,
        };
    }

    /// <summary>Downloads each result file once, so the record is whole after the provider deletes them.</summary>
    private async Task FetchResultFilesAsync(Guid jobId, IProviderClient client, ProviderJob remote, CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        var stored = (await context.JobResultFiles.Where(f => f.JobId == jobId).Select(f => f.RemoteId).ToListAsync(cancellationToken)).ToHashSet();
        var now = time.GetUtcNow().UtcDateTime;
        foreach (var fileId in remote.ResultFiles.Where(f => !stored.Contains(f)))
        {
            byte[]? content = null;
            string? note = null;
            if (client.Capabilities.FileContent)
            {
                content = await client.DownloadFileAsync(fileId, cancellationToken);
            }
            else
            {
                note = "This provider does not let files be downloaded; only the id is kept.";
            }
            context.JobResultFiles.Add(new JobResultFile
            {
                JobId = jobId, RemoteId = fileId, FileName = $"{fileId}.csv", Bytes = content?.LongLength ?? 0, Content = content, Note = note, FetchedAt = now,
            });
        }
        var row = await context.Jobs.FirstAsync(j => j.Id == jobId, cancellationToken);
        row.ResultsFetched = true;
        await context.SaveChangesAsync(cancellationToken);
        events.JobChanged(jobId);
    }

    /// <summary>After a failed poll: later, by the provider's Retry-After or a doubling backoff, clamped.</summary>
    private async Task RescheduleAfterFailureAsync(Guid jobId, string reason, TimeSpan? retryAfter)
    {
        try
        {
            await using var context = await db.CreateDbContextAsync(CancellationToken.None);
            var row = await context.Jobs.FirstOrDefaultAsync(j => j.Id == jobId, CancellationToken.None);
            if (row is null)
            {
                return;
            }
            row.PollFailures++;
            row.LastPollError = reason;
            var backoff = Options.RunningInterval * Math.Pow(2, Math.Min(10, row.PollFailures));
            row.NextPollAt = time.GetUtcNow().UtcDateTime + Options.Clamp(retryAfter ?? backoff);
            await context.SaveChangesAsync(CancellationToken.None);
            events.JobChanged(jobId);
        }
        catch (Exception e) when (e is DbUpdateException or InvalidOperationException)
        {
            logger.LogError(e, "Could not reschedule job {JobId}", jobId);
        }
    }
}

/// <summary>The tracker's loop: a <see cref="PeriodicTimer"/> on the studio's clock; a poll that is slow or fails holds up nothing else.</summary>
internal sealed class JobTrackerWorker(
    JobTracker tracker, JobSubmitter submitter, IOptions<JobTrackerOptions> options, TimeProvider time, BackgroundLoops loops, IServiceProvider services,
    ILogger<JobTrackerWorker> logger) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => loops.RunAsync("job tracker", async token =>
    {
        submitter.Submitted += tracker.PollSoon;
        // The embedded engine says when a job's status changes: its page moves at once instead of at the next poll.
        var engine = services.GetRequiredService<LocalEngine.Api.LocalEngine>();
        void OnEngineChange(LocalEngine.Engine.FineTuningJob job) => tracker.EngineJobChanged(job.Id);
        engine.Runner.JobChanged += OnEngineChange;
        try
        {
            await loops.StartedAsync(token);
            using var timer = new PeriodicTimer(options.Value.Tick, time);
            do
            {
                try
                {
                    await tracker.TickAsync(token);
                }
                catch (Exception e) when (e is DbUpdateException or Microsoft.Data.Sqlite.SqliteException or InvalidOperationException)
                {
                    logger.LogError(e, "The job tracker could not read the jobs due; trying again at the next tick");
                }
            }
            while (await timer.WaitForNextTickAsync(token));
        }
        finally
        {
            submitter.Submitted -= tracker.PollSoon;
            engine.Runner.JobChanged -= OnEngineChange;
        }
    }, stoppingToken);
}

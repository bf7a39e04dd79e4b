using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using StrawberryPhi.Providers;
using StrawberryPhi.Web.Data;
using StrawberryPhi.Web.Datasets;
using StrawberryPhi.Web.Providers;
using StrawberryPhi.Web.Security;

namespace StrawberryPhi.Web.Jobs;

/// <summary>
/// Sends pending jobs to their provider: uploads the datasets that are not there yet, then creates the job with the
/// studio's marker in its metadata. The create call is never simply repeated: after any attempt whose outcome is
/// unknown (a timeout, a reset, a lost answer, a 5xx, a restart in the middle) the provider's jobs are searched for
/// the marker first, and the job found is adopted (shared/FACTS.md §8).
/// </summary>
public sealed class JobSubmitter(
    IDbContextFactory<StudioDbContext> db, ProviderConnectionService providers, DatasetUploadService uploads, IOptions<JobTrackerOptions> options,
    TimeProvider time, StudioNotifier events, Notifications.NotificationService notifications, ILogger<JobSubmitter> logger)
{
    private readonly Channel<Guid> _queue = Channel.CreateUnbounded<Guid>(new() { SingleReader = true });
    /// <summary>Jobs queued or being sent: one submission per job at a time.</summary>
    private readonly ConcurrentDictionary<Guid, bool> _running = new();
    private readonly ConcurrentDictionary<Guid, bool> _cancelRequested = new();

    /// <summary>Raised when a job reached its provider (the tracker polls it at once).</summary>
    public event Action<Guid>? Submitted;

    public void Enqueue(Guid jobId)
    {
        if (_running.TryAdd(jobId, true))
        {
            _queue.Writer.TryWrite(jobId);
        }
    }

    internal ChannelReader<Guid> Queue => _queue.Reader;

    /// <summary>Pending jobs a stop left behind are sent again (looking for the marker first: an attempt may have reached the provider).</summary>
    internal async Task ResumePendingAsync(CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        foreach (var id in await context.Jobs.Where(j => j.Status == JobStatuses.Pending).OrderBy(j => j.CreatedAt).Select(j => j.Id).ToListAsync(cancellationToken))
        {
            Enqueue(id);
        }
    }

    /// <summary>
    /// Cancels a job that has not reached its provider. False when it may have (a create call is under way): the
    /// cancel is remembered and applied there as soon as the job is found.
    /// </summary>
    public async Task<bool> CancelPendingAsync(Guid jobId, CancellationToken cancellationToken)
    {
        _cancelRequested[jobId] = true;
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        // One conditional statement (the rule of MarkCancelledBeforeSubmission, kept in SQL): a submitter that claims
        // its first attempt at the same moment either goes first (this changes nothing) or finds the job cancelled.
        var now = time.GetUtcNow().UtcDateTime;
        var cancelled = await context.Jobs.Where(j => j.Id == jobId && j.Status == JobStatuses.Pending && j.SubmitAttempts == 0)
            .ExecuteUpdateAsync(set => set.SetProperty(j => j.Status, JobStatuses.Cancelled).SetProperty(j => j.FinishedAt, now), cancellationToken);
        if (cancelled == 0)
        {
            return false;
        }
        await notifications.JobEndedAsync(jobId, cancellationToken);
        events.JobChanged(jobId);
        return true;
    }

    internal async Task RunAsync(Guid jobId, CancellationToken cancellationToken)
    {
        try
        {
            await SubmitAsync(jobId, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping: the job stays pending and is resumed (marker first) at the next start.
        }
        catch (Exception e)
        {
            logger.LogError(e, "Submitting job {JobId} failed unexpectedly", jobId);
            await FailAsync(jobId, "submission_failed", $"The job could not be sent ({e.GetType().Name}): {e.Message}", null, CancellationToken.None);
        }
        finally
        {
            _cancelRequested.TryRemove(jobId, out _);
            _running.TryRemove(jobId, out _);
        }
    }

    private async Task SubmitAsync(Guid jobId, CancellationToken cancellationToken)
    {
        FineTuneJob row;
        await using (var context = await db.CreateDbContextAsync(cancellationToken))
        {
            row = await context.Jobs.AsNoTracking().FirstAsync(j => j.Id == jobId, cancellationToken);
        }
        if (row.Status != JobStatuses.Pending)
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
            await FailAsync(jobId, "submission_failed", e.Message, "providerId", cancellationToken);
            return;
        }

        // The files first: uploaded once per dataset and connection (a retry adopts what an upload left).
        var trainingFile = row.TrainingFileId ?? await FileAtProviderAsync(row, row.TrainingDatasetId, "training", cancellationToken);
        if (trainingFile is null)
        {
            return;
        }
        var validationFile = row.ValidationFileId ?? (row.ValidationDatasetId is null ? null : await FileAtProviderAsync(row, row.ValidationDatasetId, "validation", cancellationToken));
        if (row.ValidationDatasetId is not null && validationFile is null)
        {
            return;
        }
        await UpdateAsync(jobId, j => (j.TrainingFileId, j.ValidationFileId) = (trainingFile, validationFile), cancellationToken);

        var metadata = row.MetadataJson is null ? new Dictionary<string, string>() : JsonSerializer.Deserialize<Dictionary<string, string>>(row.MetadataJson)!;
        metadata[FineTuneJob.MarkerKey] = jobId.ToString();
        var request = new ProviderJobRequest(row.Model, trainingFile, validationFile,
            row.MethodJson is null ? null : JsonNode.Parse(row.MethodJson)!.AsObject(), row.Suffix, row.Seed, metadata);
        var opts = options.Value;
        var attempts = row.SubmitAttempts;
        Exception? last = null;
        while (attempts < opts.MaxSubmitAttempts)
        {
            if (attempts > 0 && await FindMarkedAsync(client, jobId, cancellationToken) is { } found)
            {
                logger.LogInformation("Job {JobId}: found remote job {RemoteId} that an earlier attempt made", jobId, found.Id);
                await AdoptAsync(jobId, client, found, cancellationToken);
                return;
            }
            attempts++;
            if (!await ClaimAttemptAsync(jobId, attempts, cancellationToken))
            {
                return; // cancelled meanwhile
            }
            try
            {
                var created = await client.CreateJobAsync(request, cancellationToken);
                await AdoptAsync(jobId, client, created, cancellationToken);
                return;
            }
            catch (ProviderException e) when (e.Status is >= 400 and < 500 and not 408 and not 429 || (e.Status == 429 && !e.Transient))
            {
                // Refused: nothing was created, and the same request would be refused again.
                await FailAsync(jobId, e.Code ?? "invalid_request", e.Message, null, cancellationToken);
                return;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Unknown outcome (no answer, a 5xx, an answer we could not read): the job may exist; look before trying again.
                last = e;
                var delay = opts.Clamp((e as ProviderException)?.RetryAfter ?? opts.SubmitRetryDelay * Math.Pow(2, attempts - 1));
                logger.LogWarning("Job {JobId}: create attempt {Attempt} had no clear answer ({Reason}); looking for its job in {Delay}", jobId, attempts, e.Message, delay);
                await Task.Delay(delay, time, cancellationToken);
            }
        }
        if (await FindMarkedAsync(client, jobId, cancellationToken) is { } late)
        {
            await AdoptAsync(jobId, client, late, cancellationToken);
            return;
        }
        await FailAsync(jobId, "submission_failed",
            $"The provider did not confirm the job after {attempts} attempts, and none of them made it there: {last?.Message ?? "no answer"}", null, cancellationToken);
    }

    /// <summary>
    /// Counts an attempt before the call, so that after a restart an attempt that may have reached the provider is
    /// searched for; false when the job is no longer pending (cancelled).
    /// </summary>
    private async Task<bool> ClaimAttemptAsync(Guid jobId, int attempt, CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        return await context.Jobs.Where(j => j.Id == jobId && j.Status == JobStatuses.Pending)
            .ExecuteUpdateAsync(set => set.SetProperty(j => j.SubmitAttempts, attempt), cancellationToken) == 1;
    }

    /// <summary>The remote job carrying this job's marker, looked for among the provider's recent jobs.</summary>
    private static async Task<ProviderJob?> FindMarkedAsync(IProviderClient client, Guid jobId, CancellationToken cancellationToken)
    {
        var marker = jobId.ToString();
        string? after = null;
        // Newest first: a job just made is on the first page; three pages are plenty even when others create jobs meanwhile.
        for (var page = 0; page < 3; page++)
        {
            var jobs = await client.ListJobsAsync(after, 100, KeyValuePair.Create(FineTuneJob.MarkerKey, marker), cancellationToken);
            if (jobs.Items.FirstOrDefault(j => j.Metadata.TryGetValue(FineTuneJob.MarkerKey, out var m) && m == marker) is { } found)
            {
                return found;
            }
            if (!jobs.HasMore || jobs.Items.Count == 0)
            {
                return null;
            }
            after = jobs.Items[^1].Id;
        }
        return null;
    }

    private async Task AdoptAsync(Guid jobId, IProviderClient client, ProviderJob remote, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().UtcDateTime;
        await UpdateAsync(jobId, j =>
        {
            j.MarkSubmitted(remote.Id, now);
            JobTracker.Apply(j, remote, now);
            j.NextPollAt = now;
        }, cancellationToken);
        logger.LogInformation("Job {JobId} is {RemoteId} at the provider", jobId, remote.Id);
        if (_cancelRequested.ContainsKey(jobId))
        {
            var cancelled = await client.CancelJobAsync(remote.Id, cancellationToken);
            await UpdateAsync(jobId, j => JobTracker.Apply(j, cancelled, time.GetUtcNow().UtcDateTime), cancellationToken);
            await notifications.JobEndedAsync(jobId, cancellationToken);
        }
        Submitted?.Invoke(jobId);
    }

    /// <summary>The dataset's file id at the job's provider, uploading it if needed; null (and the job failed) when that fails.</summary>
    private async Task<string?> FileAtProviderAsync(FineTuneJob row, Guid? datasetId, string what, CancellationToken cancellationToken)
    {
        if (datasetId is not { } id)
        {
            await FailAsync(row.Id, "upload_failed", $"The {what} dataset was removed before the job was sent.", what + "_file", cancellationToken);
            return null;
        }
        try
        {
            var upload = await uploads.StartAsync(id, row.ProviderId, cancellationToken);
            if (upload.Status == UploadStatus.Uploading)
            {
                await uploads.WaitAsync(upload.Id).WaitAsync(cancellationToken);
                upload = (await uploads.ListAsync(id, cancellationToken)).First(u => u.Id == upload.Id);
            }
            if (upload is { Status: UploadStatus.Uploaded, RemoteFileId: { } fileId })
            {
                return fileId;
            }
            await FailAsync(row.Id, "upload_failed", $"The {what} dataset could not be uploaded: {upload.Error}", what + "_file", cancellationToken);
        }
        catch (StudioException e)
        {
            await FailAsync(row.Id, "upload_failed", $"The {what} dataset could not be uploaded: {e.Message}", what + "_file", cancellationToken);
        }
        return null;
    }

    private async Task FailAsync(Guid jobId, string code, string message, string? param, CancellationToken cancellationToken)
    {
        await UpdateAsync(jobId, j =>
        {
            if (j.Status == JobStatuses.Pending)
            {
                j.MarkRejected(code, message, param, time.GetUtcNow().UtcDateTime);
            }
        }, cancellationToken);
        await notifications.JobEndedAsync(jobId, cancellationToken);
    }

    private async Task UpdateAsync(Guid jobId, Action<FineTuneJob> change, CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        var row = await context.Jobs.FirstAsync(j => j.Id == jobId, cancellationToken);
        change(row);
        await context.SaveChangesAsync(cancellationToken);
        events.JobChanged(jobId);
    }
}

/// <summary>Runs submissions as they are queued, a few at a time (each may wait for an upload), and resumes those a stop left.</summary>
internal sealed class JobSubmitterWorker(JobSubmitter submitter, BackgroundLoops loops) : BackgroundService
{
    private const int AtOnce = 4;

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => loops.RunAsync("job submissions", async token =>
    {
        await loops.StartedAsync(token);
        await submitter.ResumePendingAsync(token);
        using var slots = new SemaphoreSlim(AtOnce);
        var running = new List<Task>();
        try
        {
            await foreach (var id in submitter.Queue.ReadAllAsync(token))
            {
                await slots.WaitAsync(token);
                running.RemoveAll(t => t.IsCompleted);
                running.Add(Task.Run(async () =>
                {
                    try
                    {
                        await submitter.RunAsync(id, token);
                    }
                    finally
                    {
                        slots.Release();
                    }
                }, CancellationToken.None));
            }
        }
        finally
        {
            await Task.WhenAll(running);
        }
    }, stoppingToken);
}

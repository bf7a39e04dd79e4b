using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using StrawberryPhi.Providers;
using StrawberryPhi.Web.Data;
using StrawberryPhi.Web.Providers;

namespace StrawberryPhi.Web.Jobs;

/// <summary>A job the import could not bring in whole, and why (the others went on).</summary>
public sealed record JobImportFailure(string RemoteId, string Reason);

/// <summary>What an import found at the provider and what of it was new to the studio.</summary>
public sealed record JobImportResult(
    Guid ProviderId, int JobsFound, int JobsNew, int EventsFound, int EventsNew, int CheckpointsFound, int CheckpointsNew,
    IReadOnlyList<JobImportFailure> Failures);

/// <summary>
/// Brings a connection's whole fine-tuning history into the studio, not only the jobs made here: every job the account
/// lists gets a row (origin <c>imported</c>, unless the studio made it), then one poll of the tracker stores what is
/// new of it: events (the whole history the first time, only newer ones after), metric points rebuilt from them,
/// checkpoints with their metrics, and result files once it ended. Running it again fetches only what is new.
/// </summary>
public sealed class JobImporter(
    IDbContextFactory<StudioDbContext> db, ProviderConnectionService connections, JobTracker tracker, StudioNotifier events, TimeProvider time,
    ILogger<JobImporter> logger)
{
    public const string Origin = "imported";
    private const int PageSize = 100;

    public async Task<JobImportResult> ImportAsync(Guid providerId, IProgress<(int Done, int Total)>? progress, CancellationToken cancellationToken)
    {
        var connection = await connections.GetAsync(providerId, cancellationToken);
        var client = await connections.ClientAsync(providerId, cancellationToken);
        var remote = new List<ProviderJob>();
        for (string? after = null; ;)
        {
            var page = await client.ListJobsAsync(after, PageSize, null, cancellationToken);
            remote.AddRange(page.Items);
            if (!page.HasMore || page.Items.Count == 0)
            {
                break;
            }
            after = page.Items[^1].Id;
        }
        var jobsNew = 0;
        int eventsFound = 0, eventsNew = 0, checkpointsFound = 0, checkpointsNew = 0;
        var failures = new List<JobImportFailure>();
        for (var i = 0; i < remote.Count; i++)
        {
            var job = remote[i];
            var (jobId, created) = await RowAsync(providerId, job, cancellationToken);
            jobsNew += created ? 1 : 0;
            var (eventsBefore, checkpointsBefore) = await CountsAsync(jobId, cancellationToken);
            await tracker.PollAsync(jobId, cancellationToken);
            await using (var context = await db.CreateDbContextAsync(cancellationToken))
            {
                // A poll that failed says so on the row (a poll that succeeds clears it).
                if (await context.Jobs.Where(j => j.Id == jobId).Select(j => j.LastPollError).FirstAsync(cancellationToken) is { } error)
                {
                    failures.Add(new JobImportFailure(job.Id, error));
                    logger.LogWarning("Importing job {RemoteId} from {Connection} failed: {Reason}", job.Id, connection.Name, error);
                }
            }
            var (eventsAfter, checkpointsAfter) = await CountsAsync(jobId, cancellationToken);
            (eventsFound, eventsNew) = (eventsFound + eventsAfter, eventsNew + eventsAfter - eventsBefore);
            (checkpointsFound, checkpointsNew) = (checkpointsFound + checkpointsAfter, checkpointsNew + checkpointsAfter - checkpointsBefore);
            progress?.Report((i + 1, remote.Count));
        }
        events.Publish(StudioTopic.Jobs);
        return new JobImportResult(providerId, remote.Count, jobsNew, eventsFound, eventsNew, checkpointsFound, checkpointsNew, failures);
    }

    /// <summary>The studio's row for a provider's job: the existing one (made here, or imported before), or a new imported one.</summary>
    private async Task<(Guid Id, bool Created)> RowAsync(Guid providerId, ProviderJob job, CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        if (await context.Jobs.Where(j => j.ProviderId == providerId && j.RemoteId == job.Id).Select(j => (Guid?)j.Id).FirstOrDefaultAsync(cancellationToken) is { } existing)
        {
            return (existing, false);
        }
        var row = new FineTuneJob
        {
            Id = Guid.CreateVersion7(job.CreatedAt),
            ProviderId = providerId,
            Model = job.Model,
            MethodType = job.MethodType ?? "supervised",
            TrainingFileId = job.TrainingFile,
            ValidationFileId = job.ValidationFile,
            Seed = job.Seed,
            MetadataJson = job.Metadata.Count > 0 ? JsonSerializer.Serialize(job.Metadata) : null,
            Origin = Origin,
            CreatedAt = job.CreatedAt.UtcDateTime,
            NextPollAt = time.GetUtcNow().UtcDateTime,
        };
        row.MarkSubmitted(job.Id, job.CreatedAt.UtcDateTime);
        context.Jobs.Add(row);
        try
        {
            await context.SaveChangesAsync(cancellationToken);
            return (row.Id, true);
        }
        catch (DbUpdateException e) when (DbErrors.IsUniqueViolation(e))
        {
            // Another import (or the submitter adopting its own job) stored it first.
            await using var again = await db.CreateDbContextAsync(cancellationToken);
            return (await again.Jobs.Where(j => j.ProviderId == providerId && j.RemoteId == job.Id).Select(j => j.Id).FirstAsync(cancellationToken), false);
        }
    }

    private async Task<(int Events, int Checkpoints)> CountsAsync(Guid jobId, CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        return (await context.JobEvents.CountAsync(e => e.JobId == jobId, cancellationToken),
            await context.JobCheckpoints.CountAsync(c => c.JobId == jobId, cancellationToken));
    }
}

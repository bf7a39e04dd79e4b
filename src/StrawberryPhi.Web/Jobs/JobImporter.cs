using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using StrawberryPhi.Providers;
using StrawberryPhi.Web.Data;
using StrawberryPhi.Web.Providers;

namespace StrawberryPhi.Web.Jobs;

/// <summary>A job the import could not bring in whole, and why (the others went on).</summary>
public sealed record JobImportFailure(string RemoteId, string Reason);

/// <summary>What an import found at the provider and what of it was new to the studio.</summary>
/// <param name="FilesDownloaded">Training and validation files whose content was brought in as datasets by this import.</param>
/// <param name="FilesNotDownloadable">Files the provider would not give (OpenAI keeps fine-tune files' content): only their ids and metadata are known.</param>
public sealed record JobImportResult(
    Guid ProviderId, int JobsFound, int JobsNew, int EventsFound, int EventsNew, int CheckpointsFound, int CheckpointsNew,
    IReadOnlyList<JobImportFailure> Failures, int FilesDownloaded = 0, int FilesNotDownloadable = 0);

/// <summary>
/// Brings a connection's whole fine-tuning history into the studio, not only the jobs made here: every job the account
/// lists gets a row (origin <c>imported</c>, unless the studio made it), then one poll of the tracker stores what is
/// new of it: events (the whole history the first time, only newer ones after), metric points rebuilt from them,
/// checkpoints with their metrics, and result files once it ended. Running it again fetches only what is new.
/// </summary>
public sealed class JobImporter(
    IDbContextFactory<StudioDbContext> db, ProviderConnectionService connections, JobTracker tracker, Datasets.DatasetService datasets, StudioNotifier events,
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
        int eventsFound = 0, eventsNew = 0, checkpointsFound = 0, checkpointsNew = 0, filesDownloaded = 0, filesRefused = 0;
        // File names for the datasets made from downloaded files; one dataset per file, whichever jobs used it.
        var files = new FileIndex(client.Capabilities.FileContent
            ? (await client.ListFilesAsync(cancellationToken)).ToDictionary(f => f.Id, f => f.FileName)
            : []);
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
            if (client.Capabilities.FileContent)
            {
                var (downloaded, refused) = await FilesAsync(client, jobId, files, cancellationToken);
                (filesDownloaded, filesRefused) = (filesDownloaded + downloaded, filesRefused + refused);
            }
            var (eventsAfter, checkpointsAfter) = await CountsAsync(jobId, cancellationToken);
            (eventsFound, eventsNew) = (eventsFound + eventsAfter, eventsNew + eventsAfter - eventsBefore);
            (checkpointsFound, checkpointsNew) = (checkpointsFound + checkpointsAfter, checkpointsNew + checkpointsAfter - checkpointsBefore);
            progress?.Report((i + 1, remote.Count));
        }
        events.Publish(StudioTopic.Jobs);
        return new JobImportResult(providerId, remote.Count, jobsNew, eventsFound, eventsNew, checkpointsFound, checkpointsNew, failures, filesDownloaded, filesRefused);
    }

    private sealed class FileIndex(Dictionary<string, string> names)
    {
        public Dictionary<string, string> Names { get; } = names;

        /// <summary>Files already turned into datasets (by this import or an earlier one, found through the jobs that used them).</summary>
        public Dictionary<string, Guid> Datasets { get; } = [];
    }

    /// <summary>
    /// The job's training and validation files as datasets, where the studio holds none yet: a file another job used
    /// is not fetched twice, and a file the provider will not give is counted, not an error (its id stays on the job).
    /// </summary>
    private async Task<(int Downloaded, int Refused)> FilesAsync(IProviderClient client, Guid jobId, FileIndex files, CancellationToken cancellationToken)
    {
        var (downloaded, refused) = (0, 0);
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        var row = await context.Jobs.FirstAsync(j => j.Id == jobId, cancellationToken);
        async Task<Guid?> DatasetFor(string? fileId)
        {
            if (fileId is null)
            {
                return null;
            }
            if (files.Datasets.TryGetValue(fileId, out var known))
            {
                return known;
            }
            var earlier = await context.Jobs.Where(j => j.ProviderId == row.ProviderId && j.TrainingFileId == fileId && j.TrainingDatasetId != null)
                .Select(j => j.TrainingDatasetId).FirstOrDefaultAsync(cancellationToken)
                ?? await context.Jobs.Where(j => j.ProviderId == row.ProviderId && j.ValidationFileId == fileId && j.ValidationDatasetId != null)
                .Select(j => j.ValidationDatasetId).FirstOrDefaultAsync(cancellationToken);
            if (earlier is { } id)
            {
                return files.Datasets[fileId] = id;
            }
            try
            {
                var bytes = await client.DownloadFileAsync(fileId, cancellationToken);
                using var stream = new MemoryStream(bytes);
                var name = files.Names.GetValueOrDefault(fileId) is { Length: > 0 } fileName ? fileName : fileId + ".jsonl";
                var dataset = await datasets.CreateFromUploadAsync(stream, name, cancellationToken, "provider", $"downloaded from the provider's file {fileId} by an import of its history");
                downloaded++;
                return files.Datasets[fileId] = dataset.Id;
            }
            catch (ProviderException e)
            {
                logger.LogInformation("The content of {FileId} stays at the provider: {Reason}", fileId, e.Message);
                refused++;
                return null;
            }
        }
        row.TrainingDatasetId ??= await DatasetFor(row.TrainingFileId);
        row.ValidationDatasetId ??= await DatasetFor(row.ValidationFileId);
        await context.SaveChangesAsync(cancellationToken);
        return (downloaded, refused);
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
            // Not due for the tracker: the import polls it at once itself (its counts are then its own); the poll
            // schedules the next one when the job is still active.
            NextPollAt = null,
        };
        row.MarkSubmitted(job.Id, job.CreatedAt.UtcDateTime);
        // The job as the provider has it now: one that ended before the import is history, not news (no notification).
        JobTracker.Apply(row, job, job.FinishedAt?.UtcDateTime ?? job.CreatedAt.UtcDateTime);
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

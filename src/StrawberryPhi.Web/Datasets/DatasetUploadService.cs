using StrawberryPhi.Core.Text;
using System.Collections.Concurrent;
using Microsoft.EntityFrameworkCore;
using StrawberryPhi.Providers;
using StrawberryPhi.Web.Data;
using StrawberryPhi.Web.Providers;
using StrawberryPhi.Web.Security;

namespace StrawberryPhi.Web.Datasets;

public sealed record UploadView(
    Guid Id, Guid DatasetId, Guid ProviderId, string ProviderName, string RemoteFileName, string? RemoteFileId, UploadStatus Status,
    string? Error, long Bytes, int Attempts, DateTime CreatedAt, DateTime? CompletedAt);

/// <summary>
/// Sends datasets to providers' Files API (Uploads API in parts above 512 MB). The upload row is written before the
/// remote call and the remote file name carries the content hash, so a retry adopts a file an interrupted attempt
/// did finish instead of uploading a second copy.
/// </summary>
public sealed class DatasetUploadService(
    IDbContextFactory<StudioDbContext> db, DatasetService datasets, ProviderConnectionService providers, TimeProvider time,
    StudioNotifier events, ILogger<DatasetUploadService> logger) : IDisposable
{
    private const string Interrupted = "The studio stopped during the upload; retry it.";

    /// <summary>Uploads queued or running, with what completes when each ends (the worker sets it).</summary>
    private readonly ConcurrentDictionary<Guid, TaskCompletionSource> _running = new();

    private readonly System.Threading.Channels.Channel<Guid> _queue = System.Threading.Channels.Channel.CreateUnbounded<Guid>(new() { SingleReader = true });

    /// <summary>One start at a time: two at once (a double click, two API calls) would both find no upload and start two.</summary>
    private readonly SemaphoreSlim _starting = new(1, 1);

    public void Dispose() => _starting.Dispose();

    public async Task<IReadOnlyList<UploadView>> ListAsync(Guid datasetId, CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        var rows = await context.DatasetUploads.AsNoTracking().Where(u => u.DatasetId == datasetId)
            .Join(context.Providers.AsNoTracking(), u => u.ProviderId, p => p.Id, (u, p) => new { Upload = u, p.Name })
            .ToListAsync(cancellationToken);
        return rows.OrderByDescending(r => r.Upload.CreatedAt).Select(r => View(r.Upload, r.Name)).ToList();
    }

    /// <summary>Why a dataset in this state cannot go to a provider, or null when it can.</summary>
    public static string? WhyNotUploadable(DatasetStatus status, long errors) => status switch
    {
        DatasetStatus.NeedsImport => "Import this file into chat JSONL first; providers take JSONL only.",
        DatasetStatus.Failed => "The validation could not run; validate the dataset again before uploading.",
        not DatasetStatus.Ready => "Wait for the validation to finish before uploading.",
        _ when errors > 0 => $"The dataset has {Plural.Of(errors, "error")} the provider would reject it for. Make a cleaned copy (Transform → Clean) or fix the file.",
        _ => null,
    };

    /// <summary>
    /// Starts (or retries) the upload of a dataset to a provider and returns at once; progress arrives as events.
    /// A dataset already at the provider is not sent again: its upload comes back as it is, <c>Uploaded</c>, with the file id.
    /// </summary>
    public async Task<UploadView> StartAsync(Guid datasetId, Guid providerId, CancellationToken cancellationToken)
    {
        var dataset = await datasets.RowAsync(datasetId, cancellationToken);
        var provider = await providers.GetAsync(providerId, cancellationToken);
        if (WhyNotUploadable(dataset.Status, dataset.Errors) is { } reason)
        {
            throw new StudioException(StudioError.Conflict, reason);
        }
        await _starting.WaitAsync(cancellationToken);
        try
        {
            return await StartOnceAsync(dataset, provider, cancellationToken);
        }
        finally
        {
            _starting.Release();
        }
    }

    private async Task<UploadView> StartOnceAsync(Dataset dataset, ProviderView provider, CancellationToken cancellationToken)
    {
        var (datasetId, providerId) = (dataset.Id, provider.Id);
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        var row = await context.DatasetUploads.FirstOrDefaultAsync(u => u.DatasetId == datasetId && u.ProviderId == providerId, cancellationToken);
        if (row is { Status: UploadStatus.Uploading } && !_running.ContainsKey(row.Id))
        {
            // The worker saves an upload's end before it lets go of it, so a row read as uploading just before that
            // end is read again: a finished upload is not taken for one a stop cut short (and sent a second time).
            await context.Entry(row).ReloadAsync(cancellationToken);
        }
        if (row is { Status: UploadStatus.Uploaded })
        {
            return View(row, provider.Name);
        }
        if (row is { Status: UploadStatus.Uploading } && _running.ContainsKey(row.Id))
        {
            return View(row, provider.Name);
        }
        if (row is null)
        {
            row = new DatasetUpload
            {
                Id = Guid.CreateVersion7(time.GetUtcNow()),
                DatasetId = datasetId,
                ProviderId = providerId,
                RemoteFileName = RemoteName(dataset.FileName, dataset.Sha256),
                Bytes = dataset.Bytes,
                CreatedAt = time.GetUtcNow().UtcDateTime,
            };
            context.DatasetUploads.Add(row);
        }
        else
        {
            if (row.Status == UploadStatus.Uploading)
            {
                row.MarkFailed(Interrupted); // uploading, yet no worker has it: a stop cut it short
            }
            row.MarkRetrying();
        }
        await context.SaveChangesAsync(cancellationToken);
        _running[row.Id] = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _queue.Writer.TryWrite(row.Id);
        events.DatasetChanged(datasetId);
        return View(row, provider.Name);
    }

    /// <summary>Waits for a queued or running upload (tests and the CLI); returns at once when none is.</summary>
    public Task WaitAsync(Guid uploadId) => _running.TryGetValue(uploadId, out var running) ? running.Task : Task.CompletedTask;

    /// <summary>Uploads started and not yet run, in order (read by <see cref="DatasetUploadWorker"/>).</summary>
    internal System.Threading.Channels.ChannelReader<Guid> Queue => _queue.Reader;

    /// <summary>Runs one queued upload to its end (uploaded or failed with the reason); called by the worker.</summary>
    internal async Task RunAsync(Guid uploadId, CancellationToken cancellationToken)
    {
        try
        {
            await RunOnceAsync(uploadId, cancellationToken);
        }
        finally
        {
            if (_running.TryRemove(uploadId, out var running))
            {
                running.TrySetResult();
            }
        }
    }

    private async Task RunOnceAsync(Guid uploadId, CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        var row = await context.DatasetUploads.FirstAsync(u => u.Id == uploadId, cancellationToken);
        if (row.Status != UploadStatus.Uploading)
        {
            // Queued twice, and the first run already ended it: nothing to send, and its end is not undone.
            logger.LogWarning("Upload {UploadId} was queued while {Status}; left as it is", uploadId, row.Status);
            return;
        }
        try
        {
            var client = await providers.ClientAsync(row.ProviderId, cancellationToken);
            // A file an earlier attempt finished (the answer lost on the way back) is adopted, not uploaded again.
            var existing = (await client.ListFilesAsync(cancellationToken)).FirstOrDefault(f => f.FileName == row.RemoteFileName && f.Bytes == row.Bytes);
            ProviderFile file;
            if (existing is not null)
            {
                file = existing;
                logger.LogInformation("Upload {UploadId} found its file {FileId} already at the provider", uploadId, existing.Id);
            }
            else
            {
                var (content, _, bytes, _) = await datasets.OpenAsync(row.DatasetId, cancellationToken);
                await using (content)
                {
                    var progress = new PercentProgress(bytes, fraction => events.ReportProgress(row.Id, "Uploading", fraction));
                    file = await client.UploadFileAsync(content, row.RemoteFileName, progress, cancellationToken);
                }
            }
            row.MarkUploaded(file.Id, time.GetUtcNow().UtcDateTime);
            logger.LogInformation("Upload {UploadId} done: provider file {FileId}", uploadId, file.Id);
        }
        catch (Exception e) when (e is ProviderException or KeyVaultException or StudioException or IOException)
        {
            row.MarkFailed(e.Message);
            logger.LogWarning("Upload {UploadId} failed: {Reason}", uploadId, e.Message);
        }
        catch (OperationCanceledException)
        {
            row.MarkFailed(Interrupted);
        }
        catch (Exception e)
        {
            // Whatever else went wrong, the upload ends failed with the reason: it never stays "uploading".
            row.MarkFailed($"The upload failed unexpectedly ({e.GetType().Name}): {e.Message}");
            logger.LogError(e, "Upload {UploadId} failed unexpectedly", uploadId);
        }
        finally
        {
            events.ClearProgress(row.Id);
            await context.SaveChangesAsync(CancellationToken.None);
            events.DatasetChanged(row.DatasetId);
        }
    }

    /// <summary>Uploads a stop cut short are marked failed on start, so they can be retried.</summary>
    internal async Task MarkInterruptedAsync(CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        // Row by row through the entity, which keeps its rules (a bulk update would go around them); a stop leaves few.
        foreach (var row in await context.DatasetUploads.Where(u => u.Status == UploadStatus.Uploading).ToListAsync(cancellationToken))
        {
            row.MarkFailed(Interrupted);
        }
        await context.SaveChangesAsync(cancellationToken);
    }

    private static string RemoteName(string fileName, string sha) =>
        $"{Path.GetFileNameWithoutExtension(fileName)}.{sha[..12]}.jsonl";

    private static UploadView View(DatasetUpload u, string providerName) =>
        new(u.Id, u.DatasetId, u.ProviderId, providerName, u.RemoteFileName, u.RemoteFileId, u.Status, u.Error, u.Bytes, u.Attempts, u.CreatedAt, u.CompletedAt);
}

/// <summary>Runs queued uploads one at a time (each streams a whole file), and reports its loop to the health check.</summary>
internal sealed class DatasetUploadWorker(DatasetUploadService uploads, BackgroundLoops loops) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => loops.RunAsync("uploads", async token =>
    {
        await foreach (var id in uploads.Queue.ReadAllAsync(token))
        {
            await uploads.RunAsync(id, token);
        }
    }, stoppingToken);
}

using System.Threading.Channels;

namespace StrawberryPhi.Web.Datasets;

/// <summary>Datasets waiting for validation, in arrival order.</summary>
public sealed class DatasetValidationQueue
{
    private readonly Channel<Guid> _channel = Channel.CreateUnbounded<Guid>(new UnboundedChannelOptions { SingleReader = true });

    public void Enqueue(Guid datasetId) => _channel.Writer.TryWrite(datasetId);

    internal ChannelReader<Guid> Reader => _channel.Reader;
}

/// <summary>
/// Validates queued datasets one at a time (each run already uses every core), and on start picks up those a stop
/// left unvalidated.
/// </summary>
internal sealed class DatasetValidationWorker(
    DatasetValidationQueue queue, IServiceProvider services, DatasetFiles files, BackgroundLoops loops, ILogger<DatasetValidationWorker> logger)
    : BackgroundService
{
    // Stopping (also when the studio could not start) loses nothing: a dataset left validating is queued again at the next start.
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => loops.RunAsync("validation", async token =>
    {
        var datasets = services.GetRequiredService<DatasetService>();
        files.ClearStaging();
        foreach (var id in await datasets.PendingValidationAsync(token))
        {
            queue.Enqueue(id);
        }
        await ValidateQueuedAsync(datasets, token);
    }, stoppingToken);

    private async Task ValidateQueuedAsync(DatasetService datasets, CancellationToken stoppingToken)
    {
        await foreach (var id in queue.Reader.ReadAllAsync(stoppingToken))
        {
            try
            {
                await datasets.ValidateNowAsync(id, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // ValidateNowAsync ends a dataset Failed with the reason; this is the last net, so the queue goes on.
                logger.LogError(e, "Validating dataset {DatasetId} failed", id);
            }
        }
    }
}

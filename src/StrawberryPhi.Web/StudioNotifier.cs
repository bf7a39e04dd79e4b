using System.Collections.Concurrent;
using System.Threading.Channels;

namespace StrawberryPhi.Web;

/// <summary>What a subscription listens to: one dataset, the datasets list, one piece of work's progress, the providers, the settings.</summary>
public readonly record struct StudioTopic(string Kind, Guid Id)
{
    public static StudioTopic Dataset(Guid id) => new("dataset", id);

    /// <summary>Any dataset added, removed or changed (the lists).</summary>
    public static StudioTopic Datasets { get; } = new("datasets", Guid.Empty);

    /// <summary>Progress of long work on a dataset or an upload (kept apart from changes: bars move, nothing reloads).</summary>
    public static StudioTopic Progress(Guid id) => new("progress", id);

    /// <summary>One job: its state, events, metric points, checkpoints.</summary>
    public static StudioTopic Job(Guid id) => new("job", id);

    /// <summary>Any job added or changed (the lists, the dashboard).</summary>
    public static StudioTopic Jobs { get; } = new("jobs", Guid.Empty);

    /// <summary>A notification recorded or read, a webhook delivery attempted.</summary>
    public static StudioTopic Notifications { get; } = new("notifications", Guid.Empty);

    /// <summary>An evaluation run's status, progress or results changed.</summary>
    public static StudioTopic EvalRun(Guid id) => new("eval-run", id);

    /// <summary>Evaluation sets or runs were added, removed or changed status.</summary>
    public static StudioTopic Evaluations { get; } = new("evaluations", Guid.Empty);

    public static StudioTopic Providers { get; } = new("providers", Guid.Empty);

    public static StudioTopic Settings { get; } = new("settings", Guid.Empty);

    /// <summary>Every publication, whatever its topic (for tests and diagnostics).</summary>
    public static StudioTopic Everything { get; } = new("*", Guid.Empty);

    public override string ToString() => Id == Guid.Empty ? Kind : $"{Kind}/{Id}";
}

/// <summary>Long work in progress on a dataset or an upload, for progress bars.</summary>
public sealed record WorkProgress(string Stage, double Fraction);

/// <summary>
/// What background work publishes and pages subscribe to, by topic. A handler never runs on the publisher's thread:
/// each subscription has its own pump, so a slow or failing page cannot stall validation or a job. Bursts coalesce:
/// what is published while a handler runs (or within <c>atMostEvery</c> of its last run) reaches it once, since
/// handlers re-read what they show. A handler's exception goes to the subscriber's <c>onError</c> (pages dispatch it
/// to their circuit), or to the log. Disposing a subscription stops its pump; nothing is delivered after that.
/// </summary>
public sealed class StudioNotifier(TimeProvider time, ILogger<StudioNotifier> logger)
{
    private readonly TimeProvider _time = time;
    private readonly ILogger _logger = logger;
    private readonly ConcurrentDictionary<Guid, WorkProgress> _progress = new();
    private readonly Lock _gate = new();
    private Subscription[] _subscriptions = [];

    public IDisposable Subscribe(StudioTopic topic, Func<StudioTopic, Task> handler, Func<Exception, Task>? onError = null, TimeSpan? atMostEvery = null)
    {
        var subscription = new Subscription(this, topic, handler, onError, atMostEvery ?? TimeSpan.Zero);
        lock (_gate)
        {
            _subscriptions = [.. _subscriptions, subscription];
        }
        subscription.Start();
        return subscription;
    }

    public void Publish(StudioTopic topic)
    {
        foreach (var subscription in Volatile.Read(ref _subscriptions))
        {
            if (subscription.Topic == topic || subscription.Topic == StudioTopic.Everything)
            {
                subscription.Signal(topic);
            }
        }
    }

    /// <summary>A dataset changed: its own page and the lists hear of it.</summary>
    public void DatasetChanged(Guid id)
    {
        Publish(StudioTopic.Dataset(id));
        Publish(StudioTopic.Datasets);
    }

    /// <summary>A job changed: its page, and the lists and the dashboard.</summary>
    public void JobChanged(Guid id)
    {
        Publish(StudioTopic.Job(id));
        Publish(StudioTopic.Jobs);
    }

    public WorkProgress? ProgressOf(Guid id) => _progress.TryGetValue(id, out var progress) ? progress : null;

    public void ReportProgress(Guid id, string stage, double fraction)
    {
        _progress[id] = new WorkProgress(stage, Math.Clamp(fraction, 0, 1));
        Publish(StudioTopic.Progress(id));
    }

    public void ClearProgress(Guid id) => _progress.TryRemove(id, out _);

    /// <summary>How many subscriptions are live (a page that forgot to unsubscribe shows here).</summary>
    public int SubscriptionCount => Volatile.Read(ref _subscriptions).Length;

    private void Remove(Subscription subscription)
    {
        lock (_gate)
        {
            _subscriptions = [.. _subscriptions.Where(s => s != subscription)];
        }
    }

    private sealed class Subscription(
        StudioNotifier notifier, StudioTopic topic, Func<StudioTopic, Task> handler, Func<Exception, Task>? onError, TimeSpan atMostEvery) : IDisposable
    {
        // One slot, newest wins: everything published while the handler runs is delivered once, as its latest topic.
        private readonly Channel<StudioTopic> _pending = Channel.CreateBounded<StudioTopic>(
            new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
        private readonly CancellationTokenSource _stop = new();
        private Task _pump = Task.CompletedTask;

        public StudioTopic Topic { get; } = topic;

        public void Start() => _pump = Task.Run(PumpAsync);

        public void Signal(StudioTopic published) => _pending.Writer.TryWrite(published);

        private async Task PumpAsync()
        {
            var token = _stop.Token;
            try
            {
                await foreach (var published in _pending.Reader.ReadAllAsync(token))
                {
                    // The interval runs from the start of this delivery: the next one comes no sooner.
                    var interval = atMostEvery > TimeSpan.Zero ? Task.Delay(atMostEvery, notifier._time, token) : Task.CompletedTask;
                    try
                    {
                        await handler(published);
                    }
                    catch (Exception) when (token.IsCancellationRequested)
                    {
                        return; // disposed meanwhile (a page closing): its subscriber is gone, nothing to report to
                    }
                    catch (Exception e)
                    {
                        await ReportAsync(e);
                    }
                    await interval;
                }
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                // Disposed: nothing more is delivered.
            }
        }

        private async Task ReportAsync(Exception exception)
        {
            try
            {
                if (onError is null)
                {
                    notifier._logger.LogError(exception, "A subscriber to {Topic} failed", Topic);
                    return;
                }
                await onError(exception);
            }
            catch (Exception e)
            {
                notifier._logger.LogError(e, "A subscriber to {Topic} failed, and so did its error handler", Topic);
            }
        }

        public void Dispose()
        {
            notifier.Remove(this);
            _pending.Writer.TryComplete();
            _stop.Cancel();
        }
    }
}

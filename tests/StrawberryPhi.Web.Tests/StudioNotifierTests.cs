using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace StrawberryPhi.Web.Tests;

public sealed class StudioNotifierTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly StudioNotifier _notifier = new(TimeProvider.System, NullLogger<StudioNotifier>.Instance);

    [Fact]
    public async Task Publish_ConcurrentPublishers_EverySubscriberHearsOfTheLast_OnlyItsTopic_OffThePublishersThread()
    {
        var dataset = Guid.NewGuid();
        var heard = new TaskCompletionSource<StudioTopic>(TaskCreationOptions.RunContinuationsAsynchronously);
        var publisherThreads = new System.Collections.Concurrent.ConcurrentBag<int>();
        var handlerThreads = new System.Collections.Concurrent.ConcurrentBag<int>();
        var others = 0;
        using var mine = _notifier.Subscribe(StudioTopic.Dataset(dataset), topic =>
        {
            handlerThreads.Add(Environment.CurrentManagedThreadId);
            heard.TrySetResult(topic);
            return Task.CompletedTask;
        });
        using var providers = _notifier.Subscribe(StudioTopic.Providers, _ =>
        {
            Interlocked.Increment(ref others);
            return Task.CompletedTask;
        });

        using var start = new Barrier(8);
        var publishers = Enumerable.Range(0, 8).Select(_ => Task.Factory.StartNew(() =>
        {
            publisherThreads.Add(Environment.CurrentManagedThreadId);
            start.SignalAndWait(Timeout);
            for (var i = 0; i < 1000; i++)
            {
                _notifier.DatasetChanged(i % 2 == 0 ? dataset : Guid.NewGuid());
            }
        }, TaskCreationOptions.LongRunning)).ToArray();
        await Task.WhenAll(publishers).WaitAsync(Timeout);

        Assert.Equal(StudioTopic.Dataset(dataset), await heard.Task.WaitAsync(Timeout));
        Assert.Equal(0, Volatile.Read(ref others));
        Assert.DoesNotContain(handlerThreads, publisherThreads.Contains);
    }

    [Fact]
    public async Task Publish_WhileTheHandlerRuns_BurstIsDeliveredOnceMore()
    {
        var topic = StudioTopic.Progress(Guid.NewGuid());
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var secondRun = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var calls = 0;
        using var subscription = _notifier.Subscribe(topic, async _ =>
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                entered.SetResult();
                await release.Task;
            }
            else
            {
                secondRun.TrySetResult();
            }
        });

        _notifier.Publish(topic);
        await entered.Task.WaitAsync(Timeout);
        for (var i = 0; i < 500; i++)
        {
            _notifier.Publish(topic); // a metric point per step, while the page is still rendering the last one
        }
        release.SetResult();
        await secondRun.Task.WaitAsync(Timeout);

        // The burst of 500 reached the handler once.
        Assert.Equal(2, Volatile.Read(ref calls));
    }

    [Fact]
    public async Task Subscribe_AtMostEvery_CoalescesOnTheInjectedClock()
    {
        var time = new FakeTimeProvider();
        var notifier = new StudioNotifier(time, NullLogger<StudioNotifier>.Instance);
        var topic = StudioTopic.Progress(Guid.NewGuid());
        var runs = System.Threading.Channels.Channel.CreateUnbounded<int>();
        var count = 0;
        using var subscription = notifier.Subscribe(topic, _ => runs.Writer.WriteAsync(Interlocked.Increment(ref count)).AsTask(), atMostEvery: TimeSpan.FromSeconds(1));

        notifier.Publish(topic);
        using var timeout = new CancellationTokenSource(Timeout);
        Assert.Equal(1, await runs.Reader.ReadAsync(timeout.Token));
        for (var i = 0; i < 100; i++)
        {
            notifier.Publish(topic);
        }
        Assert.False(runs.Reader.TryRead(out _), "delivered again before the interval passed");

        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(2, await runs.Reader.ReadAsync(timeout.Token));
    }

    [Fact]
    public async Task Dispose_NothingIsDeliveredAfterwards_AndTheSubscriptionIsGone()
    {
        var topic = StudioTopic.Dataset(Guid.NewGuid());
        var calls = 0;
        var before = _notifier.SubscriptionCount;
        var subscription = _notifier.Subscribe(topic, _ =>
        {
            Interlocked.Increment(ref calls);
            return Task.CompletedTask;
        });
        Assert.Equal(before + 1, _notifier.SubscriptionCount);

        subscription.Dispose();
        _notifier.Publish(topic);

        Assert.Equal(before, _notifier.SubscriptionCount);
        // A second subscriber published to after the first was disposed proves the publication went out.
        var heard = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var witness = _notifier.Subscribe(topic, _ =>
        {
            heard.TrySetResult();
            return Task.CompletedTask;
        });
        _notifier.Publish(topic);
        await heard.Task.WaitAsync(Timeout);
        Assert.Equal(0, Volatile.Read(ref calls));
        subscription.Dispose(); // twice is harmless
    }

    [Fact]
    public async Task Handler_Throws_TheErrorGoesToOnError_AndLaterPublicationsStillArrive()
    {
        var topic = StudioTopic.Providers;
        var errors = System.Threading.Channels.Channel.CreateUnbounded<Exception>();
        var calls = 0;
        using var subscription = _notifier.Subscribe(topic, _ => Interlocked.Increment(ref calls) == 1
            ? throw new InvalidOperationException("the page could not reload")
            : Task.CompletedTask, e => errors.Writer.WriteAsync(e).AsTask());

        _notifier.Publish(topic);
        using var timeout = new CancellationTokenSource(Timeout);
        var error = await errors.Reader.ReadAsync(timeout.Token);
        Assert.Equal("the page could not reload", error.Message);

        await WaitUntilAsync(() => Volatile.Read(ref calls) >= 2, topic);
    }

    /// <summary>Re-checks on every publication of <paramref name="topic"/> (the notifier's own signal, no sleeps).</summary>
    private async Task WaitUntilAsync(Func<bool> condition, StudioTopic topic)
    {
        using var signal = new SemaphoreSlim(0);
        using var subscription = _notifier.Subscribe(topic, _ =>
        {
            signal.Release();
            return Task.CompletedTask;
        });
        using var timeout = new CancellationTokenSource(Timeout);
        while (!condition())
        {
            _notifier.Publish(topic);
            await signal.WaitAsync(timeout.Token);
        }
    }
}

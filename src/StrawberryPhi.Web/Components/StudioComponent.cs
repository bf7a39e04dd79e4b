using Microsoft.AspNetCore.Components;

namespace StrawberryPhi.Web.Components;

/// <summary>
/// What every page and panel of the studio needs: a token that ends with the component (every service call takes
/// it, so leaving a page cancels its work), and subscriptions to the notifier that re-load on the circuit's
/// dispatcher and end with the component. A failure in a re-load goes to the circuit's error boundary, never into
/// the void.
/// </summary>
public abstract class StudioComponent : ComponentBase, IDisposable
{
    private readonly CancellationTokenSource _lifetime = new();
    private readonly List<IDisposable> _subscriptions = [];
    private bool _disposed;

    [Inject]
    protected StudioNotifier Notifier { get; set; } = null!;

    /// <summary>Cancelled when the component goes (the user left the page or closed the tab).</summary>
    protected CancellationToken Lifetime => _lifetime.Token;

    /// <summary>Calls <paramref name="reload"/> and re-renders whenever <paramref name="topic"/> is published, until disposed.</summary>
    protected IDisposable Watch(StudioTopic topic, Func<Task> reload, TimeSpan? atMostEvery = null)
    {
        var subscription = Notifier.Subscribe(topic, _ => InvokeAsync(async () =>
        {
            if (_disposed)
            {
                return;
            }
            try
            {
                await reload();
            }
            catch (OperationCanceledException) when (Lifetime.IsCancellationRequested)
            {
                return; // the page went while it re-loaded
            }
            StateHasChanged();
        }), DispatchExceptionAsync, atMostEvery);
        _subscriptions.Add(subscription);
        return subscription;
    }

    /// <summary>Ends one subscription made with <see cref="Watch"/> (when what a page shows changes).</summary>
    protected void Unwatch(IDisposable? subscription)
    {
        if (subscription is not null && _subscriptions.Remove(subscription))
        {
            subscription.Dispose();
        }
    }

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (_disposed || !disposing)
        {
            return;
        }
        _disposed = true;
        foreach (var subscription in _subscriptions)
        {
            subscription.Dispose();
        }
        _subscriptions.Clear();
        _lifetime.Cancel();
        _lifetime.Dispose();
    }
}

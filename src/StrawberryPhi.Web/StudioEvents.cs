using System.Collections.Concurrent;

namespace StrawberryPhi.Web;

public enum StudioEventKind
{
    DatasetChanged,
    DatasetProgress,
    UploadChanged,
    ProvidersChanged,
    SettingsChanged,
}

public sealed record StudioEvent(StudioEventKind Kind, Guid Id);

/// <summary>
/// What background work publishes and components subscribe to (with <c>InvokeAsync</c>, unsubscribing on dispose),
/// so pages update without reload.
/// </summary>
public sealed class StudioEvents
{
    private readonly ConcurrentDictionary<Guid, WorkProgress> _progress = new();

    public event Action<StudioEvent>? Published;

    public void Publish(StudioEventKind kind, Guid id) => Published?.Invoke(new StudioEvent(kind, id));

    /// <summary>Long work in progress on a dataset or an upload, for progress bars.</summary>
    public WorkProgress? ProgressOf(Guid id) => _progress.TryGetValue(id, out var progress) ? progress : null;

    public void ReportProgress(Guid id, string stage, double fraction)
    {
        _progress[id] = new WorkProgress(stage, Math.Clamp(fraction, 0, 1));
        Publish(StudioEventKind.DatasetProgress, id);
    }

    public void ClearProgress(Guid id) => _progress.TryRemove(id, out _);
}

public sealed record WorkProgress(string Stage, double Fraction);

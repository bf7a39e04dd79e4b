namespace StrawberryPhi.Web;

/// <summary>
/// The last few values computed for keys, most recent first. For results of immutable inputs (a content-addressed
/// file's line index, a search over it) that are costly to compute and cheap to keep.
/// </summary>
internal sealed class RecentCache<TValue>(int capacity)
    where TValue : class
{
    private readonly Lock _lock = new();
    private readonly LinkedList<(string Key, TValue Value)> _entries = new();

    /// <remarks>Two callers missing at once may both compute; the values are equal, and the later one is kept.</remarks>
    public TValue Get(string key, Func<TValue> compute)
    {
        lock (_lock)
        {
            for (var node = _entries.First; node is not null; node = node.Next)
            {
                if (node.Value.Key == key)
                {
                    _entries.Remove(node);
                    _entries.AddFirst(node);
                    return node.Value.Value;
                }
            }
        }
        var value = compute();
        lock (_lock)
        {
            _entries.AddFirst((key, value));
            while (_entries.Count > capacity)
            {
                _entries.RemoveLast();
            }
        }
        return value;
    }

    /// <summary>Drops the value of a key whose input is gone.</summary>
    public void Remove(string key)
    {
        lock (_lock)
        {
            for (var node = _entries.First; node is not null; node = node.Next)
            {
                if (node.Value.Key == key)
                {
                    _entries.Remove(node);
                    return;
                }
            }
        }
    }
}

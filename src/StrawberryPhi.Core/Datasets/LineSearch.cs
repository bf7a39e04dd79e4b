using System.Buffers;
using System.Text;

namespace StrawberryPhi.Core.Datasets;

/// <summary>Finds the lines of a file that contain a text, ignoring case, in one streaming pass.</summary>
public static class LineSearch
{
    /// <summary>Returns the 1-based numbers of matching lines, at most <paramref name="maxMatches"/> of them.</summary>
    /// <remarks>The search is over the raw JSON text, so a character the file writes as a \u escape is not found by its literal form.</remarks>
    public static IReadOnlyList<long> Find(string path, string text, int maxMatches, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(text);
        var needle = SearchValues.Create([text], StringComparison.OrdinalIgnoreCase);
        var matches = new List<long>();
        using var reader = new LineBatchReader(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan));
        var chars = ArrayPool<char>.Shared.Rent(1 << 16);
        try
        {
            while (reader.ReadBatch() is { } batch)
            {
                using (batch)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    foreach (var line in batch.Lines)
                    {
                        var bytes = batch.GetLine(line).Span;
                        if (chars.Length < bytes.Length)
                        {
                            ArrayPool<char>.Shared.Return(chars);
                            chars = ArrayPool<char>.Shared.Rent(bytes.Length);
                        }
                        var count = Encoding.UTF8.GetChars(bytes, chars);
                        if (chars.AsSpan(0, count).IndexOfAny(needle) >= 0)
                        {
                            matches.Add(line.Number);
                            if (matches.Count >= maxMatches)
                            {
                                return matches;
                            }
                        }
                    }
                }
            }
            return matches;
        }
        finally
        {
            ArrayPool<char>.Shared.Return(chars);
        }
    }
}

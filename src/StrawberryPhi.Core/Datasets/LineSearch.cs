using System.Buffers;
using System.Text;

namespace StrawberryPhi.Core.Datasets;

/// <summary>Finds the lines of a file that contain a text, ignoring case, in one streaming pass.</summary>
public static class LineSearch
{
    /// <summary>Returns the 1-based numbers of matching lines, at most <paramref name="maxMatches"/> of them.</summary>
    /// <remarks>
    /// The search runs over the raw JSON text without parsing it, so the text is also looked for in the forms a JSON
    /// writer gives it: quotes, backslashes and control characters escaped, and non-ASCII characters as \u escapes
    /// (Python's ensure_ascii, System.Text.Json's default encoder). A file that mixes forms inside one match is missed.
    /// </remarks>
    public static IReadOnlyList<long> Find(string path, string text, int maxMatches, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(text);
        var needle = SearchValues.Create(JsonForms(text), StringComparison.OrdinalIgnoreCase);
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

    /// <summary>The text as it may appear inside a JSON string: literal, minimally escaped, ASCII-only, and HTML-safe ASCII-only.</summary>
    /// <remarks>
    /// Ignoring case cannot reach inside a \u escape (é is \u00e9, É is \u00c9), so the ASCII-only forms are made from the
    /// text in lower and in upper case: a match whose non-ASCII letters all share one case is found.
    /// </remarks>
    public static string[] JsonForms(string text)
    {
        string[] cases = [text.ToLowerInvariant(), text.ToUpperInvariant()];
        return new[] { text, Escape(text, ascii: false, htmlSafe: false) }
            .Concat(cases.Select(c => Escape(c, ascii: true, htmlSafe: false)))
            .Concat(cases.Select(c => Escape(c, ascii: true, htmlSafe: true)))
            .Distinct(StringComparer.OrdinalIgnoreCase).ToArray();
    }

    private static string Escape(string text, bool ascii, bool htmlSafe)
    {
        var builder = new StringBuilder(text.Length + 8);
        foreach (var c in text)
        {
            switch (c)
            {
                case '"' when !htmlSafe: builder.Append("\\\""); break;
                case '\\': builder.Append("\\\\"); break;
                case '\n': builder.Append("\\n"); break;
                case '\r': builder.Append("\\r"); break;
                case '\t': builder.Append("\\t"); break;
                case '\b': builder.Append("\\b"); break;
                case '\f': builder.Append("\\f"); break;
                case < ' ':
                case >= '\u0080' when ascii:
                case '"' or '\'' or '<' or '>' or '&' or '+' or '`' when htmlSafe:
                    builder.Append("\\u").Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture));
                    break;
                default: builder.Append(c); break;
            }
        }
        return builder.ToString();
    }
}

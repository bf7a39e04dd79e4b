using System.Text;
using System.Text.RegularExpressions;

namespace StrawberryPhi.Core.Tokens;

/// <summary>
/// Counts tiktoken tokens exactly as tiktoken's <c>encode_ordinary</c> does. Not thread-safe: give each thread its own.
/// </summary>
/// <remarks>
/// Why not call Microsoft.ML.Tokenizers' <c>Tokenizer.CountTokens(string)</c>: its pre-tokenizer is one Regex shared by every
/// instance and is re-entered once per word. A Regex caches a single runner, so two threads contend for it and
/// allocate a new runner per word; the GC pauses that follow made two threads slower than one. Its LRU word cache
/// also takes a lock per word. Here each counter owns its Regex, enumerates a string once, and keeps a lock-free
/// word cache, so counting allocates nothing after warm-up and scales with cores (docs/adr/0002).
/// </remarks>
public sealed class TokenCounter
{
    private const int MaxCachedWordLength = 64;
    private const int MaxCacheEntries = 250_000;

    private readonly Regex _preTokenizer;
    private readonly TiktokenVocabulary _vocabulary;
    private readonly Dictionary<string, int> _cache = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _cacheLookup;
    private char[] _chars = new char[4096];
    private byte[] _bytes = new byte[1024];

    public TokenCounter(TokenEncoding encoding)
    {
        Encoding = encoding;
        _preTokenizer = new Regex(encoding.Pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant);
        _vocabulary = encoding.Vocabulary;
        _cacheLookup = _cache.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public TokenEncoding Encoding { get; }

    public int Count(ReadOnlySpan<char> text)
    {
        var count = 0;
        foreach (var match in _preTokenizer.EnumerateMatches(text))
        {
            var word = text.Slice(match.Index, match.Length);
            if (_cacheLookup.TryGetValue(word, out var cached))
            {
                count += cached;
                continue;
            }
            var words = CountWord(word);
            if (word.Length <= MaxCachedWordLength)
            {
                if (_cache.Count >= MaxCacheEntries)
                {
                    _cache.Clear();
                }
                _cacheLookup[word] = words;
            }
            count += words;
        }
        return count;
    }

    private int CountWord(ReadOnlySpan<char> word)
    {
        var max = System.Text.Encoding.UTF8.GetMaxByteCount(word.Length);
        if (_bytes.Length < max)
        {
            _bytes = new byte[Math.Max(max, _bytes.Length * 2)];
        }
        var length = System.Text.Encoding.UTF8.GetBytes(word, _bytes);
        return _vocabulary.CountPiece(_bytes.AsSpan(0, length));
    }

    /// <summary>Counts the tokens of UTF-8 text (invalid sequences count as U+FFFD, as tiktoken's decoding would).</summary>
    public int CountUtf8(ReadOnlySpan<byte> utf8)
    {
        var max = System.Text.Encoding.UTF8.GetMaxCharCount(utf8.Length);
        if (_chars.Length < max)
        {
            _chars = new char[Math.Max(max, _chars.Length * 2)];
        }
        var length = System.Text.Encoding.UTF8.GetChars(utf8, _chars);
        return Count(_chars.AsSpan(0, length));
    }
}

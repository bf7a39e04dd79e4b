using System.Buffers;
using System.Buffers.Text;
using System.IO.Compression;
using System.IO.Hashing;
using System.Reflection;

namespace StrawberryPhi.Core.Tokens;

/// <summary>
/// The mergeable ranks of a tiktoken encoding (token bytes → rank), read once per process from the data packages of
/// Microsoft.ML.Tokenizers, and tiktoken's byte-pair merge over them. Read-only after load, so one instance serves
/// every thread.
/// </summary>
/// <remarks>
/// Why not the library's tokenizer: building it also builds a string vocabulary and a decoder (three 200k-entry
/// dictionaries, a string per token), which took 350–530 ms per process here; counting needs only the ranks, which
/// load in a fraction of that (docs/adr/0002). Exactness is pinned by golden counts from tiktoken itself.
/// </remarks>
internal sealed class TiktokenVocabulary
{
    private readonly Dictionary<byte[], int> _ranks;
    private readonly Dictionary<byte[], int>.AlternateLookup<ReadOnlySpan<byte>> _lookup;

    private TiktokenVocabulary(Dictionary<byte[], int> ranks)
    {
        _ranks = ranks;
        _lookup = ranks.GetAlternateLookup<ReadOnlySpan<byte>>();
    }

    public int Count => _ranks.Count;

    public static TiktokenVocabulary Load(string assemblyName, string resourceName)
    {
        using var resource = Assembly.Load(assemblyName).GetManifestResourceStream(resourceName)
            ?? throw new InvalidOperationException($"The token vocabulary {resourceName} is missing from {assemblyName}.");
        using var inflated = new DeflateStream(resource, CompressionMode.Decompress);
        using var buffer = new MemoryStream();
        inflated.CopyTo(buffer);
        return Parse(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
    }

    /// <summary>Parses tiktoken's format: an optional "Capacity: N" line, then "base64" (rank = line index) or "base64 rank" lines.</summary>
    internal static TiktokenVocabulary Parse(ReadOnlySpan<byte> text)
    {
        var capacity = 0;
        if (text.StartsWith("Capacity: "u8))
        {
            var end = text.IndexOf((byte)'\n');
            if (!Utf8Parser.TryParse(text["Capacity: ".Length..end].TrimEnd((byte)'\r'), out capacity, out _))
            {
                capacity = 0; // only a hint for the dictionary's size
            }
            text = text[(end + 1)..];
        }
        var ranks = new Dictionary<byte[], int>(capacity, ByteArrayComparer.Instance);
        Span<byte> decoded = stackalloc byte[1024];
        var lineIndex = 0;
        while (!text.IsEmpty)
        {
            var newline = text.IndexOf((byte)'\n');
            var line = (newline < 0 ? text : text[..newline]).TrimEnd((byte)'\r');
            text = newline < 0 ? [] : text[(newline + 1)..];
            if (!line.IsEmpty)
            {
                var space = line.IndexOf((byte)' ');
                var token = space < 0 ? line : line[..space];
                var rank = lineIndex;
                if (space >= 0 && !Utf8Parser.TryParse(line[(space + 1)..], out rank, out _))
                {
                    throw new InvalidDataException($"Bad rank in token vocabulary line {lineIndex + 1}.");
                }
                if (Base64.GetMaxDecodedFromUtf8Length(token.Length) > decoded.Length
                    || Base64.DecodeFromUtf8(token, decoded, out _, out var written) != OperationStatus.Done)
                {
                    throw new InvalidDataException($"Bad base64 in token vocabulary line {lineIndex + 1}.");
                }
                ranks[decoded[..written].ToArray()] = rank;
            }
            lineIndex++;
        }
        return new TiktokenVocabulary(ranks);
    }

    /// <summary>Tokens in one pre-tokenized piece: tiktoken's <c>byte_pair_encode(piece).len()</c>.</summary>
    public int CountPiece(ReadOnlySpan<byte> piece)
    {
        if (piece.Length <= 1 || _lookup.ContainsKey(piece))
        {
            return piece.Length == 0 ? 0 : 1;
        }

        // parts[i] = (start of part i, rank of merging part i with part i+1); see tiktoken's _byte_pair_merge.
        var length = piece.Length + 1;
        var rented = length > 128 ? ArrayPool<(int Start, int Rank)>.Shared.Rent(length) : null;
        var parts = rented is null ? stackalloc (int Start, int Rank)[length] : rented.AsSpan(0, length);
        try
        {
            var count = length;
            (int Rank, int Index) min = (int.MaxValue, -1);
            for (var i = 0; i < piece.Length - 1; i++)
            {
                var rank = Rank(piece.Slice(i, 2));
                if (rank < min.Rank)
                {
                    min = (rank, i);
                }
                parts[i] = (i, rank);
            }
            parts[piece.Length - 1] = (piece.Length - 1, int.MaxValue);
            parts[piece.Length] = (piece.Length, int.MaxValue);

            while (min.Rank != int.MaxValue)
            {
                var i = min.Index;
                if (i > 0)
                {
                    parts[i - 1].Rank = PairRank(piece, parts, count, i - 1);
                }
                parts[i].Rank = PairRank(piece, parts, count, i);
                parts[(i + 2)..count].CopyTo(parts[(i + 1)..]);
                count--;
                min = (int.MaxValue, -1);
                for (var j = 0; j < count - 1; j++)
                {
                    if (parts[j].Rank < min.Rank)
                    {
                        min = (parts[j].Rank, j);
                    }
                }
            }
            return count - 1;
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<(int, int)>.Shared.Return(rented);
            }
        }
    }

    private int PairRank(ReadOnlySpan<byte> piece, Span<(int Start, int Rank)> parts, int count, int i) =>
        i + 3 < count ? Rank(piece[parts[i].Start..parts[i + 3].Start]) : int.MaxValue;

    private int Rank(ReadOnlySpan<byte> bytes) => _lookup.TryGetValue(bytes, out var rank) ? rank : int.MaxValue;

    private sealed class ByteArrayComparer : IEqualityComparer<byte[]>, IAlternateEqualityComparer<ReadOnlySpan<byte>, byte[]>
    {
        public static readonly ByteArrayComparer Instance = new();

        public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);

        public int GetHashCode(byte[] obj) => GetHashCode((ReadOnlySpan<byte>)obj);

        public bool Equals(ReadOnlySpan<byte> alternate, byte[] other) => alternate.SequenceEqual(other);

        public int GetHashCode(ReadOnlySpan<byte> alternate) => (int)XxHash3.HashToUInt64(alternate);

        public byte[] Create(ReadOnlySpan<byte> alternate) => alternate.ToArray();
    }
}

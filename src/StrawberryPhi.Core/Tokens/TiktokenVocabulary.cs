using System.Buffers;
using System.Buffers.Binary;
using System.Buffers.Text;
using System.IO.Compression;
using System.IO.Hashing;
using System.Numerics;
using System.Reflection;
using System.Runtime.CompilerServices;

namespace StrawberryPhi.Core.Tokens;

/// <summary>
/// The mergeable ranks of a tiktoken encoding (token bytes → rank), read once per process from the data packages of
/// Microsoft.ML.Tokenizers, and tiktoken's byte-pair merge over them. Read-only after load, so one instance serves
/// every thread.
/// </summary>
/// <remarks>
/// Why not the library's tokenizer: building it also builds a string vocabulary and a decoder (three 200k-entry
/// dictionaries, a string per token), which took 350–530 ms per process here. The ranks live in two flat
/// open-addressing tables (tokens of up to 8 bytes packed into a ulong; longer ones in a byte arena) with no
/// interface calls on the lookup path: interface dispatch through a dictionary comparer was what kept two threads
/// from scaling (docs/adr/0002). Exactness is pinned by golden counts from tiktoken itself.
/// </remarks>
internal sealed class TiktokenVocabulary
{
    private readonly ulong[] _shortKeys;
    private readonly byte[] _shortLengths;
    private readonly int[] _shortRanks;
    private readonly int _shortShift;

    private readonly byte[] _longArena;
    private readonly int[] _longStarts;
    private readonly int[] _longLengths; // 0 marks an empty slot
    private readonly int[] _longRanks;
    private readonly int _longShift;

    private TiktokenVocabulary(List<(int Start, int Length, int Rank)> tokens, byte[] arena)
    {
        Count = tokens.Count;
        var shortCount = tokens.Count(t => t.Length <= 8);
        var longCount = tokens.Count - shortCount;

        var shortCapacity = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(16, shortCount * 2));
        _shortKeys = new ulong[shortCapacity];
        _shortLengths = new byte[shortCapacity];
        _shortRanks = new int[shortCapacity];
        _shortShift = 64 - BitOperations.Log2((uint)shortCapacity);

        var longCapacity = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(16, longCount * 2));
        _longArena = arena;
        _longStarts = new int[longCapacity];
        _longLengths = new int[longCapacity];
        _longRanks = new int[longCapacity];
        _longShift = 64 - BitOperations.Log2((uint)longCapacity);

        foreach (var (start, length, rank) in tokens)
        {
            var bytes = arena.AsSpan(start, length);
            if (length <= 8)
            {
                var key = Pack(bytes);
                var slot = ShortSlot(key, length);
                while (_shortLengths[slot] != 0)
                {
                    slot = (slot + 1) & (shortCapacity - 1);
                }
                (_shortKeys[slot], _shortLengths[slot], _shortRanks[slot]) = (key, (byte)length, rank);
            }
            else
            {
                var slot = LongSlot(bytes);
                while (_longLengths[slot] != 0)
                {
                    slot = (slot + 1) & (longCapacity - 1);
                }
                (_longStarts[slot], _longLengths[slot], _longRanks[slot]) = (start, length, rank);
            }
        }
    }

    public int Count { get; }

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
        if (text.StartsWith("Capacity: "u8))
        {
            text = text[(text.IndexOf((byte)'\n') + 1)..];
        }
        var tokens = new List<(int, int, int)>(200_000);
        var arena = new byte[text.Length]; // decoded base64 is always shorter than its text
        var used = 0;
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
                if (Base64.DecodeFromUtf8(token, arena.AsSpan(used), out _, out var written) != OperationStatus.Done || written == 0)
                {
                    throw new InvalidDataException($"Bad base64 in token vocabulary line {lineIndex + 1}.");
                }
                tokens.Add((used, written, rank));
                used += written;
            }
            lineIndex++;
        }
        return new TiktokenVocabulary(tokens, arena);
    }

    /// <summary>Tokens in one pre-tokenized piece: tiktoken's <c>byte_pair_encode(piece).len()</c>.</summary>
    public int CountPiece(ReadOnlySpan<byte> piece)
    {
        if (piece.Length <= 1 || Rank(piece) != int.MaxValue)
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

    private int Rank(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length <= 8)
        {
            var key = Pack(bytes);
            var mask = _shortKeys.Length - 1;
            for (var slot = ShortSlot(key, bytes.Length); ; slot = (slot + 1) & mask)
            {
                var length = _shortLengths[slot];
                if (length == 0)
                {
                    return int.MaxValue;
                }
                if (length == bytes.Length && _shortKeys[slot] == key)
                {
                    return _shortRanks[slot];
                }
            }
        }
        var longMask = _longLengths.Length - 1;
        for (var slot = LongSlot(bytes); ; slot = (slot + 1) & longMask)
        {
            var length = _longLengths[slot];
            if (length == 0)
            {
                return int.MaxValue;
            }
            if (length == bytes.Length && _longArena.AsSpan(_longStarts[slot], length).SequenceEqual(bytes))
            {
                return _longRanks[slot];
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int ShortSlot(ulong key, int length) => (int)(((key ^ (ulong)length) * 0x9E3779B97F4A7C15UL) >> _shortShift);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int LongSlot(ReadOnlySpan<byte> bytes) => (int)((XxHash3.HashToUInt64(bytes) * 0x9E3779B97F4A7C15UL) >> _longShift);

    /// <summary>Up to 8 bytes, little-endian, zero-padded (the length is compared separately).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Pack(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length == 8)
        {
            return BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        }
        var key = 0UL;
        for (var i = 0; i < bytes.Length; i++)
        {
            key |= (ulong)bytes[i] << (8 * i);
        }
        return key;
    }
}

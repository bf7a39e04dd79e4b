using System.Runtime.CompilerServices;

namespace StrawberryPhi.Core.Tokens;

/// <summary>
/// Word → token count, for one thread. Open addressing over flat arrays with the words' characters in one arena:
/// no per-word allocation and no interface or delegate calls on the hot path, so it is equally fast whether or not
/// the JIT has profile data to devirtualize with (docs/adr/0002). Cleared when full.
/// </summary>
internal sealed class WordCache
{
    private const int MaxEntries = 1 << 18;

    private int[] _hashes;
    private int[] _starts;
    private int[] _lengths;
    private int[] _counts;
    private char[] _arena;
    private int _arenaUsed;
    private int _count;
    private int _mask;

    private int _shift;

    public WordCache(int capacity = 1 << 16)
    {
        _shift = 32 - System.Numerics.BitOperations.Log2((uint)capacity);
        _hashes = new int[capacity];
        _starts = new int[capacity];
        _lengths = new int[capacity];
        _counts = new int[capacity];
        _arena = new char[capacity * 8];
        _mask = capacity - 1;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Hash(ReadOnlySpan<char> word)
    {
        // FNV-1a over UTF-16 units; never 0, which marks an empty slot.
        var hash = 2166136261u;
        foreach (var c in word)
        {
            hash = (hash ^ c) * 16777619u;
        }
        return hash == 0 ? 1 : (int)hash;
    }

    /// <summary>Fibonacci hashing: the top bits of hash × 2^32/φ spread even poor hashes over the table.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Slot(int hash) => (int)(((uint)hash * 2654435769u) >> _shift);

    public bool TryGet(ReadOnlySpan<char> word, int hash, out int count)
    {
        var slot = Slot(hash);
        while (true)
        {
            var stored = _hashes[slot];
            if (stored == 0)
            {
                count = 0;
                return false;
            }
            if (stored == hash && _lengths[slot] == word.Length && _arena.AsSpan(_starts[slot], word.Length).SequenceEqual(word))
            {
                count = _counts[slot];
                return true;
            }
            slot = (slot + 1) & _mask;
        }
    }

    public void Add(ReadOnlySpan<char> word, int hash, int count)
    {
        if (_count * 2 >= _hashes.Length)
        {
            if (_hashes.Length >= MaxEntries)
            {
                Clear();
            }
            else
            {
                Grow();
            }
        }
        if (_arenaUsed + word.Length > _arena.Length)
        {
            Array.Resize(ref _arena, Math.Max(_arena.Length * 2, _arenaUsed + word.Length));
        }
        word.CopyTo(_arena.AsSpan(_arenaUsed));
        Insert(hash, _arenaUsed, word.Length, count);
        _arenaUsed += word.Length;
    }

    private void Insert(int hash, int start, int length, int count)
    {
        var slot = Slot(hash);
        while (_hashes[slot] != 0)
        {
            slot = (slot + 1) & _mask;
        }
        _hashes[slot] = hash;
        _starts[slot] = start;
        _lengths[slot] = length;
        _counts[slot] = count;
        _count++;
    }

    private void Grow()
    {
        var (hashes, starts, lengths, counts) = (_hashes, _starts, _lengths, _counts);
        var capacity = hashes.Length * 2;
        _hashes = new int[capacity];
        _starts = new int[capacity];
        _lengths = new int[capacity];
        _counts = new int[capacity];
        _mask = capacity - 1;
        _shift = 32 - System.Numerics.BitOperations.Log2((uint)capacity);
        _count = 0;
        for (var i = 0; i < hashes.Length; i++)
        {
            if (hashes[i] != 0)
            {
                Insert(hashes[i], starts[i], lengths[i], counts[i]);
            }
        }
    }

    private void Clear()
    {
        Array.Clear(_hashes);
        _count = 0;
        _arenaUsed = 0;
    }
}

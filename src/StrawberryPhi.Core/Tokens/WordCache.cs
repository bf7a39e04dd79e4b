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

    // One 16-byte entry per slot, so a probe touches one cache line (plus the arena when the hash matches).
    private struct Entry
    {
        public int Hash; // 0 marks an empty slot
        public int Start;
        public int Length;
        public int Count;
    }

    private Entry[] _entries;
    private char[] _arena;
    private int _arenaUsed;
    private int _count;
    private int _mask;
    private int _shift;

    public WordCache(int capacity = 1 << 16)
    {
        _entries = new Entry[capacity];
        _arena = new char[capacity * 8];
        _mask = capacity - 1;
        _shift = 32 - System.Numerics.BitOperations.Log2((uint)capacity);
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
        var entries = _entries;
        for (var slot = Slot(hash); ; slot = (slot + 1) & _mask)
        {
            ref readonly var entry = ref entries[slot];
            if (entry.Hash == 0)
            {
                count = 0;
                return false;
            }
            if (entry.Hash == hash && entry.Length == word.Length && _arena.AsSpan(entry.Start, word.Length).SequenceEqual(word))
            {
                count = entry.Count;
                return true;
            }
        }
    }

    public void Add(ReadOnlySpan<char> word, int hash, int count)
    {
        if (_count * 2 >= _entries.Length)
        {
            if (_entries.Length >= MaxEntries)
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
        Insert(new Entry { Hash = hash, Start = _arenaUsed, Length = word.Length, Count = count });
        _arenaUsed += word.Length;
    }

    private void Insert(Entry entry)
    {
        var slot = Slot(entry.Hash);
        while (_entries[slot].Hash != 0)
        {
            slot = (slot + 1) & _mask;
        }
        _entries[slot] = entry;
        _count++;
    }

    private void Grow()
    {
        var old = _entries;
        _entries = new Entry[old.Length * 2];
        _mask = _entries.Length - 1;
        _shift = 32 - System.Numerics.BitOperations.Log2((uint)_entries.Length);
        _count = 0;
        foreach (var entry in old)
        {
            if (entry.Hash != 0)
            {
                Insert(entry);
            }
        }
    }

    private void Clear()
    {
        Array.Clear(_entries);
        _count = 0;
        _arenaUsed = 0;
    }
}

using System.Buffers;

namespace StrawberryPhi.Core.Datasets;

/// <summary>A line of a batch: its 1-based number in the file and where its bytes sit in the batch buffer.</summary>
public readonly record struct LineRef(long Number, int Start, int Length);

/// <summary>
/// A run of whole lines read from a file, sharing one pooled buffer. Line terminators (LF, CRLF) and a leading
/// UTF-8 byte order mark are already stripped. Dispose returns the buffer to the pool.
/// </summary>
public sealed class LineBatch : IDisposable
{
    private byte[]? _buffer;

    internal LineBatch(long sequence, byte[] buffer, List<LineRef> lines, long endOffset)
    {
        Sequence = sequence;
        _buffer = buffer;
        Lines = lines;
        EndOffset = endOffset;
    }

    /// <summary>0-based position of the batch in the file.</summary>
    public long Sequence { get; }

    public IReadOnlyList<LineRef> Lines { get; }

    /// <summary>Byte offset in the file just past the last line of this batch (for progress).</summary>
    public long EndOffset { get; }

    public ReadOnlyMemory<byte> GetLine(LineRef line) =>
        (_buffer ?? throw new ObjectDisposedException(nameof(LineBatch))).AsMemory(line.Start, line.Length);

    public void Dispose()
    {
        var buffer = Interlocked.Exchange(ref _buffer, null);
        if (buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}

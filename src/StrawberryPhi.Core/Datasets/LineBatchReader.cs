using System.Buffers;

namespace StrawberryPhi.Core.Datasets;

/// <summary>
/// Streams a text file as batches of whole lines without ever holding more than one batch (or one line, when a
/// line is longer than a batch) in memory. Handles a UTF-8 BOM, LF and CRLF, a last line without a terminator,
/// and lines of any length the process can hold.
/// </summary>
public sealed class LineBatchReader : IDisposable
{
    public const int DefaultBatchBytes = 1 << 20;
    private static ReadOnlySpan<byte> Utf8Bom => [0xEF, 0xBB, 0xBF];

    private readonly Stream _stream;
    private readonly int _batchBytes;
    private byte[] _carry = [];
    private int _carryLength;
    private long _nextLineNumber = 1;
    private long _offset;
    private long _sequence;
    private bool _eof;
    private bool _atStart = true;

    public LineBatchReader(Stream stream, int batchBytes = DefaultBatchBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchBytes, 16);
        _stream = stream;
        _batchBytes = batchBytes;
    }

    /// <summary>Bytes consumed from the stream so far.</summary>
    public long BytesRead => _offset;

    /// <summary>Whether the file started with a UTF-8 byte order mark (it is stripped from line 1).</summary>
    public bool HadByteOrderMark { get; private set; }

    /// <summary>Reads the next batch, or returns null at the end of the stream.</summary>
    public LineBatch? ReadBatch()
    {
        if (_eof && _carryLength == 0)
        {
            return null;
        }

        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(_batchBytes, _carryLength * 2));
        _carry.AsSpan(0, _carryLength).CopyTo(buffer);
        var filled = _carryLength;
        var searchFrom = _carryLength;
        _carryLength = 0;
        int end; // bytes of buffer that hold whole lines

        while (true)
        {
            while (!_eof && filled < buffer.Length)
            {
                var read = _stream.Read(buffer, filled, buffer.Length - filled);
                if (read == 0)
                {
                    _eof = true;
                    break;
                }
                _offset += read;
                filled += read;
                if (filled >= _batchBytes)
                {
                    break;
                }
            }

            var lastNewline = buffer.AsSpan(searchFrom, filled - searchFrom).LastIndexOf((byte)'\n');
            if (lastNewline >= 0)
            {
                end = searchFrom + lastNewline + 1;
                break;
            }
            if (_eof)
            {
                end = filled;
                break;
            }
            // One line is longer than the buffer: grow it and keep reading.
            searchFrom = filled;
            var larger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
            buffer.AsSpan(0, filled).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(buffer);
            buffer = larger;
        }

        // Keep the partial last line for the next batch.
        var rest = filled - end;
        if (rest > 0)
        {
            if (_carry.Length < rest)
            {
                _carry = new byte[Math.Max(rest, _batchBytes)];
            }
            buffer.AsSpan(end, rest).CopyTo(_carry);
            _carryLength = rest;
        }

        if (end == 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            return null;
        }

        var lines = new List<LineRef>(Math.Max(16, end / 512));
        var start = 0;
        if (_atStart)
        {
            _atStart = false;
            if (buffer.AsSpan(0, end).StartsWith(Utf8Bom))
            {
                HadByteOrderMark = true;
                start = Utf8Bom.Length;
            }
        }
        while (start < end)
        {
            var newline = buffer.AsSpan(start, end - start).IndexOf((byte)'\n');
            var next = newline < 0 ? end : start + newline + 1;
            var length = (newline < 0 ? end : start + newline) - start;
            if (length > 0 && buffer[start + length - 1] == (byte)'\r')
            {
                length--;
            }
            lines.Add(new LineRef(_nextLineNumber++, start, length));
            start = next;
        }

        var batchEnd = _offset - _carryLength;
        return new LineBatch(_sequence++, buffer, lines, batchEnd);
    }

    public void Dispose() => _stream.Dispose();
}

using System.Text;
using StrawberryPhi.Core.Datasets;

namespace StrawberryPhi.Core.Tests.Datasets;

public class LineBatchReaderTests
{
    private static List<(long Number, string Text)> ReadAll(byte[] bytes, int batchBytes)
    {
        using var reader = new LineBatchReader(new MemoryStream(bytes), batchBytes);
        var lines = new List<(long, string)>();
        while (reader.ReadBatch() is { } batch)
        {
            using (batch)
            {
                lines.AddRange(batch.Lines.Select(l => (l.Number, Encoding.UTF8.GetString(batch.GetLine(l).Span))));
            }
        }
        return lines;
    }

    [Theory]
    [InlineData(16)]
    [InlineData(64)]
    [InlineData(1 << 20)]
    public void ReadBatch_BomCrlfBlankAndNoFinalNewline_YieldsNumberedLines(int batchBytes)
    {
        var bytes = Encoding.UTF8.GetPreamble().Concat(Encoding.UTF8.GetBytes("{\"a\":1}\r\n\r\n{\"b\":\"é\"}\n   \n{\"c\":3}")).ToArray();
        var lines = ReadAll(bytes, batchBytes);
        Assert.Equal([(1L, "{\"a\":1}"), (2, ""), (3, "{\"b\":\"é\"}"), (4, "   "), (5, "{\"c\":3}")], lines);
    }

    [Fact]
    public void ReadBatch_LineLongerThanBatch_GrowsAndKeepsItWhole()
    {
        var longLine = new string('x', 100_000);
        var lines = ReadAll(Encoding.UTF8.GetBytes($"a\n{longLine}\nb\n"), batchBytes: 16);
        Assert.Equal(3, lines.Count);
        Assert.Equal(longLine, lines[1].Text);
        Assert.Equal(3, lines[2].Number);
    }

    [Fact]
    public void ReadBatch_EmptyStream_ReturnsNull()
    {
        Assert.Empty(ReadAll([], 16));
    }

    [Fact]
    public void ReadBatch_TrailingNewline_AddsNoEmptyLine()
    {
        Assert.Single(ReadAll("{}\n"u8.ToArray(), 16));
    }
}

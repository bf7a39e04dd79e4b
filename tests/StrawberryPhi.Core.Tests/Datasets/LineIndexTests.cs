using System.Text;
using StrawberryPhi.Core.Datasets;
using StrawberryPhi.Core.Validation;

namespace StrawberryPhi.Core.Tests.Datasets;

public sealed class LineIndexTests
{
    [Theory]
    [InlineData("\n")]
    [InlineData("\r\n")]
    public void Build_LinesOfAFile_MatchTheValidatorsLineNumbers(string newline)
    {
        using var directory = new TempDirectory();
        var lines = new[] { Examples.Chat(1), "", Examples.Chat(2), "{not json", Examples.Chat(3) };
        var path = directory.Write("data.jsonl", string.Join(newline, lines) + newline);

        var index = LineIndex.Build(path);
        var report = DatasetValidator.ValidateFile(path, new ValidationOptions { Threads = 1, MinExamples = 1 });

        Assert.Equal(5, index.Lines);
        using var file = File.OpenRead(path);
        Assert.Equal(lines, index.Read(file, 1, 10));
        var broken = Assert.Single(report.Issues, i => i.Code == IssueCodes.InvalidJson);
        Assert.Equal("{not json", index.ReadLine(file, broken.Line));
        var blank = Assert.Single(report.Issues, i => i.Code == IssueCodes.BlankLine);
        Assert.Equal("", index.ReadLine(file, blank.Line));
    }

    [Fact]
    public void Build_NoFinalNewlineAndAByteOrderMark_ReadsEveryLineWithoutTheMark()
    {
        using var directory = new TempDirectory();
        var path = directory.WriteBytes("bom.jsonl", [.. "\uFEFF"u8, .. Encoding.UTF8.GetBytes("{\"a\":1}\n{\"b\":\"é\"}")]);

        var index = LineIndex.Build(path);

        using var file = File.OpenRead(path);
        Assert.Equal(["{\"a\":1}", "{\"b\":\"é\"}"], index.Read(file, 1, 5));
    }

    [Fact]
    public void Build_EmptyFile_HasNoLines()
    {
        using var directory = new TempDirectory();
        var path = directory.Write("empty.jsonl", "");

        Assert.Equal(0, LineIndex.Build(path).Lines);
    }

    [Fact]
    public void Build_LinesLongerThanTheReadBuffer_AreFoundWhole()
    {
        using var directory = new TempDirectory();
        var longLine = new string('x', 3 * 1024 * 1024);
        var path = directory.Write("long.jsonl", $"a\n{longLine}\nb\n");

        var index = LineIndex.Build(path);

        using var file = File.OpenRead(path);
        Assert.Equal(3, index.Lines);
        Assert.Equal(longLine, index.ReadLine(file, 2));
        Assert.Equal("b", index.ReadLine(file, 3));
    }

    [Fact]
    public void OpenOrBuild_KeepsTheIndex_AndRebuildsItWhenTheFileChanged()
    {
        using var directory = new TempDirectory();
        var path = directory.Write("data.jsonl", "a\nb\n");
        var indexPath = directory.File("data.jsonl.lines");

        Assert.Equal(2, LineIndex.OpenOrBuild(path, indexPath).Lines);
        Assert.True(File.Exists(indexPath));
        Assert.Equal(2, LineIndex.OpenOrBuild(path, indexPath).Lines);

        File.WriteAllText(path, "a\nb\nc\n");
        Assert.Equal(3, LineIndex.OpenOrBuild(path, indexPath).Lines);

        File.WriteAllText(indexPath, "garbage");
        Assert.Equal(3, LineIndex.OpenOrBuild(path, indexPath).Lines);
    }

    [Fact]
    public void Range_OutsideTheFile_Throws()
    {
        using var directory = new TempDirectory();
        var index = LineIndex.Build(directory.Write("data.jsonl", "a\n"));

        Assert.Throws<ArgumentOutOfRangeException>(() => index.Range(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => index.Range(2));
    }
}

public sealed class LineSearchTests
{
    [Fact]
    public void Find_IgnoresCase_AndStopsAtTheLimit()
    {
        using var directory = new TempDirectory();
        var path = directory.Write("data.jsonl", "{\"x\":\"Zebra\"}\n{\"x\":\"horse\"}\n{\"x\":\"ZEBRA crossing\"}\n\n{\"x\":\"zébra\"}\n");

        Assert.Equal([1L, 3], LineSearch.Find(path, "zebra", 10));
        Assert.Equal([1L], LineSearch.Find(path, "zebra", 1));
        Assert.Equal([5L], LineSearch.Find(path, "ZÉBRA", 10));
        Assert.Empty(LineSearch.Find(path, "giraffe", 10));
    }

    [Fact]
    public void Find_SeesTextThatTheFileWritesEscaped()
    {
        using var directory = new TempDirectory();
        var path = directory.Write("data.jsonl", string.Join('\n',
            "{\"x\":\"caf\u00e9 au lait\"}",            // literal UTF-8
            "{\"x\":\"caf\\u00e9 au lait\"}",           // Python's ensure_ascii
            "{\"x\":\"CAF\\u00C9 AU LAIT\"}",           // upper-case hex
            "{\"x\":\"she said \\\"hi\\\"\\nthen left\"}", // quotes and a newline escaped
            "{\"x\":\"she said \\u0022hi\\u0022\"}",  // System.Text.Json's default encoder
            "{\"x\":\"cafe\"}") + "\n");

        Assert.Equal([1L, 2, 3], LineSearch.Find(path, "café au", 10));
        Assert.Equal([4L, 5], LineSearch.Find(path, "said \"hi\"", 10));
        Assert.Equal([4L], LineSearch.Find(path, "\"hi\"\nthen", 10));
    }
}

public sealed class ByteSizeTests
{
    [Theory]
    [InlineData(0, "0 B")]
    [InlineData(1023, "1023 B")]
    [InlineData(1024, "1 KB")]
    [InlineData(4 * 1024 + 512, "4.5 KB")]
    [InlineData(512L * 1024 * 1024, "512 MB")]
    [InlineData(3L * 1024 * 1024 * 1024 / 2, "1.5 GB")]
    [InlineData(2L * 1024 * 1024 * 1024 + 1024 * 1024 * 1024 / 4, "2.25 GB")]
    public void Format_UsesBinaryUnitsWithoutTrailingZeros(long bytes, string expected) =>
        Assert.Equal(expected, ByteSize.Format(bytes, System.Globalization.CultureInfo.InvariantCulture));
}

using System.Text;
using StrawberryPhi.Core.Validation;

namespace StrawberryPhi.Core.Tests.Validation;

/// <summary>The bad inputs of the issue, each with the exact error expected.</summary>
public class BadInputTests
{
    [Fact]
    public void ValidateFile_EmptyFile_EmptyFileErrorOnly()
    {
        using var dir = new TempDirectory();
        var report = DatasetValidator.ValidateFile(dir.Write("empty.jsonl", ""), new ValidationOptions());
        var issue = Assert.Single(report.Issues);
        Assert.Equal(new Issue(0, "$", Severity.Error, IssueCodes.EmptyFile, "The file is empty: there are no examples."), issue);
        Assert.Equal(0, report.Examples);
    }

    [Fact]
    public void ValidateFile_BinaryFile_BinaryFileError()
    {
        using var dir = new TempDirectory();
        var bytes = new byte[4096];
        new Random(7).NextBytes(bytes);
        bytes[0] = 0x89;
        bytes[10] = 0;
        var report = DatasetValidator.ValidateFile(dir.WriteBytes("image.jsonl", bytes), new ValidationOptions());
        var issue = Assert.Single(report.Issues);
        Assert.Equal(IssueCodes.BinaryFile, issue.Code);
        Assert.Equal(Severity.Error, issue.Severity);
        Assert.StartsWith("This is not a text file: it holds a NUL byte at offset ", issue.Message);
    }

    [Fact]
    public void ValidateFile_InvalidUtf8_ReportsLineAndByteThenGoesOn()
    {
        using var dir = new TempDirectory();
        var good = Examples.Filler().Select(Encoding.UTF8.GetBytes).ToList();
        var bad = Encoding.UTF8.GetBytes("{\"messages\":[{\"role\":\"user\",\"content\":\"caf").Concat(new byte[] { 0xC3, 0x28 }).Concat(Encoding.UTF8.GetBytes("\"}]}")).ToArray();
        var lines = good.Take(3).Append(bad).Concat(good.Skip(3));
        var bytes = lines.SelectMany(l => l.Append((byte)'\n')).ToArray();
        var report = DatasetValidator.ValidateFile(dir.WriteBytes("latin.jsonl", bytes), new ValidationOptions());
        var issue = Assert.Single(report.Issues);
        Assert.Equal(new Issue(4, "$", Severity.Error, IssueCodes.InvalidUtf8, "Invalid UTF-8 at byte 43 of the line; the file must be UTF-8 text."), issue);
        Assert.Equal(11, report.Examples);
        Assert.Equal(10, report.Tokens.PerExample.Count);
    }

    [Fact]
    public void ValidateFile_Utf16_UnsupportedEncoding()
    {
        using var dir = new TempDirectory();
        var path = dir.WriteBytes("utf16.jsonl", Encoding.Unicode.GetPreamble().Concat(Encoding.Unicode.GetBytes(Examples.Chat(1))).ToArray());
        var issue = Assert.Single(DatasetValidator.ValidateFile(path, new ValidationOptions()).Issues);
        Assert.Equal(IssueCodes.UnsupportedEncoding, issue.Code);
        Assert.Contains("save it as UTF-8", issue.Message);
    }

    [Fact]
    public void ValidateFile_OneFiftyMegabyteLine_CountedAndOverLimit()
    {
        using var dir = new TempDirectory();
        var content = string.Concat(Enumerable.Repeat("The quick brown fox jumps over the lazy dog. ", 50 * 1024 * 1024 / 45));
        var line = $"{{\"messages\":[{{\"role\":\"user\",\"content\":\"Summarize.\"}},{{\"role\":\"assistant\",\"content\":\"{content}\"}}]}}";
        var path = dir.WriteLines("huge.jsonl", Examples.Filler().Append(line));
        Assert.True(new FileInfo(path).Length > 50_000_000);

        var report = DatasetValidator.ValidateFile(path, new ValidationOptions());
        Assert.Equal(11, report.Examples);
        var issue = Assert.Single(report.Issues, i => i.Code == IssueCodes.ExampleOverTokenLimit);
        Assert.Equal(11, issue.Line);
        Assert.Equal(1, report.Tokens.OverLimit);
        // 10 tokens per sentence repeated; the exact total is checked against tiktoken's on the short fixtures.
        Assert.True(report.Tokens.PerExample.Max > 10_000_000);
    }

    [Fact]
    public void ValidateFile_MissingFile_Throws()
    {
        using var dir = new TempDirectory();
        Assert.Throws<FileNotFoundException>(() => DatasetValidator.ValidateFile(dir.File("nope.jsonl"), new ValidationOptions()));
    }

    [Fact]
    public void ValidateFile_AlpacaJson_WrongFormatWithConvertHint()
    {
        using var dir = new TempDirectory();
        var path = dir.Write("alpaca.json", "[{\"instruction\":\"a\",\"input\":\"\",\"output\":\"b\"}]");
        var issue = Assert.Single(DatasetValidator.ValidateFile(path, new ValidationOptions()).Issues);
        Assert.Equal(IssueCodes.WrongFormat, issue.Code);
        Assert.Contains("Alpaca JSON", issue.Message);
        Assert.Contains("phi convert", issue.Message);
    }

    [Fact]
    public void ValidateFile_Cancelled_ThrowsOperationCanceled()
    {
        using var dir = new TempDirectory();
        var path = dir.WriteLines("many.jsonl", Enumerable.Range(0, 5000).Select(Examples.Chat));
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => DatasetValidator.ValidateFile(path, new ValidationOptions { BatchBytes = 1024 }, cancellationToken: cancelled.Token));
    }
}

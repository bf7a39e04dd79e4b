using System.Text;
using StrawberryPhi.Core.Datasets;

namespace StrawberryPhi.Core.Tests.Datasets;

public class DatasetFormatDetectorTests
{
    [Theory]
    [InlineData("{\"messages\":[]}\n", ".jsonl", DatasetFormat.ChatJsonl)]
    [InlineData("{\"input\":{},\"preferred_output\":[]}\n", ".jsonl", DatasetFormat.PreferenceJsonl)]
    [InlineData("[{\"instruction\":\"a\",\"input\":\"\",\"output\":\"b\"}]", ".json", DatasetFormat.AlpacaJson)]
    [InlineData("{\"instruction\":\"a\",\"output\":\"b\"}\n", ".jsonl", DatasetFormat.AlpacaJsonl)]
    [InlineData("[{\"conversations\":[{\"from\":\"human\",\"value\":\"a\"}]}]", ".json", DatasetFormat.ShareGptJson)]
    [InlineData("{\"conversations\":[]}\n", ".jsonl", DatasetFormat.ShareGptJsonl)]
    [InlineData("[{\"messages\":[]}]", ".json", DatasetFormat.JsonArray)]
    [InlineData("question,answer\nq,a\n", ".csv", DatasetFormat.Csv)]
    [InlineData("question\tanswer\n", ".txt", DatasetFormat.Csv)]
    [InlineData("hello world\n", ".txt", DatasetFormat.Unknown)]
    [InlineData("", ".jsonl", DatasetFormat.Empty)]
    [InlineData("  \n\n", ".jsonl", DatasetFormat.Empty)]
    public void Detect_Sample_RecognizesFormat(string text, string extension, DatasetFormat expected)
    {
        Assert.Equal(expected, DatasetFormatDetector.Detect(Encoding.UTF8.GetBytes(text), extension).Format);
    }

    [Theory]
    [InlineData(new byte[] { (byte)'P', (byte)'A', (byte)'R', (byte)'1', 0, 0 }, DatasetFormat.Parquet)]
    [InlineData(new byte[] { 0x1F, 0x8B, 8, 0 }, DatasetFormat.Binary)]
    [InlineData(new byte[] { 0xFF, 0xFE, (byte)'{', 0 }, DatasetFormat.Utf16)]
    [InlineData(new byte[] { (byte)'{', 0, 0, 0 }, DatasetFormat.Binary)]
    public void Detect_BinaryMagic_RecognizesFormat(byte[] bytes, DatasetFormat expected)
    {
        Assert.Equal(expected, DatasetFormatDetector.Detect(bytes, ".jsonl").Format);
    }
}

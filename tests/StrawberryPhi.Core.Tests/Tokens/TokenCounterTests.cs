using System.Text.Json;
using StrawberryPhi.Core.Tokens;
using StrawberryPhi.Core.Validation;

namespace StrawberryPhi.Core.Tests.Tokens;

public class TokenCounterTests
{
    private static readonly JsonDocument Golden = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "golden-tokens.json")));

    [Theory]
    [InlineData("o200k_base")]
    [InlineData("cl100k_base")]
    public void Count_GoldenStrings_MatchTiktoken(string encodingName)
    {
        var counter = new TokenCounter(TokenEncoding.FromName(encodingName));
        var mismatches = new List<string>();
        foreach (var entry in Golden.RootElement.GetProperty("strings").EnumerateArray())
        {
            var text = entry.GetProperty("text").GetString()!;
            var expected = entry.GetProperty(encodingName).GetInt32();
            var actual = counter.Count(text);
            if (actual != expected)
            {
                mismatches.Add($"{JsonSerializer.Serialize(text)}: tiktoken {expected}, ours {actual}");
            }
        }
        Assert.Empty(mismatches);
    }

    [Theory]
    [InlineData("o200k_base")]
    [InlineData("cl100k_base")]
    public void ValidateFile_GoldenExamples_TotalsMatchTiktokenWithCookbookConvention(string encodingName)
    {
        var path = Path.Combine(AppContext.BaseDirectory, "Fixtures", "golden-examples.jsonl");
        var options = new ValidationOptions { Encoding = TokenEncoding.FromName(encodingName), Threads = 2, BatchBytes = 4096 };
        var report = DatasetValidator.ValidateFile(path, options);

        var golden = Golden.RootElement.GetProperty("examples").EnumerateArray().Select(e => e.GetProperty(encodingName)).ToList();
        Assert.Equal(golden.Count, report.Examples);
        Assert.Equal(golden.Sum(g => (long)g.GetProperty("total").GetInt32()), report.Tokens.Total);
        Assert.Equal(golden.Sum(g => (long)g.GetProperty("assistant").GetInt32()), report.Tokens.Assistant);
        Assert.Equal(golden.Min(g => g.GetProperty("total").GetInt32()), report.Tokens.PerExample.Min);
        Assert.Equal(golden.Max(g => g.GetProperty("total").GetInt32()), report.Tokens.PerExample.Max);
    }

    [Fact]
    public void Count_SpecialTokenText_CountsAsOrdinaryText()
    {
        var counter = new TokenCounter(TokenEncoding.O200kBase);
        Assert.True(counter.Count("<|endoftext|>") > 1);
    }

    [Fact]
    public void CountUtf8_SameTextAsChars_SameCount()
    {
        var counter = new TokenCounter(TokenEncoding.O200kBase);
        const string text = "Naïve café 東京 😀 don't\r\n  x";
        Assert.Equal(counter.Count(text), counter.CountUtf8(System.Text.Encoding.UTF8.GetBytes(text)));
    }

    [Fact]
    public void FromName_Unknown_ThrowsWithKnownNames()
    {
        var e = Assert.Throws<ArgumentException>(() => TokenEncoding.FromName("p50k_base"));
        Assert.Contains("o200k_base", e.Message);
    }
}

using System.Text;
using System.Text.RegularExpressions;
using StrawberryPhi.Core.Tokens;

namespace StrawberryPhi.Core.Tests.Tokens;

/// <summary>The hand-written pre-tokenizer against the regexes it implements, on random text of the BMP.</summary>
public class PreTokenizerTests
{
    // tiktoken's cl100k pattern with possessive quantifiers written as atomic groups (.NET has no possessives).
    private const string Cl100kTiktoken = "'(?i:[sdmt]|ll|ve|re)|(?>[^\\r\\n\\p{L}\\p{N}]?)\\p{L}+|\\p{N}{1,3}| ?(?>[^\\s\\p{L}\\p{N}]+)[\\r\\n]*|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+";

    // Letters of every case class, marks, numbers of every kind, whitespace of every kind, contraction letters.
    private const string Alphabet = "aAzZsStTmMdDrReEvVlL'' \t\r\n\v\f\u0085\u00A0\u2028\u3000.,!?/-_()[]{}\"\\#$%^&*+=<>|~`@:;" +
        "éßÉǅʰ東京ΑαЖж\u0301\u0903\u20DD0129٣½Ⅻ²😀";

    public static TheoryData<string, string> Encodings => new()
    {
        { "o200k_base", TokenEncoding.O200kBase.Pattern },
        { "cl100k_base", Cl100kTiktoken },
    };

    [Theory]
    [MemberData(nameof(Encodings))]
    public void Next_RandomText_SplitsLikeTheRegex(string encodingName, string pattern)
    {
        var regex = new Regex(pattern, RegexOptions.CultureInvariant);
        var encoding = TokenEncoding.FromName(encodingName);
        var random = new Random(12345);
        var alphabet = Alphabet.EnumerateRunes().Select(r => r.ToString()).Where(r => r.Length == 1).ToArray();
        for (var n = 0; n < 20_000; n++)
        {
            var sb = new StringBuilder();
            var length = random.Next(1, 24);
            for (var i = 0; i < length; i++)
            {
                sb.Append(alphabet[random.Next(alphabet.Length)]);
            }
            var text = sb.ToString();
            var expected = regex.Matches(text).Select(m => m.Value).ToList();
            var actual = Pieces(text, encoding);
            Assert.True(expected.SequenceEqual(actual),
                $"{encodingName} on {Escape(text)}: regex [{string.Join("|", expected.Select(Escape))}], ours [{string.Join("|", actual.Select(Escape))}]");
        }
    }

    [Theory]
    [InlineData("o200k_base", "\U00020000abc", new[] { "\U00020000abc" })]
    [InlineData("cl100k_base", "\U00020000abc", new[] { "\U00020000abc" })]
    [InlineData("o200k_base", "it's 東京 HELLOworld x/\n/y", new[] { "it's", " 東京", " HELLOworld", " x", "/\n/", "y" })]
    public void Next_CodePoints_SupplementaryLettersAreLetters(string encodingName, string text, string[] pieces)
    {
        Assert.Equal(pieces, Pieces(text, TokenEncoding.FromName(encodingName)));
    }

    private static List<string> Pieces(string text, TokenEncoding encoding)
    {
        var pieces = new List<string>();
        for (var start = 0; start < text.Length;)
        {
            var end = encoding.NextPiece(text, start);
            Assert.True(end > start, $"no progress at {start} in {Escape(text)}");
            pieces.Add(text[start..end]);
            start = end;
        }
        return pieces;
    }

    private static string Escape(string text) => System.Text.Json.JsonSerializer.Serialize(text);
}

using System.Text;
using System.Text.Json;

namespace StrawberryPhi.Benchmarks;

/// <summary>
/// Deterministic, realistic-looking chat datasets of a chosen size: a Zipf-distributed vocabulary of tens of
/// thousands of words (so the tokenizer's caches see real misses), numbers, code, some non-Latin text, multi-turn
/// conversations, and a share of reflection-format answers.
/// </summary>
internal static class DataGenerator
{
    private static readonly string[] Common =
    [
        "the", "of", "and", "to", "a", "in", "is", "that", "for", "it", "as", "was", "with", "be", "by", "on", "not", "he",
        "this", "are", "or", "his", "from", "at", "which", "but", "have", "an", "had", "they", "you", "were", "their", "one",
        "all", "we", "can", "her", "has", "there", "been", "if", "more", "when", "will", "would", "who", "so", "no", "model",
        "data", "answer", "question", "because", "therefore", "first", "then", "result", "value", "function", "number",
    ];

    private static readonly string[] Syllables =
    [
        "ka", "to", "ri", "an", "el", "mo", "su", "ven", "tra", "lo", "pe", "ix", "or", "qua", "ne", "di", "ber", "ch",
        "ist", "ion", "ment", "able", "pro", "con", "ex", "re", "un", "ful", "ness", "ing", "ed", "ly", "st", "gr",
    ];

    private static readonly string[] Foreign =
    [
        "東京は日本の首都です。", "Привет, как дела?", "مرحبا بالعالم", "naïve café", "Straße", "😀", "Ελληνικά", "한국어 문장입니다",
    ];

    private static readonly string[] Code =
    [
        "def f(x):\n    return x * 2\n", "for (int i = 0; i < n; i++) { sum += i; }", "SELECT name FROM users WHERE id = 42;",
        "const y = items.map(v => v.id).filter(Boolean);", "{\"key\": [1, 2, 3], \"ok\": true}",
    ];

    public static void Generate(string path, long targetBytes, int seed)
    {
        var random = new Random(seed);
        var vocabulary = BuildVocabulary(random, 40_000);
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        using var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        var systemPrompts = new[] { "You are a helpful assistant.", "You are a careful math tutor. Show your reasoning.", "Answer briefly and precisely." };
        long written = 0;
        while (written < targetBytes)
        {
            var start = stream.Position + writer.BytesPending;
            writer.WriteStartObject();
            writer.WriteStartArray("messages");
            if (random.NextDouble() < 0.8)
            {
                Message(writer, "system", systemPrompts[random.Next(systemPrompts.Length)]);
            }
            var turns = 1 + random.Next(3);
            for (var t = 0; t < turns; t++)
            {
                Message(writer, "user", Text(random, vocabulary, 8 + random.Next(60)) + "?");
                var answer = Text(random, vocabulary, 20 + random.Next(220));
                if (random.NextDouble() < 0.3)
                {
                    var a = random.Next(10, 99);
                    var b = random.Next(10, 99);
                    answer = $"<thinking>{Text(random, vocabulary, 30)} {a} + {b} = {a + b + 1}.<reflection>Check: {a} + {b} is {a + b}, not {a + b + 1}.</reflection> So the sum is {a + b}.</thinking>\n<output>{answer}</output>";
                }
                Message(writer, "assistant", answer);
            }
            writer.WriteEndArray();
            writer.WriteEndObject();
            writer.Flush();
            writer.Reset();
            stream.WriteByte((byte)'\n');
            written += stream.Position - start;
        }
    }

    private static void Message(Utf8JsonWriter writer, string role, string content)
    {
        writer.WriteStartObject();
        writer.WriteString("role", role);
        writer.WriteString("content", content);
        writer.WriteEndObject();
    }

    private static string[] BuildVocabulary(Random random, int size)
    {
        var words = new HashSet<string>(Common, StringComparer.Ordinal);
        while (words.Count < size)
        {
            var sb = new StringBuilder();
            var parts = 1 + random.Next(4);
            for (var i = 0; i < parts; i++)
            {
                sb.Append(Syllables[random.Next(Syllables.Length)]);
            }
            words.Add(sb.ToString());
        }
        return [.. words];
    }

    private static string Text(Random random, string[] vocabulary, int words)
    {
        var sb = new StringBuilder();
        for (var i = 0; i < words; i++)
        {
            if (i > 0)
            {
                sb.Append(random.Next(12) == 0 ? ". " : random.Next(10) == 0 ? ", " : " ");
            }
            var roll = random.NextDouble();
            if (roll < 0.01)
            {
                sb.Append(Code[random.Next(Code.Length)]);
            }
            else if (roll < 0.02)
            {
                sb.Append(Foreign[random.Next(Foreign.Length)]);
            }
            else if (roll < 0.06)
            {
                sb.Append(random.Next(100_000));
            }
            else
            {
                // Zipf-like: low indexes (common words first) are far more frequent.
                var index = (int)(vocabulary.Length * Math.Pow(random.NextDouble(), 3));
                var word = vocabulary[index];
                sb.Append(random.Next(20) == 0 ? char.ToUpperInvariant(word[0]) + word[1..] : word);
            }
        }
        return sb.ToString();
    }
}

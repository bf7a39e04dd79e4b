using System.Text;
using System.Text.Json;

namespace StrawberryPhi.Core.Datasets;

public enum DatasetFormat
{
    Unknown,
    Empty,
    Binary,
    Utf16,
    ChatJsonl,
    PreferenceJsonl,
    AlpacaJsonl,
    AlpacaJson,
    ShareGptJsonl,
    ShareGptJson,
    JsonArray,
    Csv,
    Parquet,
}

/// <summary>What a file was recognized as, and why, in words a person can check.</summary>
public sealed record FormatDetection(DatasetFormat Format, string Reason)
{
    public bool IsJsonl => Format is DatasetFormat.ChatJsonl or DatasetFormat.PreferenceJsonl or DatasetFormat.AlpacaJsonl or DatasetFormat.ShareGptJsonl;

    public static string Describe(DatasetFormat format) => format switch
    {
        DatasetFormat.ChatJsonl => "chat JSONL",
        DatasetFormat.PreferenceJsonl => "preference (DPO) JSONL",
        DatasetFormat.AlpacaJsonl => "Alpaca JSONL",
        DatasetFormat.AlpacaJson => "Alpaca JSON",
        DatasetFormat.ShareGptJsonl => "ShareGPT JSONL",
        DatasetFormat.ShareGptJson => "ShareGPT JSON",
        DatasetFormat.JsonArray => "a JSON array",
        DatasetFormat.Csv => "CSV",
        DatasetFormat.Parquet => "Parquet",
        DatasetFormat.Binary => "a binary file",
        DatasetFormat.Utf16 => "UTF-16 text",
        DatasetFormat.Empty => "an empty file",
        _ => "an unrecognized format",
    };
}

/// <summary>Recognizes a dataset's format from its first bytes (at most 64 KB are read).</summary>
public static class DatasetFormatDetector
{
    private const int SampleBytes = 64 * 1024;

    public static FormatDetection Detect(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1);
        var sample = new byte[(int)Math.Min(SampleBytes, Math.Max(0, stream.Length))];
        var read = stream.ReadAtLeast(sample, sample.Length, throwOnEndOfStream: false);
        return Detect(sample.AsSpan(0, read), Path.GetExtension(path));
    }

    public static FormatDetection Detect(ReadOnlySpan<byte> sample, string extension)
    {
        if (sample.IsEmpty)
        {
            return new(DatasetFormat.Empty, "the file is empty");
        }
        if (sample.StartsWith("PAR1"u8))
        {
            return new(DatasetFormat.Parquet, "it starts with Parquet's magic bytes PAR1");
        }
        if (sample.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xFE]) || sample.StartsWith((ReadOnlySpan<byte>)[0xFE, 0xFF]))
        {
            return new(DatasetFormat.Utf16, "it starts with a UTF-16 byte order mark");
        }
        if (sample.StartsWith((ReadOnlySpan<byte>)[0x1F, 0x8B]))
        {
            return new(DatasetFormat.Binary, "it is gzip-compressed (starts with 1F 8B); decompress it first");
        }
        if (sample.StartsWith("PK\u0003\u0004"u8))
        {
            return new(DatasetFormat.Binary, "it is a ZIP archive; extract the dataset first");
        }
        var nul = sample.IndexOf((byte)0);
        if (nul >= 0)
        {
            return new(DatasetFormat.Binary, $"it holds a NUL byte at offset {nul}, which text never does");
        }
        if (sample.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
        {
            sample = sample[3..];
        }
        var text = sample.TrimStart(" \t\r\n"u8);
        if (text.IsEmpty)
        {
            return new(DatasetFormat.Empty, "the file holds only whitespace");
        }

        if (text[0] == (byte)'[')
        {
            var keys = FirstObjectKeys(text, inArray: true);
            return Classify(keys, jsonl: false);
        }
        if (text[0] == (byte)'{')
        {
            var keys = FirstObjectKeys(text, inArray: false);
            return Classify(keys, jsonl: true);
        }
        var newline = text.IndexOf((byte)'\n');
        var firstLine = newline < 0 ? text : text[..newline];
        if (extension.Equals(".csv", StringComparison.OrdinalIgnoreCase) || extension.Equals(".tsv", StringComparison.OrdinalIgnoreCase)
            || firstLine.IndexOfAny((byte)',', (byte)'\t') >= 0)
        {
            return new(DatasetFormat.Csv, $"the first line looks like a CSV header: {Preview(firstLine)}");
        }
        return new(DatasetFormat.Unknown, $"it starts with {Preview(firstLine)}, which is neither JSON, CSV nor Parquet");
    }

    private static FormatDetection Classify(List<string> keys, bool jsonl)
    {
        var list = keys.Count == 0 ? "no keys" : "keys " + string.Join(", ", keys);
        bool Has(string key) => keys.Contains(key, StringComparer.Ordinal);
        if (Has("messages"))
        {
            return jsonl ? new(DatasetFormat.ChatJsonl, $"the first example has {list}")
                : new(DatasetFormat.JsonArray, $"it is one JSON array of chat examples ({list}); fine-tuning needs one example per line");
        }
        if (Has("input") && (Has("preferred_output") || Has("non_preferred_output")))
        {
            return jsonl ? new(DatasetFormat.PreferenceJsonl, $"the first example has {list}")
                : new(DatasetFormat.JsonArray, $"it is one JSON array of preference examples ({list}); fine-tuning needs one example per line");
        }
        if (Has("conversations"))
        {
            return new(jsonl ? DatasetFormat.ShareGptJsonl : DatasetFormat.ShareGptJson, $"the first record has {list}");
        }
        if (Has("instruction") && Has("output"))
        {
            return new(jsonl ? DatasetFormat.AlpacaJsonl : DatasetFormat.AlpacaJson, $"the first record has {list}");
        }
        return jsonl ? new(DatasetFormat.ChatJsonl, $"it is JSON lines, but the first line has {list} (no \"messages\")")
            : new(DatasetFormat.JsonArray, $"it is a JSON array whose first item has {list}");
    }

    /// <summary>Top-level property names of the first object, read as far as the sample goes.</summary>
    private static List<string> FirstObjectKeys(ReadOnlySpan<byte> text, bool inArray)
    {
        var keys = new List<string>();
        var reader = new Utf8JsonReader(text, isFinalBlock: false, new JsonReaderState(new JsonReaderOptions { AllowTrailingCommas = true }));
        var objectDepth = inArray ? 2 : 1;
        try
        {
            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == objectDepth)
                {
                    keys.Add(reader.GetString()!);
                }
                else if (reader.TokenType == JsonTokenType.EndObject && reader.CurrentDepth == objectDepth - 1)
                {
                    break;
                }
            }
        }
        catch (JsonException)
        {
            // Malformed JSON: classify by the keys read so far; the validator reports the exact error.
        }
        return keys;
    }

    private static string Preview(ReadOnlySpan<byte> line)
    {
        var text = Encoding.UTF8.GetString(line[..Math.Min(line.Length, 60)]).TrimEnd('\r');
        return $"\"{text}{(line.Length > 60 ? "…" : "")}\"";
    }
}

using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CsvHelper;
using CsvHelper.Configuration;
using Parquet;
using Parquet.Schema;
using StrawberryPhi.Core.Datasets;

namespace StrawberryPhi.Core.Import;

/// <summary>Streaming readers that turn each supported source format into chat examples, record by record.</summary>
public static class Sources
{
    /// <summary>Reads the records of <paramref name="path"/> in <paramref name="format"/> (already detected or chosen).</summary>
    public static IAsyncEnumerable<SourceRecord> ReadAsync(
        string path, DatasetFormat format, ColumnMapping mapping, Action<string> describe, CancellationToken cancellationToken) => format switch
    {
        DatasetFormat.ChatJsonl or DatasetFormat.PreferenceJsonl => JsonLines(path, (root, line) => SourceRecord.Ok(root), cancellationToken),
        DatasetFormat.AlpacaJsonl => JsonLines(path, Alpaca, cancellationToken),
        DatasetFormat.ShareGptJsonl => JsonLines(path, ShareGpt, cancellationToken),
        DatasetFormat.AlpacaJson => JsonArray(path, Alpaca, cancellationToken),
        DatasetFormat.ShareGptJson => JsonArray(path, ShareGpt, cancellationToken),
        DatasetFormat.Csv => Csv(path, mapping, describe, cancellationToken),
        DatasetFormat.Parquet => Parquet(path, mapping, describe, cancellationToken),
        _ => throw new ImportException($"Cannot import {FormatDetection.Describe(format)}."),
    };

    private static async IAsyncEnumerable<SourceRecord> JsonLines(
        string path, Func<JsonObject, long, SourceRecord> convert, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var reader = new LineBatchReader(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan));
        while (reader.ReadBatch() is { } batch)
        {
            using (batch)
            {
                foreach (var line in batch.Lines)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var bytes = batch.GetLine(line);
                    if (bytes.Span.Trim(" \t"u8).IsEmpty)
                    {
                        continue;
                    }
                    yield return ParseLine(bytes.Span, line.Number, convert);
                }
            }
        }
        await Task.CompletedTask;
    }

    private static SourceRecord ParseLine(ReadOnlySpan<byte> bytes, long line, Func<JsonObject, long, SourceRecord> convert)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(bytes);
        }
        catch (JsonException e)
        {
            return SourceRecord.Bad(line, "$", $"Not valid JSON: {e.Message}");
        }
        return node is JsonObject root ? convert(root, line) : SourceRecord.Bad(line, "$", "The line is not a JSON object.");
    }

    private static async IAsyncEnumerable<SourceRecord> JsonArray(
        string path, Func<JsonObject, long, SourceRecord> convert, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
        var index = 0L;
        await foreach (var item in JsonSerializer.DeserializeAsyncEnumerable<JsonNode>(stream, cancellationToken: cancellationToken))
        {
            // Items of a JSON array have no line of their own: the record's index is in the path ($[i]).
            var record = item is JsonObject root ? convert(root, 0)
                : SourceRecord.Bad(0, $"$[{index}]", "The item is not a JSON object.");
            yield return record.Problem is { } problem ? record with { Problem = problem with { Path = $"$[{index}]{problem.Path.TrimStart('$')}" } } : record;
            index++;
        }
    }

    private static SourceRecord Alpaca(JsonObject root, long line)
    {
        var instruction = Text(root, "instruction");
        var output = Text(root, "output");
        if (string.IsNullOrWhiteSpace(instruction))
        {
            return SourceRecord.Bad(line, "$.instruction", "The record has no \"instruction\" text.");
        }
        if (string.IsNullOrWhiteSpace(output))
        {
            return SourceRecord.Bad(line, "$.output", "The record has no \"output\" text.");
        }
        var input = Text(root, "input");
        var prompt = string.IsNullOrWhiteSpace(input) ? instruction : $"{instruction}\n\n{input}";
        return SourceRecord.Ok(SourceRecord.Chat(Text(root, "system"), prompt, output));
    }

    private static SourceRecord ShareGpt(JsonObject root, long line)
    {
        if (root["conversations"] is not JsonArray turns || turns.Count == 0)
        {
            return SourceRecord.Bad(line, "$.conversations", "The record has no \"conversations\" list.");
        }
        var messages = new JsonArray();
        if (Text(root, "system") is { Length: > 0 } system)
        {
            messages.Add(new JsonObject { ["role"] = "system", ["content"] = system });
        }
        for (var i = 0; i < turns.Count; i++)
        {
            if (turns[i] is not JsonObject turn || Text(turn, "from") is not { } from || Text(turn, "value") is not { } value)
            {
                return SourceRecord.Bad(line, $"$.conversations[{i}]", "A turn needs \"from\" and \"value\" strings.");
            }
            var role = from.ToLowerInvariant() switch
            {
                "system" => "system",
                "human" or "user" => "user",
                "gpt" or "assistant" or "chatgpt" or "bing" or "bard" or "model" => "assistant",
                _ => null,
            };
            if (role is null)
            {
                return SourceRecord.Bad(line, $"$.conversations[{i}].from",
                    $"Unknown speaker \"{from}\"; expected system, human/user or gpt/assistant.");
            }
            messages.Add(new JsonObject { ["role"] = role, ["content"] = value });
        }
        return SourceRecord.Ok(new JsonObject { ["messages"] = messages });
    }

    private static string? Text(JsonObject node, string name) =>
        node[name] is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;

    /// <summary>The column names of a CSV or Parquet source, for a mapping step; other formats have fixed fields (null).</summary>
    /// <exception cref="ImportException">The source cannot be read.</exception>
    public static async Task<IReadOnlyList<string>?> ReadColumnsAsync(string path, DatasetFormat format, CancellationToken cancellationToken)
    {
        switch (format)
        {
            case DatasetFormat.Csv:
            {
                var configuration = new CsvConfiguration(CultureInfo.InvariantCulture)
                {
                    DetectDelimiter = true,
                    DetectDelimiterValues = [",", "\t", ";", "|"],
                };
                using var text = new StreamReader(path, new UTF8Encoding(false, throwOnInvalidBytes: true), detectEncodingFromByteOrderMarks: true);
                using var csv = new CsvReader(text, configuration);
                if (!await csv.ReadAsync() || !csv.ReadHeader() || csv.HeaderRecord is not { Length: > 0 } header)
                {
                    throw new ImportException("The CSV file has no header row.");
                }
                return header;
            }
            case DatasetFormat.Parquet:
            {
                await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous);
                try
                {
                    await using var reader = await ParquetReader.CreateAsync(stream, cancellationToken: cancellationToken);
                    return reader.Schema.GetDataFields().Select(f => f.Name).ToList();
                }
                catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or InvalidOperationException)
                {
                    throw new ImportException($"Not a readable Parquet file: {e.Message}");
                }
            }
            default:
                return null;
        }
    }

    private static async IAsyncEnumerable<SourceRecord> Csv(
        string path, ColumnMapping mapping, Action<string> describe, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var badData = new List<(long Row, string Field)>();
        var configuration = new CsvConfiguration(CultureInfo.InvariantCulture)
        {
            DetectDelimiter = true,
            DetectDelimiterValues = [",", "\t", ";", "|"],
            MissingFieldFound = null,
            BadDataFound = args => badData.Add((args.Context.Parser!.RawRow, args.RawRecord)),
        };
        using var text = new StreamReader(path, new UTF8Encoding(false, throwOnInvalidBytes: true), detectEncodingFromByteOrderMarks: true);
        using var csv = new CsvReader(text, configuration);
        if (!await csv.ReadAsync() || !csv.ReadHeader() || csv.HeaderRecord is not { Length: > 0 } header)
        {
            throw new ImportException("The CSV file has no header row.");
        }
        var columns = mapping.Resolve(header);
        describe($"columns {columns.Describe()}");
        while (await csv.ReadAsync())
        {
            cancellationToken.ThrowIfCancellationRequested();
            var line = csv.Parser.RawRow;
            if (badData.Count > 0)
            {
                var (row, field) = badData[^1];
                badData.Clear();
                yield return SourceRecord.Bad(row, "$", $"Malformed CSV (a quote inside an unquoted field?): {Preview(field)}");
                continue;
            }
            yield return Record(line, i => csv.TryGetField<string>(i, out var value) ? value : null, columns);
        }
    }

    private static async IAsyncEnumerable<SourceRecord> Parquet(
        string path, ColumnMapping mapping, Action<string> describe, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous);
        ParquetReader reader;
        try
        {
            reader = await ParquetReader.CreateAsync(stream, cancellationToken: cancellationToken);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or InvalidOperationException)
        {
            throw new ImportException($"Not a readable Parquet file: {e.Message}");
        }
        await using (reader)
        {
            var fields = reader.Schema.GetDataFields();
            var columns = mapping.Resolve(fields.Select(f => f.Name).ToList());
            foreach (var index in new[] { columns.Prompt, columns.Response, columns.System }.Where(i => i >= 0))
            {
                // Parquet.Net 6 reports UTF-8 string columns as ReadOnlyMemory<char>; both read as strings.
                if ((fields[index].ClrType != typeof(string) && fields[index].ClrType != typeof(ReadOnlyMemory<char>)) || fields[index].IsArray)
                {
                    throw new ImportException($"Column \"{fields[index].Name}\" holds {fields[index].ClrType.Name}{(fields[index].IsArray ? " lists" : "")}, not text.");
                }
            }
            describe($"columns {columns.Describe()}");
            var row = 0L;
            for (var group = 0; group < reader.RowGroupCount; group++)
            {
                using var rowGroup = reader.OpenRowGroupReader(group);
                var count = checked((int)rowGroup.RowCount);
                async Task<string?[]?> ReadColumn(int index)
                {
                    if (index < 0)
                    {
                        return null;
                    }
                    var values = new string?[count];
                    await rowGroup.ReadAsync(fields[index], values.AsMemory(), cancellationToken: cancellationToken);
                    return values;
                }
                var prompts = await ReadColumn(columns.Prompt);
                var responses = await ReadColumn(columns.Response);
                var systems = await ReadColumn(columns.System);
                for (var i = 0; i < count; i++)
                {
                    row++;
                    var at = i;
                    yield return Record(row, c => c == columns.Prompt ? prompts![at] : c == columns.Response ? responses![at] : systems?[at], columns);
                }
            }
        }
    }

    /// <param name="line">CSV: the line the record starts on; Parquet: the 1-based row.</param>
    private static SourceRecord Record(long line, Func<int, string?> field, ResolvedColumns columns)
    {
        var prompt = field(columns.Prompt);
        var response = field(columns.Response);
        if (string.IsNullOrWhiteSpace(prompt))
        {
            return SourceRecord.Bad(line, columns.Columns[columns.Prompt], $"The prompt (column \"{columns.Columns[columns.Prompt]}\") is empty.");
        }
        if (string.IsNullOrWhiteSpace(response))
        {
            return SourceRecord.Bad(line, columns.Columns[columns.Response], $"The response (column \"{columns.Columns[columns.Response]}\") is empty.");
        }
        return SourceRecord.Ok(SourceRecord.Chat(columns.System >= 0 ? field(columns.System) : null, prompt, response));
    }

    private static string Preview(string text) => text.Length <= 60 ? text.Trim() : string.Concat(text.AsSpan(0, 60), "…");
}

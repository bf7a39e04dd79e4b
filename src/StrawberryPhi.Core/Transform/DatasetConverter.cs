using System.Text.Json;
using StrawberryPhi.Core.Datasets;
using StrawberryPhi.Core.Import;
using StrawberryPhi.Core.Validation;

namespace StrawberryPhi.Core.Transform;

/// <param name="Reflection">What the reflection conversion did, when one was asked for.</param>
public sealed record ConversionResult(DatasetFormat From, string Source, long Written, long Changed, long Skipped, IReadOnlyList<Issue> Issues, ReflectionTally? Reflection = null);

/// <summary>Streams any supported source into chat JSONL, optionally converting to reflection form on the way.</summary>
public static class DatasetConverter
{
    /// <param name="format">The source format, or <see cref="DatasetFormat.Unknown"/> to detect it.</param>
    /// <exception cref="ImportException">The source cannot be read at all.</exception>
    public static async Task<ConversionResult> ConvertAsync(
        string input, string output, DatasetFormat format, ColumnMapping mapping, ReflectionConversion? reflection,
        int maxIssues = 100, CancellationToken cancellationToken = default)
    {
        if (format == DatasetFormat.Unknown)
        {
            var detection = DatasetFormatDetector.Detect(input);
            format = detection.Format;
            if (format is DatasetFormat.Unknown or DatasetFormat.Binary or DatasetFormat.Utf16 or DatasetFormat.Empty or DatasetFormat.JsonArray)
            {
                throw new ImportException($"Cannot tell how to import this file: it is {FormatDetection.Describe(format)} ({detection.Reason}). Name the format with --from.");
            }
        }

        var source = FormatDetection.Describe(format);
        var issues = new List<Issue>();
        long written = 0, changed = 0, skipped = 0;
        var tally = reflection is null ? null : new ReflectionTally();
        using var file = new AtomicFile(output);
        await using (var writer = new Utf8JsonWriter(file.Stream, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = true }))
        {
            await foreach (var record in Sources.ReadAsync(input, format, mapping, columns => source = $"{source} ({columns})", cancellationToken))
            {
                if (record.Problem is { } problem)
                {
                    skipped++;
                    if (issues.Count < maxIssues)
                    {
                        issues.Add(problem);
                    }
                    continue;
                }
                var example = record.Example!;
                if (reflection is not null && ReflectionConverter.Apply(example, reflection, tally))
                {
                    changed++;
                }
                example.WriteTo(writer);
                writer.Flush(); // into the FileStream's buffer, which writes to disk in 64 KB blocks
                file.Stream.WriteByte((byte)'\n');
                writer.Reset();
                written++;
            }
        }
        file.Commit();
        return new ConversionResult(format, source, written, changed, skipped, issues, tally);
    }
}

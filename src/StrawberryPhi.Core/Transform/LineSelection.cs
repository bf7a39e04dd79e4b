using System.Collections;
using System.IO.Hashing;
using System.Text.Json;
using StrawberryPhi.Core.Datasets;
using StrawberryPhi.Core.Validation;

namespace StrawberryPhi.Core.Transform;

public sealed record SplitResult(long Train, long Validation);

public sealed record DedupeResult(long Kept, long Removed, IReadOnlyList<(long Line, long DuplicateOf)> Examples);

/// <summary>What <see cref="LineSelection.Clean"/> kept and dropped: every dropped line counted by its first error's code, the first ones listed.</summary>
public sealed record CleanResult(long Kept, long Dropped, IReadOnlyDictionary<string, long> DroppedByCode, IReadOnlyList<Issue> FirstDropped);

/// <summary>
/// Split, sample and de-duplicate a JSONL dataset by whole lines, byte for byte, in two streaming passes at most:
/// memory is a bit per example (or a hash per distinct example for de-duplication), never the file.
/// Blank lines are dropped; every other line is kept exactly as it was.
/// </summary>
public static class LineSelection
{
    public static long CountExamples(string path, CancellationToken cancellationToken = default)
    {
        var count = 0L;
        ForEachExample(path, (_, _) => count++, cancellationToken);
        return count;
    }

    /// <summary>Puts a seeded random <paramref name="validationFraction"/> of the examples in the validation file.</summary>
    public static SplitResult Split(string input, string trainOutput, string validationOutput, double validationFraction, int seed,
        CancellationToken cancellationToken = default)
    {
        if (validationFraction is <= 0 or >= 1)
        {
            throw new ArgumentOutOfRangeException(nameof(validationFraction), validationFraction, "The validation share must be between 0 and 1 (exclusive).");
        }
        var total = CountExamples(input, cancellationToken);
        var validationCount = total < 2 ? 0 : Math.Clamp((long)Math.Round(total * validationFraction), 1, total - 1);
        var chosen = Choose(total, validationCount, seed);
        long train = 0, validation = 0;
        using var trainFile = new AtomicFile(trainOutput);
        using var validationFile = new AtomicFile(validationOutput);
        ForEachExample(input, (index, line) =>
        {
            var toValidation = chosen[(int)index];
            var target = toValidation ? validationFile.Stream : trainFile.Stream;
            target.Write(line);
            target.WriteByte((byte)'\n');
            if (toValidation)
            {
                validation++;
            }
            else
            {
                train++;
            }
        }, cancellationToken);
        trainFile.Commit();
        validationFile.Commit();
        return new SplitResult(train, validation);
    }

    /// <summary>Keeps a seeded random <paramref name="count"/> of the examples, in their original order.</summary>
    public static long Sample(string input, string output, long count, int seed, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var total = CountExamples(input, cancellationToken);
        var chosen = Choose(total, Math.Min(count, total), seed);
        var written = 0L;
        using var file = new AtomicFile(output);
        ForEachExample(input, (index, line) =>
        {
            if (chosen[(int)index])
            {
                file.Stream.Write(line);
                file.Stream.WriteByte((byte)'\n');
                written++;
            }
        }, cancellationToken);
        file.Commit();
        return written;
    }

    /// <summary>Drops every example that says the same as an earlier one (whitespace aside); keeps the first.</summary>
    public static DedupeResult Dedupe(string input, string output, int maxExamples = 100, CancellationToken cancellationToken = default)
    {
        var firstLine = new Dictionary<ulong, long>();
        var examples = new List<(long, long)>();
        var hasher = new XxHash3();
        long kept = 0, removed = 0;
        using var file = new AtomicFile(output);
        ForEachExample(input, (_, line, number) =>
        {
            var hash = HashLine(line, hasher);
            if (firstLine.TryGetValue(hash, out var first))
            {
                removed++;
                if (examples.Count < maxExamples)
                {
                    examples.Add((number, first));
                }
                return;
            }
            firstLine.Add(hash, number);
            file.Stream.Write(line);
            file.Stream.WriteByte((byte)'\n');
            kept++;
        }, cancellationToken);
        file.Commit();
        return new DedupeResult(kept, removed, examples);
    }

    /// <summary>
    /// Keeps the examples the provider would accept: every line with an error of its own (a format error, not an
    /// opt-in reflection check and not a problem of the file as a whole) is dropped, and said by its first error.
    /// The same validator as <c>phi validate</c> decides, with <paramref name="options"/>' token limit.
    /// </summary>
    public static CleanResult Clean(string input, string output, ValidationOptions options, int maxListed = 100, CancellationToken cancellationToken = default)
    {
        var firstError = new Dictionary<long, Issue>();
        DatasetValidator.ValidateFile(input, options with { Reflection = false }, onIssue: issue =>
        {
            if (issue is { Severity: Severity.Error, Line: > 0 } && !ValidationReport.IsReflectionCode(issue.Code))
            {
                firstError.TryAdd(issue.Line, issue);
            }
        }, cancellationToken: cancellationToken);
        var byCode = new SortedDictionary<string, long>(StringComparer.Ordinal);
        var listed = new List<Issue>();
        long kept = 0, dropped = 0;
        using var file = new AtomicFile(output);
        ForEachExample(input, (_, line, number) =>
        {
            if (firstError.TryGetValue(number, out var error))
            {
                dropped++;
                byCode[error.Code] = byCode.GetValueOrDefault(error.Code) + 1;
                if (listed.Count < maxListed)
                {
                    listed.Add(error);
                }
                return;
            }
            file.Stream.Write(line);
            file.Stream.WriteByte((byte)'\n');
            kept++;
        }, cancellationToken);
        file.Commit();
        return new CleanResult(kept, dropped, byCode, listed);
    }

    private static ulong HashLine(ReadOnlySpan<byte> line, XxHash3 hasher)
    {
        try
        {
            var reader = new Utf8JsonReader(line);
            using var document = JsonDocument.ParseValue(ref reader);
            return ExampleHasher.Hash(document.RootElement, hasher);
        }
        catch (JsonException)
        {
            // Not JSON: only byte-identical lines are the same.
            return XxHash3.HashToUInt64(line);
        }
    }

    /// <summary>Floyd's algorithm: exactly <paramref name="count"/> distinct indexes of <paramref name="total"/>, seeded.</summary>
    private static BitArray Choose(long total, long count, int seed)
    {
        if (total > int.MaxValue)
        {
            throw new NotSupportedException("More than 2^31 examples.");
        }
        var chosen = new BitArray((int)total);
        var random = new Random(seed);
        for (var j = total - count; j < total; j++)
        {
            var t = random.NextInt64(j + 1);
            chosen[(int)(chosen[(int)t] ? j : t)] = true;
        }
        return chosen;
    }

    private delegate void ExampleAction(long index, ReadOnlySpan<byte> line);

    private delegate void NumberedExampleAction(long index, ReadOnlySpan<byte> line, long lineNumber);

    private static void ForEachExample(string path, ExampleAction action, CancellationToken cancellationToken) =>
        ForEachExample(path, (index, line, _) => action(index, line), cancellationToken);

    private static void ForEachExample(string path, NumberedExampleAction action, CancellationToken cancellationToken)
    {
        using var reader = new LineBatchReader(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan));
        var index = 0L;
        while (reader.ReadBatch() is { } batch)
        {
            using (batch)
            {
                cancellationToken.ThrowIfCancellationRequested();
                foreach (var line in batch.Lines)
                {
                    var bytes = batch.GetLine(line).Span;
                    if (bytes.Trim(" \t"u8).IsEmpty)
                    {
                        continue;
                    }
                    action(index++, bytes, line.Number);
                }
            }
        }
    }
}

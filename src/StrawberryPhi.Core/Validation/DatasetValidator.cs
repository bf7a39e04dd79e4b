using System.Collections.Concurrent;
using StrawberryPhi.Core.Catalog;
using StrawberryPhi.Core.Datasets;
using StrawberryPhi.Core.Tokens;

namespace StrawberryPhi.Core.Validation;

/// <summary>What to estimate training for: a catalog model and the day the estimate is made (for shutdown notices).</summary>
public sealed record EstimateTarget(ModelCatalog Catalog, CatalogModel Model, DateOnly Today);

/// <summary>
/// Validates a JSONL dataset file in one streaming pass: a reader thread cuts the file into batches of lines,
/// worker threads parse, check and tokenize them (each with its own tokenizer state), and the results are folded
/// in file order, so issues and duplicate detection are deterministic whatever the thread count.
/// </summary>
public static class DatasetValidator
{
    public static ValidationOptions OptionsFor(CatalogModel model, ValidationOptions? options = null) =>
        (options ?? new ValidationOptions()) with
        {
            Encoding = TokenEncoding.FromName(model.Encoding),
            TokenLimit = model.TrainingTokenLimit,
        };

    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    /// <exception cref="UnauthorizedAccessException">The file cannot be read.</exception>
    /// <param name="onIssue">Sees every issue in file order, also those beyond the report's cap per code.</param>
    public static ValidationReport ValidateFile(
        string path, ValidationOptions options, EstimateTarget? estimate = null, IProgress<long>? progress = null,
        Action<Issue>? onIssue = null, CancellationToken cancellationToken = default)
    {
        var started = TimeProvider.System.GetTimestamp();
        var detection = DatasetFormatDetector.Detect(path);
        var length = new FileInfo(path).Length;
        var builder = new ReportBuilder(options, onIssue);

        if (FatalFormatIssue(detection) is { } fatal)
        {
            builder.AddFileIssue(fatal);
            return builder.Build(path, length, DatasetKind.Chat, estimate, TimeProvider.System.GetElapsedTime(started));
        }

        var kind = detection.Format == DatasetFormat.PreferenceJsonl ? DatasetKind.Preference : DatasetKind.Chat;
        using var reader = new LineBatchReader(
            new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan), options.BatchBytes);
        Run(reader, kind, options, builder, progress, cancellationToken);
        return builder.Build(path, length, kind, estimate, TimeProvider.System.GetElapsedTime(started));
    }

    private static Issue? FatalFormatIssue(FormatDetection detection)
    {
        var what = FormatDetection.Describe(detection.Format);
        return detection.Format switch
        {
            DatasetFormat.Empty => new Issue(0, "$", Severity.Error, IssueCodes.EmptyFile, "The file is empty: there are no examples."),
            DatasetFormat.Parquet => new Issue(0, "$", Severity.Error, IssueCodes.WrongFormat,
                $"This is a Parquet file, not JSONL ({detection.Reason}). Convert it first: phi convert FILE --from parquet -o out.jsonl"),
            DatasetFormat.Binary => new Issue(0, "$", Severity.Error, IssueCodes.BinaryFile, $"This is not a text file: {detection.Reason}."),
            DatasetFormat.Utf16 => new Issue(0, "$", Severity.Error, IssueCodes.UnsupportedEncoding,
                $"The file is UTF-16 ({detection.Reason}); save it as UTF-8."),
            DatasetFormat.AlpacaJson or DatasetFormat.AlpacaJsonl or DatasetFormat.ShareGptJson or DatasetFormat.ShareGptJsonl or DatasetFormat.Csv
                => new Issue(0, "$", Severity.Error, IssueCodes.WrongFormat,
                    $"This looks like {what} ({detection.Reason}), not chat JSONL. Convert it first: phi convert FILE -o out.jsonl"),
            DatasetFormat.JsonArray => new Issue(0, "$", Severity.Error, IssueCodes.WrongFormat,
                $"This is {what}: {detection.Reason}. Convert it first: phi convert FILE -o out.jsonl"),
            DatasetFormat.Unknown => new Issue(1, "$", Severity.Error, IssueCodes.InvalidJson,
                $"This is not JSON lines: {detection.Reason}."),
            _ => null,
        };
    }

    private sealed record BatchResult(long Sequence, ExampleFacts[] Facts, List<Issue> Issues, long EndOffset);

    private static void Run(
        LineBatchReader reader, DatasetKind kind, ValidationOptions options, ReportBuilder builder, IProgress<long>? progress,
        CancellationToken cancellationToken)
    {
        var threads = Math.Max(1, options.Threads);
        using var failure = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var queue = new BlockingCollection<LineBatch>(threads * 2);
        using var results = new BlockingCollection<BatchResult>();
        var running = threads;
        Exception? workerError = null;

        var workers = new Thread[threads];
        for (var i = 0; i < threads; i++)
        {
            workers[i] = new Thread(() =>
            {
                try
                {
                    var inspector = new ExampleInspector(options);
                    foreach (var batch in queue.GetConsumingEnumerable(failure.Token))
                    {
                        using (batch)
                        {
                            var issues = new List<Issue>();
                            var facts = new ExampleFacts[batch.Lines.Count];
                            for (var j = 0; j < facts.Length; j++)
                            {
                                var line = batch.Lines[j];
                                facts[j] = inspector.Inspect(batch.GetLine(line), line.Number, kind, issues);
                            }
                            results.Add(new BatchResult(batch.Sequence, facts, issues, batch.EndOffset), failure.Token);
                        }
                    }
                }
                catch (OperationCanceledException) when (failure.IsCancellationRequested)
                {
                    // Another worker failed or the caller cancelled; the reader reports it.
                }
                catch (Exception e)
                {
                    Interlocked.CompareExchange(ref workerError, e, null);
                    failure.Cancel();
                }
                finally
                {
                    if (Interlocked.Decrement(ref running) == 0)
                    {
                        results.CompleteAdding();
                    }
                }
            })
            { IsBackground = true, Name = $"phi-validate-{i}" };
            workers[i].Start();
        }

        var pending = new Dictionary<long, BatchResult>();
        var next = 0L;
        void Merge(BatchResult result)
        {
            pending.Add(result.Sequence, result);
            while (pending.Remove(next, out var ready))
            {
                builder.Add(ready.Facts, ready.Issues);
                progress?.Report(ready.EndOffset);
                next++;
            }
        }

        try
        {
            while (reader.ReadBatch() is { } batch)
            {
                try
                {
                    queue.Add(batch, failure.Token);
                }
                catch
                {
                    batch.Dispose();
                    throw;
                }
                while (results.TryTake(out var result))
                {
                    Merge(result);
                }
            }
            queue.CompleteAdding();
            foreach (var result in results.GetConsumingEnumerable(failure.Token))
            {
                Merge(result);
            }
        }
        catch (OperationCanceledException) when (workerError is not null)
        {
            // Reported below with the worker's own exception.
        }
        finally
        {
            queue.CompleteAdding();
            failure.Cancel();
            foreach (var worker in workers)
            {
                worker.Join();
            }
            while (queue.TryTake(out var leftover))
            {
                leftover.Dispose();
            }
        }
        if (workerError is not null)
        {
            throw new InvalidOperationException($"Validation failed: {workerError.Message}", workerError);
        }
        cancellationToken.ThrowIfCancellationRequested();
    }
}

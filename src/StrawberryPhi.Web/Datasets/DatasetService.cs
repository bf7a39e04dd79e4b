using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using StrawberryPhi.Core;
using StrawberryPhi.Core.Catalog;
using StrawberryPhi.Core.Datasets;
using StrawberryPhi.Core.Import;
using StrawberryPhi.Core.Reflection;
using StrawberryPhi.Core.Text;
using StrawberryPhi.Core.Transform;
using StrawberryPhi.Core.Validation;
using StrawberryPhi.Web.Data;

namespace StrawberryPhi.Web.Datasets;

/// <param name="Errors">The errors the provider would reject the file for (the opt-in reflection checks' are in the report).</param>
/// <param name="ImportedAs">For a CSV, Alpaca, ShareGPT or Parquet source: the chat JSONL dataset its latest import made.</param>
public sealed record DatasetSummary(
    Guid Id, string Name, string FileName, string Format, DatasetStatus Status, string? StatusMessage, long Bytes, long Examples,
    long Errors, long Warnings, long Tokens, string Origin, Guid? ParentId, DateTime CreatedAt, Guid? ImportedAs = null);

/// <summary>Another dataset, named and linked.</summary>
public sealed record DatasetLink(Guid Id, string Name);

/// <param name="SameContent">Other datasets with exactly the same bytes (an upload of content the studio already had).</param>
public sealed record DatasetDetail(
    DatasetSummary Summary, string? ParentName, string? OriginDetail, string Sha256, string ValidationModel, bool ReflectionChecks,
    DateTime? ValidatedAt, long ValidationMs, ValidationReport? Report, IReadOnlyList<string>? Columns, string? ColumnsError, IReadOnlyList<DatasetSummary> Children,
    IReadOnlyList<DatasetLink> SameContent);

public sealed record IssuePage(long Total, IReadOnlyList<Issue> Items);

public sealed record ExamplePage(long Total, int Page, int PageSize, bool SearchCapped, IReadOnlyList<ExampleView> Items);

public sealed record ConvertRequest(string? SystemPrompt, SystemPromptMode Mode = SystemPromptMode.Prepend, bool WrapOutput = false);

public sealed record SplitRequest(double ValidationShare = 0.1, int Seed = 42);

public sealed record ImportRequest(string? PromptColumn, string? ResponseColumn, string? SystemColumn);

public sealed record ValidateRequest(string? Model, bool? Reflection);

/// <param name="Reads">The columns the import reads, such as "columns prompt=question, response=answer" (guesses included).</param>
/// <param name="Error">Why nothing can be imported with this mapping (a missing column, a prompt that cannot be guessed).</param>
public sealed record ImportPreview(string? Reads, IReadOnlyList<ExampleView> Examples, IReadOnlyList<Issue> Problems, string? Error);

/// <summary>Datasets: intake, validation reports, preview, and derived datasets (the original is never modified).</summary>
public sealed class DatasetService(
    IDbContextFactory<StudioDbContext> db, DatasetFiles files, DatasetValidationQueue queue, IOptions<StudioOptions> options,
    TimeProvider time, StudioNotifier events, ILogger<DatasetService> logger)
{
    public const int MaxSearchMatches = 100_000;
    private static readonly string[] JsonlFormats = [nameof(DatasetFormat.ChatJsonl), nameof(DatasetFormat.PreferenceJsonl)];
    /// <summary>The latest searches' matching lines, so that paging through results does not scan again.</summary>
    private readonly RecentCache<IReadOnlyList<long>> _searches = new(8);

    public long MaxUploadBytes => options.Value.MaxUploadBytes;

    public async Task<IReadOnlyList<DatasetSummary>> ListAsync(CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        var rows = await context.Datasets.AsNoTracking().OrderByDescending(d => d.CreatedAt).ToListAsync(cancellationToken);
        // Rows are newest first: the first import of a source in this order is its latest.
        var imports = new Dictionary<Guid, Guid>();
        foreach (var row in rows.Where(r => r is { Origin: "import", ParentId: not null }))
        {
            imports.TryAdd(row.ParentId!.Value, row.Id);
        }
        return rows.Select(r => Summary(r) with { ImportedAs = imports.TryGetValue(r.Id, out var imported) ? imported : null }).ToList();
    }

    public async Task<DatasetDetail> GetAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        var row = await Find(context, id, cancellationToken);
        var parent = row.ParentId is { } parentId ? await context.Datasets.AsNoTracking().Where(d => d.Id == parentId).Select(d => d.Name).FirstOrDefaultAsync(cancellationToken) : null;
        var children = await context.Datasets.AsNoTracking().Where(d => d.ParentId == id).OrderBy(d => d.CreatedAt).ToListAsync(cancellationToken);
        var sameContent = await context.Datasets.AsNoTracking().Where(d => d.Sha256 == row.Sha256 && d.Id != id).OrderBy(d => d.CreatedAt)
            .Select(d => new DatasetLink(d.Id, d.Name)).ToListAsync(cancellationToken);
        IReadOnlyList<string>? columns = null;
        string? columnsError = null;
        if (row.Status == DatasetStatus.NeedsImport)
        {
            try
            {
                columns = await Sources.ReadColumnsAsync(files.ExistingPathOf(row.StoredFile), Enum.Parse<DatasetFormat>(row.Format), cancellationToken);
            }
            catch (Exception e) when (e is ImportException or StudioException)
            {
                columnsError = e.Message;
            }
        }
        var summary = Summary(row) with { ImportedAs = children.LastOrDefault(c => c.Origin == "import")?.Id };
        return new DatasetDetail(summary, parent, row.OriginDetail, row.Sha256, row.ValidationModel, row.ReflectionChecks, row.ValidatedAt, row.ValidationMs,
            ReadReport(row), columns, columnsError, children.Select(Summary).ToList(), sameContent);
    }

    /// <summary>Keeps an uploaded file: chat or preference JSONL is validated; CSV, Alpaca, ShareGPT and Parquet wait for their import step.</summary>
    public async Task<DatasetSummary> CreateFromUploadAsync(Stream content, string fileName, CancellationToken cancellationToken)
    {
        fileName = CleanFileName(fileName);
        var extension = Path.GetExtension(fileName).ToLowerInvariant();
        var staged = await files.StageAsync(content, extension, options.Value.MaxUploadBytes, cancellationToken);
        try
        {
            var detection = DatasetFormatDetector.Detect(staged.Path);
            var message = detection.Format switch
            {
                DatasetFormat.Csv or DatasetFormat.Parquet or DatasetFormat.AlpacaJson or DatasetFormat.AlpacaJsonl
                    or DatasetFormat.ShareGptJson or DatasetFormat.ShareGptJsonl =>
                    $"{FormatDetection.Describe(detection.Format)}: import it into chat JSONL to validate and use it.",
                // Chat and preference JSONL are validated; anything else is too, so the report names the problem at its line (or the file's).
                _ => null,
            };
            var row = await KeepAsync(staged, extension is ".jsonl" or ".csv" or ".parquet" or ".json" or ".tsv" ? extension : ".dat", stored =>
            {
                var row = NewRow(Path.GetFileNameWithoutExtension(fileName), fileName, stored, staged, detection.Format.ToString(), "upload", null, null);
                if (message is not null)
                {
                    row.MarkNeedsImport(message);
                }
                return row;
            }, cancellationToken);
            logger.LogInformation("Stored dataset {DatasetId} ({Bytes} bytes, {Format})", row.Id, row.Bytes, row.Format);
            return Summary(row);
        }
        catch
        {
            File.Delete(staged.Path);
            throw;
        }
    }

    public async Task<DatasetSummary> RenameAsync(Guid id, string name, CancellationToken cancellationToken)
    {
        name = name.Trim();
        if (name.Length is 0 or > 200)
        {
            throw StudioException.Invalid("name", "A dataset name has 1 to 200 characters.");
        }
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        var row = await Find(context, id, cancellationToken);
        row.Name = name;
        await context.SaveChangesAsync(cancellationToken);
        events.DatasetChanged(id);
        return Summary(row);
    }

    /// <summary>Validates again, for another target model or with the reflection checks switched.</summary>
    public async Task<DatasetSummary> RevalidateAsync(Guid id, ValidateRequest request, CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        var row = await Find(context, id, cancellationToken);
        if (row.Status == DatasetStatus.NeedsImport)
        {
            throw new StudioException(StudioError.Conflict, "Import this file into chat JSONL first; the import is what gets validated.");
        }
        if (request.Model is { } model)
        {
            row.ValidationModel = (ModelCatalog.Default.Find(model) ?? throw StudioException.Invalid("model", $"\"{model}\" is not in the model catalog.")).Id;
        }
        row.ReflectionChecks = request.Reflection ?? row.ReflectionChecks;
        row.MarkValidating();
        await context.SaveChangesAsync(cancellationToken);
        queue.Enqueue(row.Id);
        events.DatasetChanged(id);
        return Summary(row);
    }

    public async Task DeleteAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        var row = await Find(context, id, cancellationToken);
        context.Datasets.Remove(row);
        // The content may be shared by another dataset with the same bytes.
        await files.ForgetAsync(row.StoredFile, async () =>
        {
            await context.SaveChangesAsync(cancellationToken);
            return await context.Datasets.AnyAsync(d => d.StoredFile == row.StoredFile, CancellationToken.None);
        }, cancellationToken);
        logger.LogInformation("Removed dataset {DatasetId}", id);
        events.DatasetChanged(id);
    }

    public async Task<IssuePage> IssuesAsync(Guid id, Severity? severity, string? code, string? text, int skip, int take, CancellationToken cancellationToken)
    {
        var report = ReadReport(await RowAsync(id, cancellationToken));
        if (report is null)
        {
            return new IssuePage(0, []);
        }
        IEnumerable<Issue> issues = report.Issues;
        if (severity is { } s)
        {
            issues = issues.Where(i => i.Severity == s);
        }
        if (!string.IsNullOrEmpty(code))
        {
            issues = issues.Where(i => i.Code == code);
        }
        if (!string.IsNullOrWhiteSpace(text))
        {
            issues = issues.Where(i => i.Message.Contains(text, StringComparison.OrdinalIgnoreCase) || i.Path.Contains(text, StringComparison.OrdinalIgnoreCase));
        }
        var list = issues.ToList();
        return new IssuePage(list.Count, list.Skip(Math.Max(0, skip)).Take(Math.Clamp(take, 1, 1000)).ToList());
    }

    /// <summary>A page of examples by line (random access through the line index) or of the lines matching a search.</summary>
    public async Task<ExamplePage> ExamplesAsync(Guid id, int page, int pageSize, string? search, CancellationToken cancellationToken)
    {
        pageSize = Math.Clamp(pageSize, 1, 100);
        page = Math.Max(0, page);
        var row = await RowAsync(id, cancellationToken);
        var tags = ReflectionTags.Default;
        return await ReadLinesAsync(row, (index, file, path) =>
        {
            if (string.IsNullOrWhiteSpace(search))
            {
                var first = ((long)page * pageSize) + 1;
                var lines = index.Read(file, first, pageSize);
                return new ExamplePage(index.Lines, page, pageSize, false, lines.Select((text, i) => ExampleView.Parse(first + i, text, tags)).ToList());
            }
            var text = search.Trim();
            var matches = _searches.Get(row.StoredFile + "\n" + text.ToUpperInvariant(), () => LineSearch.Find(path, text, MaxSearchMatches, cancellationToken));
            var items = matches.Skip(page * pageSize).Take(pageSize).Select(line => ExampleView.Parse(line, index.ReadLine(file, line), tags)).ToList();
            return new ExamplePage(matches.Count, page, pageSize, matches.Count >= MaxSearchMatches, items);
        }, cancellationToken);
    }

    public async Task<ExampleView> ExampleAsync(Guid id, long line, CancellationToken cancellationToken)
    {
        var row = await RowAsync(id, cancellationToken);
        return await ReadLinesAsync(row, (index, file, _) =>
        {
            if (line < 1 || line > index.Lines)
            {
                throw StudioException.Invalid("line", $"Line {line} is outside the file (it has {index.Lines} lines).");
            }
            return ExampleView.Parse(line, index.ReadLine(file, line), ReflectionTags.Default);
        }, cancellationToken);
    }

    /// <summary>Reads lines of a dataset's content by offset, off the request thread: its line index and the open file.</summary>
    private Task<T> ReadLinesAsync<T>(Dataset row, Func<LineIndex, FileStream, string, T> read, CancellationToken cancellationToken)
    {
        var path = files.ExistingPathOf(row.StoredFile);
        return Task.Run(() =>
        {
            var index = files.LineIndexOf(row.StoredFile, cancellationToken);
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 12, FileOptions.RandomAccess);
            return read(index, file, path);
        }, cancellationToken);
    }

    /// <summary>Opens the stored content for download or upload.</summary>
    public async Task<(Stream Content, string FileName, long Bytes, string Sha256)> OpenAsync(Guid id, CancellationToken cancellationToken)
    {
        var row = await RowAsync(id, cancellationToken);
        var stream = new FileStream(files.ExistingPathOf(row.StoredFile), FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
        return (stream, row.FileName, row.Bytes, row.Sha256);
    }

    /// <summary>
    /// What an import with these columns would make of the source's first records, and which columns it reads
    /// (a column left to guess is named), so the user sees the mapping before importing.
    /// </summary>
    public async Task<ImportPreview> ImportPreviewAsync(Guid id, ImportRequest request, int count, CancellationToken cancellationToken)
    {
        var row = await RowAsync(id, cancellationToken);
        if (row.Status != DatasetStatus.NeedsImport)
        {
            throw new StudioException(StudioError.Conflict, "This dataset is already chat JSONL; there is nothing to import.");
        }
        var mapping = new ColumnMapping(Input.Blank(request.PromptColumn), Input.Blank(request.ResponseColumn), Input.Blank(request.SystemColumn));
        var reads = "";
        var examples = new List<ExampleView>();
        var problems = new List<Issue>();
        try
        {
            await foreach (var record in Sources.ReadAsync(files.ExistingPathOf(row.StoredFile), Enum.Parse<DatasetFormat>(row.Format), mapping, d => reads = d, cancellationToken))
            {
                if (record.Problem is { } problem)
                {
                    problems.Add(problem);
                }
                else
                {
                    examples.Add(ExampleView.Parse(examples.Count + problems.Count + 1, record.Example!.ToJsonString(), ReflectionTags.Default));
                }
                if (examples.Count + problems.Count >= Math.Clamp(count, 1, 20))
                {
                    break;
                }
            }
        }
        catch (ImportException e)
        {
            return new ImportPreview(null, [], [], e.Message);
        }
        return new ImportPreview(reads.Length == 0 ? null : reads, examples, problems, null);
    }

    public async Task<DatasetSummary> ImportAsync(Guid id, ImportRequest request, CancellationToken cancellationToken)
    {
        var row = await RowAsync(id, cancellationToken);
        if (row.Status != DatasetStatus.NeedsImport)
        {
            throw new StudioException(StudioError.Conflict, "This dataset is already chat JSONL; there is nothing to import.");
        }
        var mapping = new ColumnMapping(Input.Blank(request.PromptColumn), Input.Blank(request.ResponseColumn), Input.Blank(request.SystemColumn));
        var output = files.NewStagingPath();
        ConversionResult result;
        try
        {
            result = await DatasetConverter.ConvertAsync(files.ExistingPathOf(row.StoredFile), output, Enum.Parse<DatasetFormat>(row.Format), mapping, null, 100, cancellationToken);
        }
        catch (ImportException e)
        {
            File.Delete(output);
            throw StudioException.Invalid("mapping", e.Message);
        }
        if (result.Written == 0)
        {
            File.Delete(output);
            var first = result.Issues.Count > 0 ? result.Issues[0] : null;
            throw StudioException.Invalid("mapping", first is null
                ? "No example could be imported: the file has no records."
                : $"No example could be imported; the first problem is at line {first.Line}: {first.Message}");
        }
        var detail = $"from {result.Source}: {result.Written:N0} imported" + (result.Skipped > 0 ? $", {result.Skipped:N0} skipped (first at line {result.Issues[0].Line}: {result.Issues[0].Message})" : "");
        return await AddDerivedAsync(row, output, row.Name, "import", detail, cancellationToken);
    }

    public async Task<DatasetSummary> ConvertAsync(Guid id, ConvertRequest request, CancellationToken cancellationToken)
    {
        var row = await JsonlRowAsync(id, cancellationToken);
        if (row.Format != nameof(DatasetFormat.ChatJsonl))
        {
            throw new StudioException(StudioError.Conflict, "Reflection conversion works on chat examples; this is preference data.");
        }
        var prompt = string.IsNullOrWhiteSpace(request.SystemPrompt) ? ReflectionTags.DefaultSystemPrompt : request.SystemPrompt.Trim();
        var output = files.NewStagingPath();
        var result = await DatasetConverter.ConvertAsync(files.ExistingPathOf(row.StoredFile), output, DatasetFormat.ChatJsonl, ColumnMapping.Auto,
            new ReflectionConversion(prompt, request.Mode, request.WrapOutput), 100, cancellationToken);
        var detail = $"reflection form, system prompt {Describe(request.Mode)}: {result.Reflection!.Describe()}"
            + (result.Skipped > 0 ? $" {Plural.Of(result.Skipped, "unreadable line")} dropped." : "");
        return await AddDerivedAsync(row, output, $"{row.Name} · reflection", "convert", detail, cancellationToken, reflection: true);
    }

    public async Task<IReadOnlyList<DatasetSummary>> SplitAsync(Guid id, SplitRequest request, CancellationToken cancellationToken)
    {
        if (request.ValidationShare is <= 0 or >= 1 || double.IsNaN(request.ValidationShare))
        {
            throw StudioException.Invalid("validationShare", "The validation share is a fraction between 0 and 1, such as 0.1.");
        }
        var row = await JsonlRowAsync(id, cancellationToken);
        var train = files.NewStagingPath();
        var validation = files.NewStagingPath();
        SplitResult result;
        try
        {
            result = await Task.Run(() => LineSelection.Split(files.ExistingPathOf(row.StoredFile), train, validation, request.ValidationShare, request.Seed, cancellationToken), cancellationToken);
        }
        catch (ArgumentException e)
        {
            File.Delete(train);
            File.Delete(validation);
            throw StudioException.Invalid("validationShare", e.Message);
        }
        var detail = $"seed {request.Seed}, {request.ValidationShare:P0} for validation: {Plural.Of(result.Train, "training example")}, {Plural.Of(result.Validation, "validation example")}";
        return
        [
            await AddDerivedAsync(row, train, $"{row.Name} · train", "split-train", detail, cancellationToken),
            await AddDerivedAsync(row, validation, $"{row.Name} · validation", "split-validation", detail, cancellationToken),
        ];
    }

    public async Task<DatasetSummary> DedupeAsync(Guid id, CancellationToken cancellationToken)
    {
        var row = await JsonlRowAsync(id, cancellationToken);
        var output = files.NewStagingPath();
        var result = await Task.Run(() => LineSelection.Dedupe(files.ExistingPathOf(row.StoredFile), output, 100, cancellationToken), cancellationToken);
        var detail = $"{Plural.Of(result.Removed, "duplicate")} removed, {result.Kept:N0} kept"
            + (result.Examples.Count > 0 ? $" (first: line {result.Examples[0].Line} repeated line {result.Examples[0].DuplicateOf})" : "");
        return await AddDerivedAsync(row, output, $"{row.Name} · deduplicated", "dedupe", detail, cancellationToken);
    }

    /// <summary>
    /// A new dataset with only the examples the provider would accept (the checks of the report, for the dataset's
    /// target model; the opt-in reflection checks aside), recording which lines were dropped and why.
    /// </summary>
    public async Task<DatasetSummary> CleanAsync(Guid id, CancellationToken cancellationToken)
    {
        var row = await JsonlRowAsync(id, cancellationToken);
        var model = ModelCatalog.Default.Find(row.ValidationModel) ?? ModelCatalog.Default.Models[0];
        var output = files.NewStagingPath();
        CleanResult result;
        try
        {
            result = await Task.Run(() => LineSelection.Clean(files.ExistingPathOf(row.StoredFile), output, DatasetValidator.OptionsFor(model), 100, cancellationToken), cancellationToken);
        }
        catch
        {
            File.Delete(output);
            throw;
        }
        if (result.Dropped == 0)
        {
            File.Delete(output);
            throw new StudioException(StudioError.Conflict, "No example has an error: there is nothing to clean.");
        }
        if (result.Kept == 0)
        {
            File.Delete(output);
            throw new StudioException(StudioError.Conflict, $"Every example has an error ({Plural.Of(result.Dropped, "example")}): a cleaned copy would be empty.");
        }
        var lines = string.Join(", ", result.FirstDropped.Take(20).Select(i => $"line {i.Line} ({i.Code})"));
        var detail = $"{Plural.Of(result.Dropped, "example")} with errors dropped, {result.Kept:N0} kept; by error: "
            + string.Join(", ", result.DroppedByCode.Select(c => $"{c.Key} × {c.Value:N0}"))
            + $"; dropped: {lines}{(result.Dropped > 20 ? $" and {Plural.Of(result.Dropped - 20, "more line")}" : "")}";
        return await AddDerivedAsync(row, output, $"{row.Name} · clean", "clean", detail, cancellationToken);
    }

    /// <summary>Validates one dataset (called by the validation worker) and stores its report.</summary>
    internal async Task ValidateNowAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        var row = await context.Datasets.FirstOrDefaultAsync(d => d.Id == id, cancellationToken);
        if (row is null || row.Status != DatasetStatus.Validating)
        {
            return;
        }
        var catalog = ModelCatalog.Default;
        var model = catalog.Find(row.ValidationModel) ?? catalog.Models[0];
        try
        {
            var path = files.ExistingPathOf(row.StoredFile);
            // A validation file needs no minimum number of examples: that is a training file's rule.
            var validation = DatasetValidator.OptionsFor(model, new ValidationOptions
            {
                Reflection = row.ReflectionChecks,
                MaxIssuesPerCode = 500,
                MinExamples = row.Origin == "split-validation" ? 1 : new ValidationOptions().MinExamples,
            });
            var target = new EstimateTarget(catalog, model, DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime));
            var progress = new PercentProgress(row.Bytes, fraction => events.ReportProgress(id, "Validating", fraction));
            var report = await Task.Run(() => DatasetValidator.ValidateFile(path, validation, target, progress, cancellationToken: cancellationToken), cancellationToken);
            report = report with { File = row.FileName };
            row.MarkValidated(JsonSerializer.Serialize(report, CoreJson.Options), report.Examples, report.Lines, report.ProviderErrors, report.Warnings,
                report.Tokens.Total, time.GetUtcNow().UtcDateTime, report.ElapsedMs);
            logger.LogInformation("Validated dataset {DatasetId}: {Examples} examples, {Errors} errors, {Warnings} warnings in {ElapsedMs} ms",
                id, report.Examples, report.Errors, report.Warnings, report.ElapsedMs);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or StudioException)
        {
            row.MarkFailed(e is StudioException ? e.Message : $"The dataset file could not be read: {e.Message}");
            logger.LogWarning("Validation of dataset {DatasetId} failed: {Reason}", id, row.StatusMessage);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // Anything else ends the validation too, with the reason: a dataset never stays "validating" until a restart.
            row.MarkFailed($"The validation failed unexpectedly ({e.GetType().Name}): {e.Message}. Validate it again; if it fails again, the studio's log has the details.");
            logger.LogError(e, "Validation of dataset {DatasetId} failed unexpectedly", id);
        }
        finally
        {
            events.ClearProgress(id);
        }
        await context.SaveChangesAsync(CancellationToken.None);
        events.DatasetChanged(id);
    }

    /// <summary>Datasets whose validation a stop cut short.</summary>
    internal async Task<IReadOnlyList<Guid>> PendingValidationAsync(CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        return await context.Datasets.Where(d => d.Status == DatasetStatus.Validating).OrderBy(d => d.CreatedAt).Select(d => d.Id).ToListAsync(cancellationToken);
    }

    internal static ValidationReport? ReadReport(Dataset row) =>
        row.ReportJson is null ? null : JsonSerializer.Deserialize<ValidationReport>(row.ReportJson, CoreJson.Options);

    private async Task<DatasetSummary> AddDerivedAsync(Dataset parent, string output, string name, string origin, string detail, CancellationToken cancellationToken, bool reflection = false)
    {
        try
        {
            var staged = await DatasetFiles.HashAsync(output, cancellationToken);
            var format = DatasetFormatDetector.Detect(output).Format;
            var fileName = $"{Path.GetFileNameWithoutExtension(parent.FileName)}.{origin}.jsonl";
            var row = await KeepAsync(staged, ".jsonl", stored =>
            {
                var row = NewRow(name, fileName, stored, staged, format.ToString(), origin, detail, parent);
                row.ReflectionChecks = reflection || parent.ReflectionChecks;
                return row;
            }, cancellationToken);
            logger.LogInformation("Made dataset {DatasetId} from {ParentId} ({Origin})", row.Id, parent.Id, origin);
            events.DatasetChanged(parent.Id); // its page lists what was made from it
            return Summary(row);
        }
        finally
        {
            File.Delete(output);
        }
    }

    private Dataset NewRow(string name, string fileName, string stored, StagedFile staged, string format, string origin, string? detail, Dataset? parent) => new()
    {
        Id = Guid.CreateVersion7(time.GetUtcNow()),
        Name = name.Length > 200 ? name[..200] : name,
        FileName = fileName,
        StoredFile = stored,
        Sha256 = staged.Sha256,
        Bytes = staged.Bytes,
        Format = format,
        Origin = origin,
        OriginDetail = detail,
        ParentId = parent?.Id,
        ValidationModel = parent?.ValidationModel ?? "gpt-4o-mini-2024-07-18",
        CreatedAt = time.GetUtcNow().UtcDateTime,
    };

    /// <summary>Keeps staged content and adds the dataset row made for it, as one step (see <see cref="DatasetFiles.KeepAsync{T}"/>).</summary>
    private Task<Dataset> KeepAsync(StagedFile staged, string extension, Func<string, Dataset> newRow, CancellationToken cancellationToken) =>
        files.KeepAsync(staged, extension, async stored =>
        {
            var row = newRow(stored);
            await AddAsync(row, cancellationToken);
            return row;
        }, cancellationToken);

    private async Task AddAsync(Dataset row, CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        if (row.ParentId is null && await context.Settings.AsNoTracking().FirstOrDefaultAsync(s => s.Id == StudioSettings.SingletonId, cancellationToken) is { } settings)
        {
            row.ValidationModel = settings.DefaultTargetModel;
        }
        context.Datasets.Add(row);
        await context.SaveChangesAsync(CancellationToken.None);
        if (row.Status == DatasetStatus.Validating)
        {
            queue.Enqueue(row.Id);
        }
        events.DatasetChanged(row.Id);
    }

    /// <summary>The dataset's row, for services of the studio that need its stored facts without the report.</summary>
    internal async Task<Dataset> RowAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        return await Find(context, id, cancellationToken);
    }

    private async Task<Dataset> JsonlRowAsync(Guid id, CancellationToken cancellationToken)
    {
        var row = await RowAsync(id, cancellationToken);
        if (!JsonlFormats.Contains(row.Format))
        {
            throw new StudioException(StudioError.Conflict, row.Status == DatasetStatus.NeedsImport
                ? "Import this file into chat JSONL first."
                : $"This file is not chat or preference JSONL ({row.Format}); see its validation report.");
        }
        return row;
    }

    private static async Task<Dataset> Find(StudioDbContext context, Guid id, CancellationToken cancellationToken) =>
        await context.Datasets.FirstOrDefaultAsync(d => d.Id == id, cancellationToken) ?? throw StudioException.NotFound("This dataset");

    private static DatasetSummary Summary(Dataset d) =>
        new(d.Id, d.Name, d.FileName, d.Format, d.Status, d.StatusMessage, d.Bytes, d.Examples, d.Errors, d.Warnings, d.Tokens, d.Origin, d.ParentId, d.CreatedAt);


    private static string Describe(SystemPromptMode mode) => mode switch
    {
        SystemPromptMode.Replace => "replacing existing ones",
        SystemPromptMode.AddIfMissing => "added where missing",
        _ => "prepended",
    };

    /// <summary>A file name safe to show and store: no directories, no control characters.</summary>
    private static string CleanFileName(string fileName)
    {
        var name = Path.GetFileName(fileName.Replace('\\', '/'));
        name = new string(name.Where(c => !char.IsControl(c)).ToArray()).Trim();
        if (name.Length == 0)
        {
            return "dataset.jsonl";
        }
        // A long name keeps its beginning (what people recognise) and its extension.
        var extension = Path.GetExtension(name);
        return name.Length <= 200 ? name : extension.Length < 20 ? name[..(200 - extension.Length)] + extension : name[..200];
    }
}

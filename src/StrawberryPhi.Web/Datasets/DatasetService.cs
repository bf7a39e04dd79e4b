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
/// <param name="ReflectionErrors">Errors of the opt-in reflection checks (their own verdict; they never stop an upload).</param>
public sealed record DatasetSummary(
    Guid Id, string Name, string FileName, string Format, DatasetStatus Status, string? StatusMessage, long Bytes, long Examples,
    long Errors, long Warnings, long Tokens, string Origin, Guid? ParentId, DateTime CreatedAt, Guid? ImportedAs = null, long ReflectionErrors = 0);

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
/// <param name="Columns">For CSV and Parquet: the columns the import reads, each named (guesses included).</param>
public sealed record ImportPreview(string? Reads, IReadOnlyList<ExampleView> Examples, IReadOnlyList<Issue> Problems, string? Error, ImportColumns? Columns = null);

/// <summary>The source columns an import reads for the prompt, the response and (when there is one) the system prompt.</summary>
public sealed record ImportColumns(string Prompt, string Response, string? System);

/// <summary>Datasets: intake, validation reports, preview, and derived datasets (the original is never modified).</summary>
public sealed partial class DatasetService(
    IDbContextFactory<StudioDbContext> db, DatasetFiles files, DatasetValidationQueue queue, IOptions<StudioOptions> options,
    TimeProvider time, StudioNotifier events, Settings.SettingsService settings, ILogger<DatasetService> logger)
{
    public const int MaxSearchMatches = 100_000;
    private static readonly string[] JsonlFormats = [nameof(DatasetFormat.ChatJsonl), nameof(DatasetFormat.PreferenceJsonl)];
    /// <summary>The latest searches' matching lines, so that paging through results does not scan again.</summary>
    private readonly RecentCache<IReadOnlyList<long>> _searches = new(8);

    /// <summary>How the latest files fit the local bases' contexts (by content: the same bytes fit the same).</summary>
    private readonly RecentCache<IReadOnlyList<LocalEngine.Engine.ContextFit>> _contextFits = new(8);

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

    /// <summary>
    /// How the dataset's examples fit each local base's context (the local engine's counterpart of a provider's token
    /// limit): how many are longer and would have their prompts cut, and how many would keep nothing to train on.
    /// </summary>
    public async Task<IReadOnlyList<LocalEngine.Engine.ContextFit>> LocalContextFitAsync(Guid id, CancellationToken cancellationToken)
    {
        var row = await RowAsync(id, cancellationToken);
        if (row.Format != nameof(DatasetFormat.ChatJsonl) || row.Status != DatasetStatus.Ready || row.Errors > 0)
        {
            throw new StudioException(StudioError.Conflict, "Only a validated chat dataset without errors can be measured against the local engine's contexts.");
        }
        var path = files.ExistingPathOf(row.StoredFile);
        return await Task.Run(() => _contextFits.Get(row.Sha256, () => LocalEngine.Engine.TrainingFile.Measure(path, cancellationToken)), cancellationToken);
    }

    /// <summary>Opens the stored content for download or upload.</summary>
    public async Task<(Stream Content, string FileName, long Bytes, string Sha256)> OpenAsync(Guid id, CancellationToken cancellationToken)
    {
        var row = await RowAsync(id, cancellationToken);
        var stream = new FileStream(files.ExistingPathOf(row.StoredFile), FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
        return (stream, row.FileName, row.Bytes, row.Sha256);
    }

    internal static ValidationReport? ReadReport(Dataset row) =>
        row.ReportJson is null ? null : JsonSerializer.Deserialize<ValidationReport>(row.ReportJson, CoreJson.Options);

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
        new(d.Id, d.Name, d.FileName, d.Format, d.Status, d.StatusMessage, d.Bytes, d.Examples, d.Errors, d.Warnings, d.Tokens, d.Origin, d.ParentId, d.CreatedAt,
            ReflectionErrors: d.ReflectionErrors);
}

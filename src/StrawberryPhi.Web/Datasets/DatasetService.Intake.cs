using Microsoft.EntityFrameworkCore;
using StrawberryPhi.Core.Catalog;
using StrawberryPhi.Core.Datasets;
using StrawberryPhi.Web.Data;

namespace StrawberryPhi.Web.Datasets;

/// <summary>Intake: an uploaded file kept (content-addressed, never modified) with its row, and queued for validation or import.</summary>
public sealed partial class DatasetService
{
    /// <summary>Keeps an uploaded file: chat or preference JSONL is validated; CSV, Alpaca, ShareGPT and Parquet wait for their import step.</summary>
    /// <param name="origin"><c>upload</c>, or <c>provider</c> for a file brought from a provider by an import of its history.</param>
    /// <param name="originDetail">Where it came from, in words.</param>
    public async Task<DatasetSummary> CreateFromUploadAsync(Stream content, string fileName, CancellationToken cancellationToken, string origin = "upload", string? originDetail = null)
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
                var row = NewRow(Path.GetFileNameWithoutExtension(fileName), fileName, stored, staged, detection.Format.ToString(), origin, originDetail, null);
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
        ValidationModel = parent?.ValidationModel ?? ModelCatalog.DefaultTargetModel,
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
        if (row.ParentId is null)
        {
            row.ValidationModel = (await settings.GetAsync(cancellationToken)).DefaultTargetModel;
        }
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        row.Name = await UniqueNameAsync(context, row.Name, cancellationToken);
        context.Datasets.Add(row);
        await context.SaveChangesAsync(CancellationToken.None);
        if (row.Status == DatasetStatus.Validating)
        {
            queue.Enqueue(row.Id);
        }
        events.DatasetChanged(row.Id);
    }

    /// <summary>
    /// The name, or "name (2)", "name (3)"… when it is taken: a second upload of a file, or a second clean of a
    /// dataset, must be told apart from the first in lists and links.
    /// </summary>
    private static async Task<string> UniqueNameAsync(StudioDbContext context, string name, CancellationToken cancellationToken)
    {
        var taken = await context.Datasets.Where(d => d.Name == name || d.Name.StartsWith(name + " (")).Select(d => d.Name).ToListAsync(cancellationToken);
        if (!taken.Contains(name))
        {
            return name;
        }
        var n = 2;
        while (taken.Contains($"{name} ({n})"))
        {
            n++;
        }
        return $"{name} ({n})";
    }

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

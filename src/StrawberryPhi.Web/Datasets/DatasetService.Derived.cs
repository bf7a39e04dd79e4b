using StrawberryPhi.Core.Catalog;
using StrawberryPhi.Core.Datasets;
using StrawberryPhi.Core.Import;
using StrawberryPhi.Core.Reflection;
using StrawberryPhi.Core.Text;
using StrawberryPhi.Core.Transform;
using StrawberryPhi.Core.Validation;
using StrawberryPhi.Web.Data;

namespace StrawberryPhi.Web.Datasets;

/// <summary>Derived datasets: import, convert, split, de-duplicate and clean each make a new dataset that records where it came from.</summary>
public sealed partial class DatasetService
{
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
        var path = files.ExistingPathOf(row.StoredFile);
        var format = Enum.Parse<DatasetFormat>(row.Format);
        var reads = "";
        ImportColumns? chosen = null;
        var examples = new List<ExampleView>();
        var problems = new List<Issue>();
        try
        {
            if (await Sources.ReadColumnsAsync(path, format, cancellationToken) is { } header)
            {
                var resolved = mapping.Resolve(header);
                chosen = new ImportColumns(header[resolved.Prompt], header[resolved.Response], resolved.System >= 0 ? header[resolved.System] : null);
            }
            await foreach (var record in Sources.ReadAsync(path, format, mapping, d => reads = d, cancellationToken))
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
        return new ImportPreview(reads.Length == 0 ? null : reads, examples, problems, null, chosen);
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
        // Named apart from its source, so links to the one and the other can be told apart.
        return await AddDerivedAsync(row, output, $"{row.Name} · imported", "import", detail, cancellationToken);
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
        var detail = $"reflection form, system prompt {Describe(request.Mode)}. {result.Reflection!.Describe()}"
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
        var detail = $"{Plural.Of(result.Dropped, "example")} with errors dropped, {result.Kept:N0} kept; by each line's first error: "
            + string.Join(", ", result.DroppedByCode.Select(c => $"{c.Key} × {c.Value:N0}"))
            + $"; dropped: {lines}{(result.Dropped > 20 ? $" and {Plural.Of(result.Dropped - 20, "more line")}" : "")}";
        return await AddDerivedAsync(row, output, $"{row.Name} · clean", "clean", detail, cancellationToken);
    }

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

    private static string Describe(SystemPromptMode mode) => mode switch
    {
        SystemPromptMode.Replace => "replacing existing ones",
        SystemPromptMode.AddIfMissing => "added where missing",
        _ => "prepended",
    };
}

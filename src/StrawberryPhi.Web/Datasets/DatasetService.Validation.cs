using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using StrawberryPhi.Core;
using StrawberryPhi.Core.Catalog;
using StrawberryPhi.Core.Validation;
using StrawberryPhi.Web.Data;

namespace StrawberryPhi.Web.Datasets;

/// <summary>The validation run: queued again on request, run by the worker, ended Ready or Failed with the reason.</summary>
public sealed partial class DatasetService
{
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
            row.MarkValidated(JsonSerializer.Serialize(report, CoreJson.Options), report.Examples, report.Lines, report.ProviderErrors, report.ReflectionErrors, report.Warnings,
                report.Tokens.Total, time.GetUtcNow().UtcDateTime, report.ElapsedMs);
            logger.LogInformation("Validated dataset {DatasetId}: {Examples} examples, {Errors} errors, {ReflectionErrors} reflection-format errors, {Warnings} warnings in {ElapsedMs} ms",
                id, report.Examples, report.ProviderErrors, report.ReflectionErrors, report.Warnings, report.ElapsedMs);
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
}

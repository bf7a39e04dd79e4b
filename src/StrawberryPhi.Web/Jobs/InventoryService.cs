using Microsoft.EntityFrameworkCore;
using StrawberryPhi.Core.Catalog;
using StrawberryPhi.Providers;
using StrawberryPhi.Web.Chat;
using StrawberryPhi.Web.Data;
using StrawberryPhi.Web.Evaluation;

namespace StrawberryPhi.Web.Jobs;

/// <summary>
/// A fine-tuned model and what it would take to keep it: its base and the base's shutdown, whether its training data
/// is held here (content, not only a provider's file id), whether golden outputs exist, and what is missing to
/// retrain it elsewhere.
/// </summary>
/// <param name="JobId">The studio's record of the job that made it; null for a model a provider lists without one (import its history).</param>
/// <param name="DaysLeft">Days until the base shuts down (negative: already down); null without a shutdown date.</param>
/// <param name="AtRisk">The base shuts down within <see cref="InventoryService.RiskDays"/> days, or has.</param>
/// <param name="ModelGone">The connection lists every model it has (the local engine, OpenAI) and not this one: it was deleted, or another studio's engine made it (a bundle's record). Null when not asked.</param>
public sealed record InventoryItem(
    Guid ProviderId, string Connection, string Model, string? BaseModel, DateOnly? BaseShutdown, int? DaysLeft, bool AtRisk,
    Guid? JobId, bool TrainingDataHeld, bool GoldenOutputs, IReadOnlyList<string> Missing, bool? ModelGone = null);

public sealed record Inventory(DateOnly Today, int AtRisk, IReadOnlyList<InventoryItem> Items);

/// <summary>Every fine-tuned model of every connection, most urgent first (GET /api/inventory, phi inventory).</summary>
public sealed class InventoryService(IDbContextFactory<StudioDbContext> db, ModelRouter router, TimeProvider time)
{
    public const int RiskDays = 90;

    /// <param name="askProviders">Also list each connection's models (fine-tunes the studio has no job for); the dashboard does not wait for that.</param>
    public async Task<Inventory> GetAsync(bool askProviders, CancellationToken cancellationToken)
    {
        var today = DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        var connections = await context.Providers.AsNoTracking().ToDictionaryAsync(p => p.Id, cancellationToken);
        var listed = askProviders ? await router.ListByConnectionAsync(cancellationToken) : null;
        var jobs = await context.Jobs.AsNoTracking().Where(j => j.FineTunedModel != null)
            .Select(j => new { j.Id, j.ProviderId, j.FineTunedModel, j.Model, j.TrainingDatasetId, j.HyperparametersJson, j.FinishedAt }).ToListAsync(cancellationToken);
        var heldDatasets = (await context.Datasets.AsNoTracking().Select(d => d.Id).ToListAsync(cancellationToken)).ToHashSet();
        var golden = (await (from g in context.Golden
                             join r in context.EvalRuns on g.CaptureRunId equals r.Id
                             where r.Status == EvalStatuses.Succeeded
                             select new { g.ProviderId, g.Model }).ToListAsync(cancellationToken)).Select(g => (g.ProviderId, g.Model)).ToHashSet();
        var items = new List<InventoryItem>();
        foreach (var job in jobs.OrderByDescending(j => j.FinishedAt).DistinctBy(j => (j.ProviderId, j.FineTunedModel)))
        {
            var held = job.TrainingDatasetId is { } dataset && heldDatasets.Contains(dataset);
            var missing = new List<string>();
            if (!held)
            {
                missing.Add("training data (only the provider's file id is known; upload or import the file)");
            }
            var hasGolden = golden.Contains((job.ProviderId, job.FineTunedModel!));
            if (!hasGolden)
            {
                missing.Add("golden outputs (none captured)");
            }
            if (job.HyperparametersJson is null)
            {
                missing.Add("the resolved hyperparameters");
            }
            var connection = connections.GetValueOrDefault(job.ProviderId);
            bool? gone = connection is { Kind: ProviderKind.Local or ProviderKind.OpenAI } && listed?.GetValueOrDefault(job.ProviderId) is { } models
                ? !models.Any(m => m.Model == job.FineTunedModel) : null;
            if (gone == true)
            {
                missing.Insert(0, connection!.BuiltIn
                    ? "the model itself (not at this studio's local engine: deleted, or another studio's engine trained it; re-run the job here)"
                    : $"the model itself ({connection.Name} no longer lists it; re-run the job to make it anew)");
            }
            items.Add(Item(job.ProviderId, connection?.Name ?? "(removed connection)", job.FineTunedModel!, BaseOf(job.Model), today, job.Id, held, hasGolden, missing) with { ModelGone = gone });
        }
        if (askProviders)
        {
            var known = items.Select(i => (i.ProviderId, i.Model)).ToHashSet();
            foreach (var model in listed!.Values.SelectMany(models => models ?? []))
            {
                // A checkpoint (ft:…:ckpt-step-N) belongs to its job's model, not to the list on its own.
                if (model.Model.StartsWith("ft:", StringComparison.Ordinal) && !model.Model.Contains(":ckpt-step-", StringComparison.Ordinal)
                    && !known.Contains((model.ProviderId, model.Model)))
                {
                    var hasGolden = golden.Contains((model.ProviderId, model.Model));
                    items.Add(Item(model.ProviderId, model.Connection, model.Model, model.Model.Split(':')[1], today, null, false, hasGolden,
                        ["the job's record (import the connection's history)", "training data", .. (hasGolden ? Array.Empty<string>() : ["golden outputs (none captured)"])]));
                }
            }
        }
        var sorted = items.OrderBy(i => i.DaysLeft ?? int.MaxValue).ThenBy(i => i.Connection, StringComparer.Ordinal).ThenBy(i => i.Model, StringComparer.Ordinal).ToList();
        return new Inventory(today, sorted.Count(i => i.AtRisk), sorted);
    }

    /// <summary>A fine-tune's base: the job's model, itself a fine-tune (<c>ft:BASE:…</c>) or a base.</summary>
    private static string BaseOf(string model) => model.StartsWith("ft:", StringComparison.Ordinal) ? model.Split(':')[1] : model;

    private static InventoryItem Item(Guid providerId, string connection, string model, string baseModel, DateOnly today, Guid? jobId, bool held, bool golden, List<string> missing)
    {
        var shutdown = ModelCatalog.Default.Find(baseModel)?.ShutdownDate;
        int? daysLeft = shutdown is { } date ? date.DayNumber - today.DayNumber : null;
        return new InventoryItem(providerId, connection, model, baseModel, shutdown, daysLeft, daysLeft is { } d && d <= RiskDays, jobId, held, golden, missing);
    }
}

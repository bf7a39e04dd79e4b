using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using StrawberryPhi.Core.Catalog;
using StrawberryPhi.Providers;
using StrawberryPhi.Web.Data;

namespace StrawberryPhi.Web.Jobs;

/// <summary>A model a job can start from: a base the connection fine-tunes, or one of the user's fine-tunes or checkpoints.</summary>
/// <param name="Kind">base, fine-tune or checkpoint.</param>
/// <param name="BaseModel">The base it was made from (for dates and prices), when known.</param>
public sealed record ModelChoice(string Id, string Kind, string? BaseModel, DateOnly? ShutdownDate, bool ShutDown, string? Note);

public sealed partial class JobService
{
    public async Task<JobView> GetAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        var row = await context.Jobs.AsNoTracking().FirstOrDefaultAsync(j => j.Id == id, cancellationToken) ?? throw StudioException.NotFound("This job");
        return (await ViewsAsync(context, [row], cancellationToken))[0];
    }

    /// <summary>Jobs across connections, newest first, filtered and paged in the database (fast at many thousands).</summary>
    public async Task<JobPage> ListAsync(JobQuery query, CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        var rows = context.Jobs.AsNoTracking();
        if (query.Status is { Length: > 0 } status)
        {
            rows = status switch
            {
                "active" => rows.Where(j => !JobStatuses.Final.Contains(j.Status)),
                _ => rows.Where(j => j.Status == status),
            };
        }
        if (query.ProviderId is { } providerId)
        {
            rows = rows.Where(j => j.ProviderId == providerId);
        }
        if (query.Origin is { Length: > 0 } origin)
        {
            rows = rows.Where(j => j.Origin == origin);
        }
        if (query.Search?.Trim() is { Length: > 0 } search)
        {
            var pattern = $"%{search.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal)}%";
            var datasetIds = context.Datasets.Where(d => EF.Functions.Like(d.Name, pattern, "\\")).Select(d => (Guid?)d.Id);
            rows = rows.Where(j => EF.Functions.Like(j.Model, pattern, "\\") || EF.Functions.Like(j.FineTunedModel ?? "", pattern, "\\")
                || EF.Functions.Like(j.Suffix ?? "", pattern, "\\") || EF.Functions.Like(j.RemoteId ?? "", pattern, "\\")
                || datasetIds.Contains(j.TrainingDatasetId) || datasetIds.Contains(j.ValidationDatasetId));
        }
        var total = await rows.CountAsync(cancellationToken);
        var page = await rows.OrderByDescending(j => j.CreatedAt).ThenByDescending(j => j.Id)
            .Skip(Math.Max(0, query.Skip)).Take(Math.Clamp(query.Take, 1, 500)).ToListAsync(cancellationToken);
        return new JobPage(total, await ViewsAsync(context, page, cancellationToken));
    }

    /// <summary>The studio's job that is <paramref name="remoteId"/> at this connection, or null.</summary>
    public async Task<Guid?> FindByRemoteIdAsync(Guid providerId, string remoteId, CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        return await context.Jobs.Where(j => j.ProviderId == providerId && j.RemoteId == remoteId).Select(j => (Guid?)j.Id).FirstOrDefaultAsync(cancellationToken);
    }

    /// <summary>The dashboard's view of jobs: what runs (with time left), the latest fine-tuned models, and the spend.</summary>
    public async Task<JobsOverview> OverviewAsync(CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        var active = await context.Jobs.AsNoTracking()
            .Where(j => !JobStatuses.Final.Contains(j.Status))
            .OrderByDescending(j => j.CreatedAt).Take(20).ToListAsync(cancellationToken);
        var recent = await context.Jobs.AsNoTracking().Where(j => j.FineTunedModel != null)
            .OrderByDescending(j => j.FinishedAt).Take(5).ToListAsync(cancellationToken);
        var billed = await context.Jobs.AsNoTracking().Where(j => j.TrainedTokens != null && j.PricePer1M != null)
            .Select(j => new { j.TrainedTokens, j.PricePer1M }).ToListAsync(cancellationToken);
        var total = await context.Jobs.CountAsync(cancellationToken);
        var remaining = new List<(JobView, TimeSpan?)>();
        foreach (var view in await ViewsAsync(context, active, cancellationToken))
        {
            TimeSpan? left = null;
            if (view.TotalSteps is { } steps)
            {
                var points = await context.JobMetrics.AsNoTracking().Where(m => m.JobId == view.Id).OrderByDescending(m => m.Step).Take(50)
                    .Select(m => new Core.Metrics.CurvePoint(m.Step, m.TrainLoss, m.ValidLoss, m.Time)).ToListAsync(cancellationToken);
                left = Core.Metrics.TrainingCurves.Remaining(points, steps);
            }
            remaining.Add((view, left));
        }
        return new JobsOverview(remaining, await ViewsAsync(context, recent, cancellationToken),
            billed.Sum(b => Math.Round(b.TrainedTokens!.Value * b.PricePer1M!.Value / 1_000_000m, 2)),
            active.Sum(j => j.EstimatedCost ?? 0), total);
    }

    /// <summary>Events, newest first; <paramref name="level"/> filters (info, warn, error); <paramref name="withMetrics"/> false leaves out the per-step metrics events.</summary>
    public async Task<JobEventPage> EventsAsync(Guid id, string? level, int skip, int take, CancellationToken cancellationToken, bool withMetrics = true)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        await EnsureExistsAsync(context, id, cancellationToken);
        var rows = context.JobEvents.AsNoTracking().Where(e => e.JobId == id);
        if (level is { Length: > 0 })
        {
            rows = rows.Where(e => e.Level == level);
        }
        if (!withMetrics)
        {
            rows = rows.Where(e => e.Type != "metrics");
        }
        var total = await rows.CountAsync(cancellationToken);
        var page = await rows.OrderByDescending(e => e.CreatedAt).ThenByDescending(e => e.Id).Skip(Math.Max(0, skip)).Take(Math.Clamp(take, 1, 1000)).ToListAsync(cancellationToken);
        return new JobEventPage(total, page.Select(EventView).ToList());
    }

    /// <summary>Every metric point of the job, by step.</summary>
    public async Task<IReadOnlyList<MetricPointView>> MetricsAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        await EnsureExistsAsync(context, id, cancellationToken);
        return await context.JobMetrics.AsNoTracking().Where(m => m.JobId == id).OrderBy(m => m.Step)
            .Select(m => new MetricPointView(m.Step, m.TotalSteps, m.TrainLoss, m.TrainMeanTokenAccuracy, m.ValidLoss, m.ValidMeanTokenAccuracy,
                m.FullValidLoss, m.FullValidMeanTokenAccuracy, m.Time, m.RemoteId))
            .ToListAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<CheckpointView>> CheckpointsAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        await EnsureExistsAsync(context, id, cancellationToken);
        var rows = await context.JobCheckpoints.AsNoTracking().Where(c => c.JobId == id).OrderByDescending(c => c.Step).ToListAsync(cancellationToken);
        return rows.Select(c => new CheckpointView(c.RemoteId, c.Model, c.Step,
            JsonSerializer.Deserialize<Dictionary<string, double>>(c.MetricsJson) ?? [], c.CreatedAt)).ToList();
    }

    public async Task<IReadOnlyList<ResultFileView>> ResultFilesAsync(Guid id, bool withContent, CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        await EnsureExistsAsync(context, id, cancellationToken);
        var rows = await context.JobResultFiles.AsNoTracking().Where(f => f.JobId == id).OrderBy(f => f.Id).ToListAsync(cancellationToken);
        return rows.Select(f => new ResultFileView(f.RemoteId, f.FileName, f.Bytes, f.Content is not null, f.Note, f.FetchedAt,
            withContent && f.Content is { } bytes ? Encoding.UTF8.GetString(bytes) : null)).ToList();
    }

    /// <summary>A stored result file's bytes, or null.</summary>
    public async Task<(byte[] Content, string FileName)?> ResultFileAsync(Guid id, string remoteId, CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        var row = await context.JobResultFiles.AsNoTracking().FirstOrDefaultAsync(f => f.JobId == id && f.RemoteId == remoteId, cancellationToken);
        return row?.Content is { } content ? (content, row.FileName) : null;
    }

    /// <summary>The whole record: the job, every event, metric point, checkpoint and result file.</summary>
    public async Task<JobRecord> RecordAsync(Guid id, CancellationToken cancellationToken)
    {
        var job = await GetAsync(id, cancellationToken);
        var eventsPage = await EventsAsync(id, null, 0, int.MaxValue, cancellationToken);
        var all = eventsPage.Total > eventsPage.Items.Count ? await AllEventsAsync(id, cancellationToken) : eventsPage.Items;
        return new JobRecord(job, all, await MetricsAsync(id, cancellationToken), await CheckpointsAsync(id, cancellationToken),
            await ResultFilesAsync(id, withContent: true, cancellationToken), time.GetUtcNow().UtcDateTime);
    }

    private async Task<IReadOnlyList<JobEventView>> AllEventsAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        var rows = await context.JobEvents.AsNoTracking().Where(e => e.JobId == id).OrderByDescending(e => e.CreatedAt).ThenByDescending(e => e.Id).ToListAsync(cancellationToken);
        return rows.Select(EventView).ToList();
    }

    public static readonly string[] MetricsCsvColumns =
        ["step", "train_loss", "train_mean_token_accuracy", "valid_loss", "valid_mean_token_accuracy", "full_valid_loss", "full_valid_mean_token_accuracy", "time"];

    /// <summary>One row per step, in OpenAI's metric names; the time as ISO 8601 UTC; an empty cell where a metric was not measured.</summary>
    public async Task<string> MetricsCsvAsync(Guid id, CancellationToken cancellationToken)
    {
        var points = await MetricsAsync(id, cancellationToken);
        var csv = new StringBuilder(string.Join(',', MetricsCsvColumns)).Append('\n');
        static string N(double? v) => v?.ToString("R", CultureInfo.InvariantCulture) ?? "";
        foreach (var p in points)
        {
            csv.Append(p.Step.ToString(CultureInfo.InvariantCulture)).Append(',').Append(N(p.TrainLoss)).Append(',').Append(N(p.TrainMeanTokenAccuracy))
                .Append(',').Append(N(p.ValidLoss)).Append(',').Append(N(p.ValidMeanTokenAccuracy)).Append(',').Append(N(p.FullValidLoss))
                .Append(',').Append(N(p.FullValidMeanTokenAccuracy)).Append(',').Append(p.Time.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture)).Append('\n');
        }
        return csv.ToString();
    }

    /// <summary>
    /// What a job on this connection can start from: its fine-tunable bases (shut-down ones marked), and the user's
    /// fine-tuned models and checkpoints (from the studio's records, and from the provider's list when it answers).
    /// </summary>
    public async Task<IReadOnlyList<ModelChoice>> ModelChoicesAsync(Guid providerId, CancellationToken cancellationToken)
    {
        var choices = new List<ModelChoice>();
        var bases = await providers.ModelsAsync(providerId, cancellationToken);
        foreach (var model in bases.Models)
        {
            choices.Add(new ModelChoice(model.Id, "base", model.Id, model.ShutdownDate, model.ShutDown, model.ShutDown ? "shut down" : null));
        }
        await using (var context = await db.CreateDbContextAsync(cancellationToken))
        {
            var made = await context.Jobs.AsNoTracking().Where(j => j.ProviderId == providerId && j.FineTunedModel != null)
                .OrderByDescending(j => j.CreatedAt).Select(j => new { j.Id, j.Model, j.FineTunedModel }).ToListAsync(cancellationToken);
            var ids = made.Select(m => m.Id).ToList();
            var checkpoints = await context.JobCheckpoints.AsNoTracking().Where(c => ids.Contains(c.JobId))
                .OrderByDescending(c => c.Step).Select(c => new { c.JobId, c.Model, c.Step }).ToListAsync(cancellationToken);
            foreach (var job in made)
            {
                var baseModel = BaseOf(job.Model, choices);
                Add(job.FineTunedModel!, "fine-tune", baseModel);
                foreach (var checkpoint in checkpoints.Where(c => c.JobId == job.Id && c.Model != job.FineTunedModel))
                {
                    Add(checkpoint.Model, "checkpoint", baseModel);
                }
            }
        }
        try
        {
            var client = await providers.ClientAsync(providerId, cancellationToken);
            foreach (var listed in (await client.ListModelsAsync(cancellationToken)).Where(m => m.Id.StartsWith("ft:", StringComparison.Ordinal)))
            {
                Add(listed.Id, listed.Id.Contains(":ckpt-step-", StringComparison.Ordinal) ? "checkpoint" : "fine-tune", listed.Id.Split(':')[1]);
            }
        }
        catch (ProviderException e)
        {
            logger.LogInformation("Listing the fine-tuned models of provider connection {ProviderId} failed: {Reason}", providerId, e.Message);
        }
        return choices;

        void Add(string id, string kind, string? baseModel)
        {
            if (choices.Any(c => c.Id == id))
            {
                return;
            }
            var known = baseModel is null ? null : ModelCatalog.Default.Find(baseModel);
            var today = DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
            choices.Add(new ModelChoice(id, kind, baseModel, known?.ShutdownDate, known?.IsShutDown(today) == true, kind));
        }
    }

    /// <summary>The base under a model: itself when it is a base, else what its job started from.</summary>
    private static string? BaseOf(string model, List<ModelChoice> choices) =>
        choices.FirstOrDefault(c => c.Id == model)?.BaseModel ?? (model.StartsWith("ft:", StringComparison.Ordinal) ? model.Split(':')[1] : model);

    private static async Task EnsureExistsAsync(StudioDbContext context, Guid id, CancellationToken cancellationToken)
    {
        if (!await context.Jobs.AnyAsync(j => j.Id == id, cancellationToken))
        {
            throw StudioException.NotFound("This job");
        }
    }

    private static async Task<IReadOnlyList<JobView>> ViewsAsync(StudioDbContext context, IReadOnlyList<FineTuneJob> rows, CancellationToken cancellationToken)
    {
        var providerIds = rows.Select(r => r.ProviderId).Distinct().ToList();
        var names = await context.Providers.AsNoTracking().Where(p => providerIds.Contains(p.Id)).ToDictionaryAsync(p => p.Id, p => p.Name, cancellationToken);
        var datasetIds = rows.SelectMany(r => new[] { r.TrainingDatasetId, r.ValidationDatasetId }).OfType<Guid>().Distinct().ToList();
        var datasetNames = await context.Datasets.AsNoTracking().Where(d => datasetIds.Contains(d.Id)).ToDictionaryAsync(d => d.Id, d => d.Name, cancellationToken);
        return rows.Select(r => View(r, names.GetValueOrDefault(r.ProviderId, "(removed connection)"), datasetNames)).ToList();
    }

    private static JobView View(FineTuneJob r, string providerName, Dictionary<Guid, string> datasetNames)
    {
        string? Name(Guid? id) => id is { } d && datasetNames.TryGetValue(d, out var name) ? name : null;
        var hyper = r.HyperparametersJson is null ? Asked(r.MethodJson) : JsonSerializer.Deserialize<Dictionary<string, string>>(r.HyperparametersJson) ?? [];
        decimal? cost = r.TrainedTokens is { } trained && r.PricePer1M is { } price ? Math.Round(trained * price / 1_000_000m, 2) : null;
        return new JobView(r.Id, r.ProviderId, providerName, r.RemoteId, r.Model, r.TrainingDatasetId, Name(r.TrainingDatasetId), r.ValidationDatasetId,
            Name(r.ValidationDatasetId), r.MethodType, r.Suffix, r.Seed,
            r.MetadataJson is null ? new Dictionary<string, string>() : JsonSerializer.Deserialize<Dictionary<string, string>>(r.MetadataJson) ?? [],
            hyper, r.Status, r.FineTunedModel, r.TrainedTokens,
            r.ErrorMessage is null ? null : new JobErrorView(r.ErrorCode, r.ErrorMessage, r.ErrorParam, JobErrors.Explain(r.ErrorCode, r.ErrorMessage, r.ErrorParam)),
            r.Step, r.TotalSteps, r.EstimatedBilledTokens, r.EstimatedCost, cost, r.CreatedAt, r.StartedAt, r.FinishedAt, r.EstimatedFinish,
            r.LastPollError, r.Origin, r.ResultFilesJson is null ? [] : JsonSerializer.Deserialize<List<string>>(r.ResultFilesJson) ?? [],
            r.TrainingFileId, r.ValidationFileId, r.RerunOfJobId);
    }

    /// <summary>Hyperparameters as asked (before the provider resolved them): "auto" where none was given.</summary>
    private static Dictionary<string, string> Asked(string? methodJson)
    {
        var method = methodJson is null ? null : System.Text.Json.Nodes.JsonNode.Parse(methodJson)?.AsObject();
        var type = method?["type"]?.GetValue<string>() ?? "supervised";
        var hyper = method?[type]?["hyperparameters"]?.AsObject();
        return HyperparameterRules.For(type).ToDictionary(r => r.Name, r => hyper?[r.Name]?.ToString() ?? "auto");
    }

    private static JobEventView EventView(JobEventRecord e)
    {
        JsonElement? data = null;
        if (e.DataJson is { } json)
        {
            using var document = JsonDocument.Parse(json);
            data = document.RootElement.Clone();
        }
        return new JobEventView(e.RemoteId, e.CreatedAt, e.Level, e.Message, e.Type, data);
    }
}

/// <summary>A job's error in words a user can act on, beside the provider's own message.</summary>
public static class JobErrors
{
    public static string Explain(string? code, string message, string? param) => code switch
    {
        "invalid_training_file" or "invalid_validation_file" =>
            "The provider found a problem in the file it was given. Validate the dataset in the studio (its report names the line), fix or clean it, and start a new job.",
        "no_trainable_tokens" =>
            "Nothing in the data was left to learn from: examples were longer than the model's context, or no assistant message has weight 1. Shorten the examples or pick a base with a longer context.",
        "engine_restarted" => "The local engine stopped while the job ran. Start the job again; its checkpoints are kept.",
        "upload_failed" => "The dataset could not be sent to the provider, so the job was never created there. Check the connection in Settings and start the job again.",
        "submission_failed" => "The provider could not be reached to create the job, still after retries. Nothing was created there; start the job again when the connection works.",
        "insufficient_quota" or "exceeded_quota" => "The provider account is out of credit or over its quota. Add credit or raise the limit, then start a new job.",
        "unsupported_method" => "The provider does not train this method. Choose another method or another connection.",
        "model_not_found" => "The provider does not have this model (or cannot fine-tune it). Choose one of the models the form lists.",
        "cancelled_before_submission" => "The job was cancelled before it was sent; nothing was created at the provider.",
        _ when param is { Length: > 0 } => $"The provider refused the value of {param}. Change it and start a new job.",
        _ => "The provider ended the job with this error. Its message says what happened; the events show what preceded it.",
    };
}

/// <param name="Active">Jobs not finished, with their time left where the step rate tells it.</param>
/// <param name="Spent">What finished jobs were billed (trained tokens × the price when created).</param>
/// <param name="Committed">What the active jobs are estimated to cost.</param>
public sealed record JobsOverview(
    IReadOnlyList<(JobView Job, TimeSpan? Remaining)> Active, IReadOnlyList<JobView> RecentModels, decimal Spent, decimal Committed, int Total);

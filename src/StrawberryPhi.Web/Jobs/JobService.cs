using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using StrawberryPhi.Core;
using StrawberryPhi.Core.Catalog;
using StrawberryPhi.Core.Validation;
using StrawberryPhi.Providers;
using StrawberryPhi.Web.Data;
using StrawberryPhi.Web.Datasets;
using StrawberryPhi.Web.Providers;
using StrawberryPhi.Web.Security;

namespace StrawberryPhi.Web.Jobs;

/// <summary>
/// Fine-tuning jobs: checked before they are sent, created idempotently (the row first, the remote job marked with
/// its id), read back from the local record (which outlives the provider's copy), and cancelled, paused or resumed.
/// </summary>
public sealed partial class JobService(
    IDbContextFactory<StudioDbContext> db, ProviderConnectionService providers, DatasetService datasets, JobSubmitter submitter,
    JobTracker tracker, TimeProvider time, StudioNotifier events, ILogger<JobService> logger)
{
    public const int MaxUserMetadata = 15;

    /// <summary>Checks a job as the form fills in: every problem by field, warnings, and the estimate so far.</summary>
    public async Task<JobCheck> CheckAsync(JobInput input, CancellationToken cancellationToken)
    {
        var problems = new List<FieldProblem>();
        var warnings = new List<Notice>();
        ProviderView provider;
        try
        {
            provider = await providers.GetAsync(input.ProviderId, cancellationToken);
        }
        catch (StudioException)
        {
            return new JobCheck([new FieldProblem("providerId", "Choose a connection.")], [], null, []);
        }
        var capabilities = ProviderCapabilities.Of(provider.Kind);
        IReadOnlyList<string> methods = capabilities.Dpo ? HyperparameterRules.Methods : ["supervised"];
        var today = DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
        var catalog = ModelCatalog.Default;

        // The model: a base the connection fine-tunes, or one of the user's fine-tunes or checkpoints on it.
        decimal? price = provider.Kind == ProviderKind.Local ? 0m : null;
        int? tokenLimit = null;
        if (string.IsNullOrWhiteSpace(input.Model))
        {
            problems.Add(new FieldProblem("model", "Choose the model to fine-tune."));
        }
        else
        {
            var choices = await RecentModelChoicesAsync(input.ProviderId, cancellationToken);
            var known = choices.FirstOrDefault(c => c.Id == input.Model);
            var baseId = known?.BaseModel ?? input.Model;
            if (catalog.Find(baseId) is { } model)
            {
                price = model.TrainingPricePer1M;
                tokenLimit = model.TrainingTokenLimit;
                foreach (var notice in FineTuneEstimator.Notices(model, catalog, today))
                {
                    if (notice.Severity == Severity.Error && notice.Code == "model_shut_down")
                    {
                        problems.Add(new FieldProblem("model", notice.Message));
                    }
                    else if (provider.Kind == ProviderKind.OpenAI || notice.Code.StartsWith("model_", StringComparison.Ordinal))
                    {
                        // A provider's end of new jobs is OpenAI's: Azure and other endpoints go on.
                        if (notice.Severity == Severity.Error)
                        {
                            problems.Add(new FieldProblem("providerId", notice.Message));
                        }
                        else
                        {
                            warnings.Add(notice);
                        }
                    }
                }
            }
            else if (known is null && provider.Kind is ProviderKind.Local)
            {
                problems.Add(new FieldProblem("model", $"The local engine has no model \"{input.Model}\"; choose one of its bases or your fine-tunes."));
            }
            if (known is { ShutDown: true })
            {
                problems.Add(new FieldProblem("model", $"{input.Model} is shut down and can no longer be fine-tuned."));
            }
        }

        // The datasets: validated, without errors the provider would reject, and of the kind the method trains on.
        var method = input.Method;
        var methodType = method?["type"] is JsonValue t && t.TryGetValue<string>(out var text) ? text : "supervised";
        problems.AddRange(HyperparameterRules.Check(method));
        if (!methods.Contains(methodType) && HyperparameterRules.Methods.Contains(methodType))
        {
            problems.Add(new FieldProblem("method.type", $"{provider.Name} does not offer {methodType} fine-tuning; it offers {string.Join(" and ", methods)}."));
        }
        var training = await DatasetProblemAsync(input.TrainingDatasetId, "trainingDatasetId", "training", methodType, problems, cancellationToken);
        if (input.ValidationDatasetId is { } validationId)
        {
            if (validationId == input.TrainingDatasetId)
            {
                problems.Add(new FieldProblem("validationDatasetId", "Validate on other examples than those trained on (split the dataset: Transform → Split)."));
            }
            await DatasetProblemAsync(validationId, "validationDatasetId", "validation", methodType, problems, cancellationToken);
        }
        if (input.Suffix is { } suffix && (suffix.Length is < 1 or > 64 || suffix.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))))
        {
            problems.Add(new FieldProblem("suffix", "A suffix has 1 to 64 letters, digits, '-' or '_' (it becomes part of the model's name)."));
        }
        if (input.Seed is < 0)
        {
            problems.Add(new FieldProblem("seed", "A seed is a whole number from 0 to 2,147,483,647."));
        }
        if (input.Metadata is { } metadata)
        {
            if (metadata.Count > MaxUserMetadata)
            {
                problems.Add(new FieldProblem("metadata", $"At most {MaxUserMetadata} metadata pairs (the provider takes 16; the studio uses one to recognise its job)."));
            }
            foreach (var (key, value) in metadata)
            {
                if (key.Length is 0 or > 64 || value.Length > 512)
                {
                    problems.Add(new FieldProblem($"metadata.{key}", "Metadata keys have 1 to 64 characters and values up to 512."));
                }
                else if (key == FineTuneJob.MarkerKey)
                {
                    problems.Add(new FieldProblem($"metadata.{key}", $"\"{key}\" is the studio's own key; choose another."));
                }
            }
        }

        JobEstimate? estimate = null;
        if (training is { Status: DatasetStatus.Ready })
        {
            var tokensPerEpoch = TokensPerEpoch(training, tokenLimit);
            var explicitEpochs = HyperparameterRules.ExplicitEpochs(method);
            var epochs = explicitEpochs ?? FineTuneEstimator.RecommendedEpochs((int)Math.Min(int.MaxValue, training.Examples));
            var billed = tokensPerEpoch * epochs;
            estimate = new JobEstimate((int)training.Examples, epochs, explicitEpochs is null, tokensPerEpoch, billed, price,
                price is { } p ? Math.Round(billed * p / 1_000_000m, 2) : null);
        }
        return new JobCheck(problems, warnings, estimate, methods);
    }

    private readonly System.Collections.Concurrent.ConcurrentDictionary<Guid, (DateTimeOffset At, IReadOnlyList<ModelChoice> Choices)> _choices = new();

    /// <summary>
    /// The connection's model choices, kept for a few seconds: the form checks on every change, and listing a
    /// provider's models on each keystroke would be slow and count against its rate limit.
    /// </summary>
    private async Task<IReadOnlyList<ModelChoice>> RecentModelChoicesAsync(Guid providerId, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (_choices.TryGetValue(providerId, out var cached) && now - cached.At < TimeSpan.FromSeconds(15))
        {
            return cached.Choices;
        }
        var choices = await ModelChoicesAsync(providerId, cancellationToken);
        _choices[providerId] = (now, choices);
        return choices;
    }

    /// <summary>Tokens of one epoch: each example billed up to the model's limit where the report knows it for that limit.</summary>
    private static long TokensPerEpoch(Dataset dataset, int? tokenLimit)
    {
        var report = dataset.ReportJson is null ? null : JsonSerializer.Deserialize<ValidationReport>(dataset.ReportJson, CoreJson.Options);
        if (report?.Estimate is { } known && (tokenLimit is null || known.TokenLimit == tokenLimit))
        {
            return known.TokensPerEpoch;
        }
        return dataset.Tokens;
    }

    private async Task<Dataset?> DatasetProblemAsync(Guid id, string field, string what, string methodType, List<FieldProblem> problems, CancellationToken cancellationToken)
    {
        if (id == Guid.Empty)
        {
            if (what == "training")
            {
                problems.Add(new FieldProblem(field, "Choose the training dataset."));
            }
            return null;
        }
        Dataset dataset;
        try
        {
            dataset = await datasets.RowAsync(id, cancellationToken);
        }
        catch (StudioException)
        {
            problems.Add(new FieldProblem(field, $"The {what} dataset does not exist (it may have been removed)."));
            return null;
        }
        if (DatasetUploadService.WhyNotUploadable(dataset.Status, dataset.Errors) is { } reason)
        {
            problems.Add(new FieldProblem(field, $"\"{dataset.Name}\": {reason} See its report: /datasets/{dataset.Id}"));
            return dataset;
        }
        var preference = dataset.Format == nameof(Core.Datasets.DatasetFormat.PreferenceJsonl);
        if (preference && methodType != "dpo")
        {
            problems.Add(new FieldProblem(field, $"\"{dataset.Name}\" holds preference pairs: they train with the DPO method."));
        }
        else if (!preference && methodType == "dpo")
        {
            problems.Add(new FieldProblem(field, $"DPO trains on preference pairs (input, preferred_output, non_preferred_output); \"{dataset.Name}\" holds chat examples."));
        }
        return dataset;
    }

    /// <summary>
    /// Creates a job: checked, stored (pending), then sent by the submitter, which uploads its datasets when they are
    /// not yet at the provider. The same <paramref name="clientRequestId"/> (a form's, or an <c>Idempotency-Key</c>) gives back the same job.
    /// </summary>
    public async Task<(JobView Job, bool Created)> CreateAsync(JobInput input, string? clientRequestId, CancellationToken cancellationToken, Guid? rerunOf = null)
    {
        if (clientRequestId is { Length: > 200 })
        {
            throw StudioException.Invalid("Idempotency-Key", "An idempotency key has at most 200 characters.");
        }
        if (clientRequestId is not null && await FindByClientRequestAsync(clientRequestId, cancellationToken) is { } existing)
        {
            return (existing, false);
        }
        var check = await CheckAsync(input, cancellationToken);
        if (check.Problems is [var first, ..])
        {
            throw StudioException.Invalid(first.Field, first.Message);
        }
        var now = time.GetUtcNow();
        var method = input.Method ?? new JsonObject { ["type"] = "supervised" };
        var row = new FineTuneJob
        {
            Id = Guid.CreateVersion7(now),
            ProviderId = input.ProviderId,
            Model = input.Model,
            TrainingDatasetId = input.TrainingDatasetId,
            ValidationDatasetId = input.ValidationDatasetId,
            MethodType = method["type"]!.GetValue<string>(),
            MethodJson = method.ToJsonString(),
            Suffix = input.Suffix,
            Seed = input.Seed,
            MetadataJson = input.Metadata is { Count: > 0 } m ? JsonSerializer.Serialize(m) : null,
            ClientRequestId = clientRequestId,
            RerunOfJobId = rerunOf,
            EstimatedBilledTokens = check.Estimate?.BilledTokens,
            EstimatedCost = check.Estimate?.Cost,
            PricePer1M = check.Estimate?.PricePer1M,
            CreatedAt = now.UtcDateTime,
        };
        await using (var context = await db.CreateDbContextAsync(cancellationToken))
        {
            context.Jobs.Add(row);
            try
            {
                await context.SaveChangesAsync(cancellationToken);
            }
            catch (DbUpdateException e) when (clientRequestId is not null && DbErrors.IsUniqueViolation(e))
            {
                // The same key arrived twice at once (a double click): the other request made the job.
                return ((await FindByClientRequestAsync(clientRequestId, cancellationToken))!, false);
            }
        }
        logger.LogInformation("Created job {JobId} on provider connection {ProviderId} ({Model})", row.Id, row.ProviderId, row.Model);
        submitter.Enqueue(row.Id);
        events.JobChanged(row.Id);
        return (await GetAsync(row.Id, cancellationToken), true);
    }

    private async Task<JobView?> FindByClientRequestAsync(string clientRequestId, CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        var id = await context.Jobs.Where(j => j.ClientRequestId == clientRequestId).Select(j => (Guid?)j.Id).FirstOrDefaultAsync(cancellationToken);
        return id is { } found ? await GetAsync(found, cancellationToken) : null;
    }

    /// <summary>Cancels a job: at the provider when it is there, else before it is sent.</summary>
    public Task<JobView> CancelAsync(Guid id, CancellationToken cancellationToken) =>
        ActAsync(id, "cancel", (client, remoteId, token) => client.CancelJobAsync(remoteId, token), cancellationToken);

    public Task<JobView> PauseAsync(Guid id, CancellationToken cancellationToken) =>
        ActAsync(id, "pause", (client, remoteId, token) => client.PauseJobAsync(remoteId, token), cancellationToken);

    public Task<JobView> ResumeAsync(Guid id, CancellationToken cancellationToken) =>
        ActAsync(id, "resume", (client, remoteId, token) => client.ResumeJobAsync(remoteId, token), cancellationToken);

    private async Task<JobView> ActAsync(Guid id, string action, Func<IProviderClient, string, CancellationToken, Task<ProviderJob>> call, CancellationToken cancellationToken)
    {
        var job = await GetAsync(id, cancellationToken);
        if (job.IsFinal)
        {
            throw new StudioException(StudioError.Conflict, $"This job has {job.Status}; it cannot {action} any more.");
        }
        if (job.RemoteId is null)
        {
            if (action != "cancel")
            {
                throw new StudioException(StudioError.Conflict, $"This job is not at the provider yet; it can be cancelled, not {action}d.");
            }
            if (await submitter.CancelPendingAsync(id, cancellationToken))
            {
                return await GetAsync(id, cancellationToken);
            }
            job = await GetAsync(id, cancellationToken); // it was sent meanwhile: cancel it there
            if (job.RemoteId is null || job.IsFinal)
            {
                return job;
            }
        }
        var client = await providers.ClientAsync(job.ProviderId, cancellationToken);
        if (action != "cancel" && !client.Capabilities.PauseResume)
        {
            throw new StudioException(StudioError.Conflict, $"{job.ProviderName} cannot pause or resume jobs.");
        }
        try
        {
            var remote = await call(client, job.RemoteId, cancellationToken);
            await tracker.ApplyAsync(id, remote, cancellationToken);
        }
        catch (ProviderException e)
        {
            throw new StudioException(StudioError.Provider, $"The provider did not {action} the job: {e.Message}");
        }
        logger.LogInformation("Asked the provider to {Action} job {JobId}", action, id);
        tracker.PollSoon(id);
        return await GetAsync(id, cancellationToken);
    }
}

using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;

namespace StrawberryPhi.Web.Jobs;

public sealed partial class JobService
{
    /// <summary>
    /// Creates the same job on another connection or base model: the same training and validation data, the
    /// hyperparameters as the provider resolved them, the method and the seed, through the idempotent creation (the
    /// same origin, connection and model give back the same re-run unless another key is given). The new job is linked
    /// to its origin; when it succeeds, its model is compared with the origin's golden outputs, if any were captured.
    /// </summary>
    public async Task<(JobView Job, bool Created)> RerunAsync(Guid originId, Guid providerId, string? model, string? clientRequestId, CancellationToken cancellationToken)
    {
        FineTuneJobSnapshot origin;
        await using (var context = await db.CreateDbContextAsync(cancellationToken))
        {
            origin = await context.Jobs.AsNoTracking().Where(j => j.Id == originId)
                .Select(j => new FineTuneJobSnapshot(j.Model, j.TrainingDatasetId, j.ValidationDatasetId, j.MethodType, j.MethodJson, j.HyperparametersJson, j.Suffix, j.Seed, j.TrainingFileId))
                .FirstOrDefaultAsync(cancellationToken) ?? throw StudioException.NotFound("The job");
            if (origin.TrainingDatasetId is not { } dataset || !await context.Datasets.AnyAsync(d => d.Id == dataset, cancellationToken))
            {
                throw new StudioException(StudioError.Conflict,
                    $"This job's training data is not held here (only the provider's file id{(origin.TrainingFileId is null ? "" : $", {origin.TrainingFileId},")} is known): add the file as a dataset first.");
            }
        }
        var hyperparameters = new JsonObject();
        var resolved = origin.HyperparametersJson is null ? null : JsonSerializer.Deserialize<Dictionary<string, string>>(origin.HyperparametersJson);
        foreach (var (name, value) in resolved ?? [])
        {
            // As resolved: numbers stay numbers; "auto" (never resolved) stays auto.
            if (value == "auto")
            {
                continue;
            }
            hyperparameters[name] = double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number)
                ? (number == Math.Floor(number) && name is "n_epochs" or "batch_size" ? JsonValue.Create((long)number) : JsonValue.Create(number))
                : JsonValue.Create(value);
        }
        if (resolved is null && origin.MethodJson is not null && JsonNode.Parse(origin.MethodJson)?[origin.MethodType]?["hyperparameters"] is JsonObject asked)
        {
            hyperparameters = (JsonObject)asked.DeepClone();
        }
        var method = new JsonObject { ["type"] = origin.MethodType, [origin.MethodType] = new JsonObject { ["hyperparameters"] = hyperparameters } };
        var input = new JobInput(providerId, string.IsNullOrWhiteSpace(model) ? origin.Model : model.Trim(), origin.TrainingDatasetId!.Value, origin.ValidationDatasetId,
            method, origin.Suffix, origin.Seed);
        return await CreateAsync(input, clientRequestId ?? $"rerun:{originId}:{providerId}:{input.Model}", cancellationToken, rerunOf: originId);
    }

    private sealed record FineTuneJobSnapshot(
        string Model, Guid? TrainingDatasetId, Guid? ValidationDatasetId, string MethodType, string? MethodJson, string? HyperparametersJson, string? Suffix, int? Seed,
        string? TrainingFileId);
}

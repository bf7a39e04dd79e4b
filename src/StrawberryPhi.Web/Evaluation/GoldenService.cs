using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.EntityFrameworkCore;
using StrawberryPhi.Core.Evaluation;
using StrawberryPhi.Web.Chat;
using StrawberryPhi.Web.Data;

namespace StrawberryPhi.Web.Evaluation;

public sealed record GoldenInput(
    [property: JsonPropertyName("providerId")] Guid ProviderId,
    [property: JsonPropertyName("model")] string? Model,
    [property: JsonPropertyName("setId")] Guid? SetId = null);

public sealed record GoldenCompareInput(
    [property: JsonPropertyName("providerId")] Guid ProviderId,
    [property: JsonPropertyName("model")] string? Model,
    [property: JsonPropertyName("graders")] IReadOnlyList<GraderSpec>? Graders = null);

public sealed record GoldenAnswer(string ItemId, string Answer);

/// <summary>Golden outputs: status follows the capture run; the answers are frozen once it has ended.</summary>
public sealed record GoldenView(
    Guid Id, Guid ProviderId, string Connection, string Model, Guid SetId, Guid CaptureRunId, string Status, DateTime CreatedAt,
    IReadOnlyList<GoldenAnswer> Answers);

/// <summary>
/// Golden outputs (issue 11): a model's answers to a set captured by an evaluation run (temperature 0, asked afresh)
/// and frozen; a candidate is later compared with them by an ordinary run whose references are those answers, so the
/// comparison needs nothing of the source model, which may be gone.
/// </summary>
public sealed class GoldenService(IDbContextFactory<StudioDbContext> db, EvalService evals, TimeProvider time)
{
    public async Task<GoldenView> CaptureAsync(GoldenInput input, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(input.Model))
        {
            throw StudioException.Invalid("model", "The model whose outputs to capture is required.");
        }
        var model = input.Model.Trim();
        var setId = input.SetId is { } given && given != Guid.Empty ? given : await ValidationSetAsync(input.ProviderId, model, cancellationToken);
        var (run, _) = await evals.CreateRunAsync(new EvalRunInput(setId,
            [new EvalModelSpec(input.ProviderId, model, new ChatParameters { Temperature = 0 })], [new GraderSpec("exact")], Fresh: true), null, cancellationToken);
        var golden = new GoldenRecord
        {
            Id = Guid.CreateVersion7(time.GetUtcNow()),
            ProviderId = input.ProviderId,
            Model = model,
            SetId = setId,
            CaptureRunId = run.Id,
            CreatedAt = time.GetUtcNow().UtcDateTime,
        };
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        context.Golden.Add(golden);
        await context.SaveChangesAsync(cancellationToken);
        return await GetAsync(golden.Id, cancellationToken);
    }

    /// <summary>
    /// Without a set, the model's own validation data (of the job that made it, or made the checkpoint) is the set:
    /// the set already made from that dataset, else one made now.
    /// </summary>
    private async Task<Guid> ValidationSetAsync(Guid providerId, string model, CancellationToken cancellationToken)
    {
        Guid? datasetId;
        Guid? existing;
        await using (var context = await db.CreateDbContextAsync(cancellationToken))
        {
            var job = await context.Jobs.AsNoTracking()
                .Where(j => j.ProviderId == providerId && (j.FineTunedModel == model || context.JobCheckpoints.Any(c => c.JobId == j.Id && c.Model == model)))
                .OrderByDescending(j => j.CreatedAt).Select(j => new { j.ValidationDatasetId, j.ValidationFileId }).FirstOrDefaultAsync(cancellationToken)
                ?? throw StudioException.Invalid("setId", $"No job of this connection made {model}, so it has no validation data here: use an evaluation set instead.");
            datasetId = job.ValidationDatasetId
                ?? throw StudioException.Invalid("setId", job.ValidationFileId is null
                    ? $"The job that made {model} had no validation file: use an evaluation set instead."
                    : $"The validation file {job.ValidationFileId} of the job that made {model} is not held here (import the job's history to bring it in, where the provider allows it): use an evaluation set instead.");
            existing = await context.EvalSets.Where(s => s.DatasetId == datasetId).OrderBy(s => s.CreatedAt).Select(s => (Guid?)s.Id).FirstOrDefaultAsync(cancellationToken);
        }
        return existing ?? (await evals.CreateSetFromDatasetAsync(datasetId.Value, null, cancellationToken)).Id;
    }

    public async Task<GoldenView> GetAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        var golden = await context.Golden.AsNoTracking().FirstOrDefaultAsync(g => g.Id == id, cancellationToken)
            ?? throw StudioException.NotFound("The golden outputs");
        var status = await context.EvalRuns.Where(r => r.Id == golden.CaptureRunId).Select(r => r.Status).FirstAsync(cancellationToken);
        var answers = await context.EvalResults.AsNoTracking().Where(r => r.RunId == golden.CaptureRunId && r.Error == null)
            .OrderBy(r => r.ItemIndex).Select(r => new GoldenAnswer(r.ItemId, r.Answer)).ToListAsync(cancellationToken);
        var connection = await context.Providers.Where(p => p.Id == golden.ProviderId).Select(p => p.Name).FirstOrDefaultAsync(cancellationToken) ?? "(removed connection)";
        return new GoldenView(golden.Id, golden.ProviderId, connection, golden.Model, golden.SetId, golden.CaptureRunId, status, golden.CreatedAt, answers);
    }

    /// <summary>
    /// Runs a candidate against the frozen answers: an evaluation run over the set whose references are the golden
    /// answers (normalized comparison of the final answers unless other graders are given, a judge among them).
    /// Its summary's <c>agreement</c> is the share that agrees, with its interval.
    /// </summary>
    public async Task<EvalRunView> CompareAsync(Guid id, GoldenCompareInput input, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(input.Model))
        {
            throw StudioException.Invalid("model", "The candidate model is required.");
        }
        var golden = await GetAsync(id, cancellationToken);
        if (golden.Status != EvalStatuses.Succeeded)
        {
            throw new StudioException(StudioError.Conflict, $"The golden outputs are not captured yet (the capture run is {golden.Status}).");
        }
        Guid setId;
        await using (var context = await db.CreateDbContextAsync(cancellationToken))
        {
            var record = await context.Golden.FirstAsync(g => g.Id == id, cancellationToken);
            if (record.ComparisonSetId is { } existing)
            {
                setId = existing;
            }
            else
            {
                // The frozen answers become references, once: every comparison grades against the same set.
                var items = await context.EvalItems.AsNoTracking().Where(i => i.SetId == record.SetId).ToDictionaryAsync(i => i.ItemId, cancellationToken);
                var lines = golden.Answers.Where(a => items.ContainsKey(a.ItemId)).Select(a => JsonSerializer.Serialize(new
                {
                    id = a.ItemId,
                    messages = JsonSerializer.Deserialize<List<EvalMessage>>(items[a.ItemId].MessagesJson, EvalService.Json)!.Select(m => new { role = m.Role, content = m.Content }),
                    reference = Answers.Final(a.Answer),
                }));
                using var content = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(string.Join("\n", lines) + "\n"));
                var set = await evals.CreateSetAsync($"Golden: {golden.Connection}/{golden.Model}", content, cancellationToken);
                record.ComparisonSetId = set.Id;
                await context.SaveChangesAsync(cancellationToken);
                setId = set.Id;
            }
        }
        var (run, _) = await evals.CreateRunAsync(new EvalRunInput(setId,
            [new EvalModelSpec(input.ProviderId, input.Model.Trim(), new ChatParameters { Temperature = 0 })],
            input.Graders is { Count: > 0 } graders ? graders : [new GraderSpec("normalized")]), null, cancellationToken, goldenId: id);
        return run;
    }
}

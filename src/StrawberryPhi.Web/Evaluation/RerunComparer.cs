using Microsoft.EntityFrameworkCore;
using StrawberryPhi.Web.Data;

namespace StrawberryPhi.Web.Evaluation;

/// <summary>
/// When a re-run succeeds, its model is compared with the golden outputs captured from its origin's model (the
/// newest capture that succeeded), once: the comparison is an evaluation run linked to those golden outputs.
/// </summary>
public sealed class RerunComparer(IDbContextFactory<StudioDbContext> db, GoldenService golden, ILogger<RerunComparer> logger)
{
    public async Task JobEndedAsync(Guid jobId, CancellationToken cancellationToken)
    {
        try
        {
            await using var context = await db.CreateDbContextAsync(cancellationToken);
            var job = await context.Jobs.AsNoTracking().Where(j => j.Id == jobId)
                .Select(j => new { j.Status, j.RerunOfJobId, j.ProviderId, j.FineTunedModel }).FirstOrDefaultAsync(cancellationToken);
            if (job is not { Status: JobStatuses.Succeeded, RerunOfJobId: { } originId, FineTunedModel: { } model })
            {
                return;
            }
            var origin = await context.Jobs.AsNoTracking().Where(j => j.Id == originId).Select(j => new { j.ProviderId, j.FineTunedModel }).FirstOrDefaultAsync(cancellationToken);
            if (origin?.FineTunedModel is null)
            {
                return;
            }
            var capture = await (from g in context.Golden
                                 join r in context.EvalRuns on g.CaptureRunId equals r.Id
                                 where g.ProviderId == origin.ProviderId && g.Model == origin.FineTunedModel && r.Status == EvalStatuses.Succeeded
                                 orderby g.CreatedAt descending
                                 select g.Id).FirstOrDefaultAsync(cancellationToken);
            if (capture == Guid.Empty)
            {
                return;
            }
            // Once per re-run: a second report of the same ending finds the comparison already there.
            var specs = await context.EvalRuns.AsNoTracking().Where(r => r.GoldenId == capture).Select(r => r.ModelsJson).ToListAsync(cancellationToken);
            if (specs.SelectMany(s => System.Text.Json.JsonSerializer.Deserialize<List<EvalModelSpec>>(s, EvalService.Json) ?? [])
                .Any(m => m.ProviderId == job.ProviderId && m.Model == model))
            {
                return;
            }
            var run = await golden.CompareAsync(capture, new GoldenCompareInput(job.ProviderId, model), cancellationToken);
            logger.LogInformation("Re-run {JobId} ({Model}) is being compared with the golden outputs {GoldenId} in run {RunId}", jobId, model, capture, run.Id);
        }
        catch (Exception e) when (e is StudioException or DbUpdateException)
        {
            logger.LogWarning("The re-run {JobId} could not be compared with its origin's golden outputs: {Reason}", jobId, e.Message);
        }
    }
}

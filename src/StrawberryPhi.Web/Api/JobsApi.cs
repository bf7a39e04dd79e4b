using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using StrawberryPhi.Web.Jobs;

namespace StrawberryPhi.Web.Api;

/// <summary>/api/jobs: fine-tuning jobs on any connection, from the studio's own record (it outlives the provider's).</summary>
internal static class JobsApi
{
    public static void MapJobsApi(this RouteGroupBuilder api)
    {
        var group = api.MapGroup("/jobs").WithTags("Jobs");
        group.MapPost("/", Create).Named("CreateJob", 400, 404);
        group.MapPost("/check", Check).Named("CheckJob", 400);
        group.MapGet("/", List).Named("ListJobs", 400);
        group.MapGet("/{id:guid}", Get).Named("GetJob", 404);
        group.MapGet("/{id:guid}/events", Events).Named("ListJobEvents", 404);
        group.MapGet("/{id:guid}/metrics", Metrics).Named("ListJobMetrics", 404);
        group.MapGet("/{id:guid}/metrics.csv", MetricsCsv).Named("GetJobMetricsCsv", 404);
        group.MapGet("/{id:guid}/checkpoints", Checkpoints).Named("ListJobCheckpoints", 404);
        group.MapGet("/{id:guid}/result-files", ResultFiles).Named("ListJobResultFiles", 404);
        group.MapGet("/{id:guid}/result-files/{fileId}", ResultFile).Named("GetJobResultFile", 404);
        group.MapGet("/{id:guid}/record", Record).Named("GetJobRecord", 404);
        group.MapPost("/{id:guid}/rerun", Rerun).Named("RerunJob", 400, 404, 409);
        group.MapPost("/{id:guid}/cancel", Cancel).Named("CancelJob", 404, 409, 502);
        group.MapPost("/{id:guid}/pause", Pause).Named("PauseJob", 404, 409, 502);
        group.MapPost("/{id:guid}/resume", Resume).Named("ResumeJob", 404, 409, 502);
        api.MapGet("/inventory", async (InventoryService inventory, CancellationToken cancellationToken) =>
            TypedResults.Ok(await inventory.GetAsync(askProviders: true, cancellationToken))).WithTags("Jobs").Named("GetInventory");
        api.MapGet("/providers/{id:guid}/fine-tunable-models", Models).WithTags("Jobs").Named("ListJobModelChoices", 404, 502);
    }

    /// <summary>201 with the new job; 200 with the existing one when the same <c>Idempotency-Key</c> was sent before.</summary>
    private static async Task<Results<Created<JobView>, Ok<JobView>>> Create(
        JobInput input, [FromHeader(Name = "Idempotency-Key")] string? idempotencyKey, JobService jobs, CancellationToken cancellationToken)
    {
        var (job, created) = await jobs.CreateAsync(input, idempotencyKey, cancellationToken);
        return created ? TypedResults.Created($"/api/jobs/{job.Id}", job) : TypedResults.Ok(job);
    }

    public sealed record RerunInput(Guid ProviderId, string? Model);

    /// <summary>201 with the re-run; 200 with the existing one for the same origin, connection and model (or Idempotency-Key).</summary>
    private static async Task<Results<Created<JobView>, Ok<JobView>>> Rerun(
        Guid id, RerunInput input, [FromHeader(Name = "Idempotency-Key")] string? idempotencyKey, JobService jobs, CancellationToken cancellationToken)
    {
        var (job, created) = await jobs.RerunAsync(id, input.ProviderId, input.Model, idempotencyKey, cancellationToken);
        return created ? TypedResults.Created($"/api/jobs/{job.Id}", job) : TypedResults.Ok(job);
    }

    /// <summary>What the job would be, without creating it: problems per field, warnings, the estimate.</summary>
    private static async Task<Ok<JobCheck>> Check(JobInput input, JobService jobs, CancellationToken cancellationToken) =>
        TypedResults.Ok(await jobs.CheckAsync(input, cancellationToken));

    private static async Task<Ok<JobPage>> List(
        JobService jobs, CancellationToken cancellationToken, string? status = null, Guid? providerId = null, string? search = null, string? origin = null,
        int skip = 0, int take = 50) =>
        TypedResults.Ok(await jobs.ListAsync(new JobQuery(status, providerId, search, origin, skip, take), cancellationToken));

    private static async Task<Ok<JobView>> Get(Guid id, JobService jobs, CancellationToken cancellationToken) =>
        TypedResults.Ok(await jobs.GetAsync(id, cancellationToken));

    private static async Task<Ok<JobEventPage>> Events(Guid id, JobService jobs, CancellationToken cancellationToken, string? level = null, int skip = 0, int take = 100) =>
        TypedResults.Ok(await jobs.EventsAsync(id, level, skip, take, cancellationToken));

    private static async Task<Ok<IReadOnlyList<MetricPointView>>> Metrics(Guid id, JobService jobs, CancellationToken cancellationToken) =>
        TypedResults.Ok(await jobs.MetricsAsync(id, cancellationToken));

    private static async Task<FileContentHttpResult> MetricsCsv(Guid id, JobService jobs, CancellationToken cancellationToken) =>
        TypedResults.File(System.Text.Encoding.UTF8.GetBytes(await jobs.MetricsCsvAsync(id, cancellationToken)), "text/csv", $"job-{id}-metrics.csv");

    private static async Task<Ok<IReadOnlyList<CheckpointView>>> Checkpoints(Guid id, JobService jobs, CancellationToken cancellationToken) =>
        TypedResults.Ok(await jobs.CheckpointsAsync(id, cancellationToken));

    private static async Task<Ok<IReadOnlyList<ResultFileView>>> ResultFiles(Guid id, JobService jobs, CancellationToken cancellationToken) =>
        TypedResults.Ok(await jobs.ResultFilesAsync(id, withContent: false, cancellationToken));

    private static async Task<Results<FileContentHttpResult, ProblemHttpResult>> ResultFile(Guid id, string fileId, JobService jobs, CancellationToken cancellationToken) =>
        await jobs.ResultFileAsync(id, fileId, cancellationToken) is { } file
            ? TypedResults.File(file.Content, "text/csv", file.FileName)
            : TypedResults.Problem(statusCode: 404, title: "Not found", detail: $"This job has no downloaded result file {fileId}.");

    /// <summary>The whole record; <c>?download=true</c> sends it as a file (what the page's Export uses).</summary>
    private static async Task<Results<Ok<JobRecord>, FileContentHttpResult>> Record(Guid id, JobService jobs, CancellationToken cancellationToken, bool download = false)
    {
        var record = await jobs.RecordAsync(id, cancellationToken);
        return download
            ? TypedResults.File(System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(record, RecordJson), "application/json", $"job-{id}.json")
            : TypedResults.Ok(record);
    }

    private static readonly System.Text.Json.JsonSerializerOptions RecordJson = new(System.Text.Json.JsonSerializerDefaults.Web) { WriteIndented = true };

    private static async Task<Ok<JobView>> Cancel(Guid id, JobService jobs, CancellationToken cancellationToken) =>
        TypedResults.Ok(await jobs.CancelAsync(id, cancellationToken));

    private static async Task<Ok<JobView>> Pause(Guid id, JobService jobs, CancellationToken cancellationToken) =>
        TypedResults.Ok(await jobs.PauseAsync(id, cancellationToken));

    private static async Task<Ok<JobView>> Resume(Guid id, JobService jobs, CancellationToken cancellationToken) =>
        TypedResults.Ok(await jobs.ResumeAsync(id, cancellationToken));

    private static async Task<Ok<IReadOnlyList<ModelChoice>>> Models(Guid id, JobService jobs, CancellationToken cancellationToken) =>
        TypedResults.Ok(await jobs.ModelChoicesAsync(id, cancellationToken));
}

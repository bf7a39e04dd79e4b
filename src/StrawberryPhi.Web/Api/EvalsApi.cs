using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;
using StrawberryPhi.Web.Chat;
using StrawberryPhi.Web.Evaluation;

namespace StrawberryPhi.Web.Api;

/// <summary>/api/evals: evaluation sets (uploaded JSONL or from a dataset) and runs over any connected models.</summary>
internal static class EvalsApi
{
    /// <summary>An evaluation set file is sent to models item by item: 64 MB is far beyond a useful one.</summary>
    private const long MaxSetBytes = 64L * 1024 * 1024;

    public sealed record SetFromDataset([property: JsonPropertyName("datasetId")] Guid? DatasetId, [property: JsonPropertyName("name")] string? Name);

    public static void MapEvalsApi(this RouteGroupBuilder api)
    {
        var group = api.MapGroup("/evals").WithTags("Evaluations");
        group.MapPost("/sets", CreateSet).Accepts<IFormFile>("multipart/form-data", "application/json").DisableAntiforgery()
            .Named("CreateEvalSet", 400, 404, 413);
        group.MapGet("/sets", async (EvalService evals, CancellationToken ct) => TypedResults.Ok(await evals.ListSetsAsync(ct))).Named("ListEvalSets");
        group.MapGet("/sets/{id:guid}", async (Guid id, EvalService evals, CancellationToken ct) => TypedResults.Ok(await evals.GetSetAsync(id, ct))).Named("GetEvalSet", 404);
        group.MapGet("/sets/{id:guid}/items", async (Guid id, EvalService evals, CancellationToken ct, int skip = 0, int take = 100) =>
            TypedResults.Ok(await evals.ItemsAsync(id, skip, take, ct))).Named("ListEvalItems", 404);
        group.MapDelete("/sets/{id:guid}", async (Guid id, EvalService evals, CancellationToken ct) =>
        {
            await evals.DeleteSetAsync(id, ct);
            return TypedResults.NoContent();
        }).Named("DeleteEvalSet", 404, 409);

        group.MapPost("/runs", CreateRun).Named("CreateEvalRun", 400);
        group.MapGet("/runs", async (EvalService evals, CancellationToken ct, Guid? setId = null) => TypedResults.Ok(await evals.ListRunsAsync(setId, ct))).Named("ListEvalRuns");
        group.MapGet("/runs/{id:guid}", async (Guid id, EvalService evals, CancellationToken ct) => TypedResults.Ok(await evals.GetRunAsync(id, ct))).Named("GetEvalRun", 404);
        group.MapGet("/runs/{id:guid}/results", Results).Named("GetEvalResults", 400, 404);
        group.MapPost("/runs/{id:guid}/cancel", async (Guid id, EvalService evals, CancellationToken ct) => TypedResults.Ok(await evals.CancelRunAsync(id, ct))).Named("CancelEvalRun", 404);
        group.MapDelete("/runs/{id:guid}", async (Guid id, EvalService evals, CancellationToken ct) =>
        {
            await evals.DeleteRunAsync(id, ct);
            return TypedResults.NoContent();
        }).Named("DeleteEvalRun", 404);
        var golden = api.MapGroup("/golden").WithTags("Evaluations");
        golden.MapPost("/", async (GoldenInput input, GoldenService service, CancellationToken ct) =>
        {
            var created = await service.CaptureAsync(input, ct);
            return TypedResults.Created($"/api/golden/{created.Id}", created);
        }).Named("CaptureGolden", 400);
        golden.MapGet("/{id:guid}", async (Guid id, GoldenService service, CancellationToken ct) => TypedResults.Ok(await service.GetAsync(id, ct))).Named("GetGolden", 404);
        golden.MapPost("/{id:guid}/compare", async (Guid id, GoldenCompareInput input, GoldenService service, CancellationToken ct) =>
        {
            var run = await service.CompareAsync(id, input, ct);
            return TypedResults.Created($"/api/evals/runs/{run.Id}", run);
        }).Named("CompareWithGolden", 400, 404, 409);
        group.MapGet("/runs/{id:guid}/compare/{otherId:guid}", async (Guid id, Guid otherId, EvalService evals, CancellationToken ct) =>
            TypedResults.Ok(await evals.CompareRunsAsync(id, otherId, ct))).Named("CompareEvalRuns", 404);
    }

    /// <summary>Multipart JSONL (a <c>file</c> field, an optional <c>name</c> field), or JSON <c>{"datasetId": …}</c>.</summary>
    private static async Task<Results<Created<EvalSetView>, ProblemHttpResult>> CreateSet(HttpContext http, EvalService evals, CancellationToken cancellationToken)
    {
        var request = http.Request;
        if (request.HasJsonContentType())
        {
            var body = await request.ReadFromJsonAsync<SetFromDataset>(cancellationToken);
            if (body?.DatasetId is not { } datasetId)
            {
                throw StudioException.Invalid("datasetId", "Send {\"datasetId\": …} to make a set from a dataset, or the JSONL file as multipart/form-data.");
            }
            var fromDataset = await evals.CreateSetFromDatasetAsync(datasetId, body.Name, cancellationToken);
            return TypedResults.Created($"/api/evals/sets/{fromDataset.Id}", fromDataset);
        }
        if (request.ContentLength is > MaxSetBytes + 64 * 1024)
        {
            return TypedResults.Problem($"An evaluation set file is at most {MaxSetBytes / 1024 / 1024} MB.", statusCode: StatusCodes.Status413PayloadTooLarge, title: "Too large");
        }
        if (MultipartBoundary.Of(request) is not { } boundary)
        {
            return TypedResults.Problem("Send the JSONL file as multipart/form-data (curl -F file=@set.jsonl), or JSON {\"datasetId\": …}.", statusCode: StatusCodes.Status400BadRequest, title: "Invalid input");
        }
        var reader = new MultipartReader(boundary, request.Body);
        string? name = null;
        while (await reader.ReadNextSectionAsync(cancellationToken) is { } section)
        {
            if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition))
            {
                continue;
            }
            if (disposition.IsFileDisposition())
            {
                var fileName = HeaderUtilities.RemoveQuotes(disposition.FileNameStar.HasValue ? disposition.FileNameStar : disposition.FileName).Value ?? "set.jsonl";
                // Read whole (bounded) so that a bad line refuses the set before anything is stored.
                using var buffer = new MemoryStream();
                await section.Body.CopyToAsync(buffer, cancellationToken);
                if (buffer.Length > MaxSetBytes)
                {
                    return TypedResults.Problem($"An evaluation set file is at most {MaxSetBytes / 1024 / 1024} MB.", statusCode: StatusCodes.Status413PayloadTooLarge, title: "Too large");
                }
                buffer.Position = 0;
                var created = await evals.CreateSetAsync(name ?? Path.GetFileNameWithoutExtension(fileName), buffer, cancellationToken);
                return TypedResults.Created($"/api/evals/sets/{created.Id}", created);
            }
            if (HeaderUtilities.RemoveQuotes(disposition.Name).Value == "name")
            {
                name = await new StreamReader(section.Body).ReadToEndAsync(cancellationToken);
            }
        }
        return TypedResults.Problem("The form has no file field.", statusCode: StatusCodes.Status400BadRequest, title: "Invalid input");
    }

    /// <summary>201 with the queued run; 200 with the existing one when the same <c>Idempotency-Key</c> was sent before.</summary>
    private static async Task<Results<Created<EvalRunView>, Ok<EvalRunView>>> CreateRun(
        EvalRunInput input, [FromHeader(Name = "Idempotency-Key")] string? idempotencyKey, EvalService evals, CancellationToken cancellationToken)
    {
        var (run, created) = await evals.CreateRunAsync(input, idempotencyKey, cancellationToken);
        return created ? TypedResults.Created($"/api/evals/runs/{run.Id}", run) : TypedResults.Ok(run);
    }

    /// <summary>Without <c>format</c>: a page of rows (filters: model, pass, transition). With it: the whole export as a download.</summary>
    private static async Task<IResult> Results(
        Guid id, EvalService evals, CancellationToken cancellationToken, string? format = null, int? model = null, bool? pass = null,
        string? transition = null, int skip = 0, int take = 100)
    {
        if (format is null)
        {
            return TypedResults.Ok(await evals.ResultsAsync(id, model, pass, transition, skip, take, cancellationToken));
        }
        var (content, contentType, fileName) = await evals.ExportAsync(id, format, cancellationToken);
        return TypedResults.File(content, contentType, fileName);
    }
}

/// <summary>/api/playground: saved sessions (export as CSV or JSON) and named parameter presets.</summary>
internal static class PlaygroundApi
{
    public sealed record SessionInput(string? Title, PlaygroundState State);

    public sealed record PresetInput(string Name, ChatParameters Parameters);

    public static void MapPlaygroundApi(this RouteGroupBuilder api)
    {
        var group = api.MapGroup("/playground").WithTags("Playground");
        group.MapGet("/sessions", async (PlaygroundService playground, CancellationToken ct) => TypedResults.Ok(await playground.ListAsync(ct))).Named("ListPlaygroundSessions");
        group.MapPost("/sessions", async (SessionInput input, PlaygroundService playground, CancellationToken ct) =>
        {
            var session = await playground.SaveAsync(null, input.Title, input.State ?? PlaygroundState.Empty, ct);
            return TypedResults.Created($"/api/playground/sessions/{session.Id}", session);
        }).Named("CreatePlaygroundSession", 400);
        group.MapGet("/sessions/{id:guid}", async (Guid id, PlaygroundService playground, CancellationToken ct) => TypedResults.Ok(await playground.GetAsync(id, ct)))
            .Named("GetPlaygroundSession", 404);
        group.MapPut("/sessions/{id:guid}", async (Guid id, SessionInput input, PlaygroundService playground, CancellationToken ct) =>
            TypedResults.Ok(await playground.SaveAsync(id, input.Title, input.State ?? PlaygroundState.Empty, ct))).Named("SavePlaygroundSession", 400, 404);
        group.MapDelete("/sessions/{id:guid}", async (Guid id, PlaygroundService playground, CancellationToken ct) =>
        {
            await playground.DeleteAsync(id, ct);
            return TypedResults.NoContent();
        }).Named("DeletePlaygroundSession", 404);
        group.MapGet("/sessions/{id:guid}/export", async (Guid id, PlaygroundService playground, CancellationToken ct, string format = "json") =>
        {
            var (content, contentType, fileName) = await playground.ExportAsync(id, format, ct);
            return TypedResults.File(content, contentType, fileName);
        }).Named("ExportPlaygroundSession", 400, 404);
        group.MapGet("/presets", async (PlaygroundService playground, CancellationToken ct) => TypedResults.Ok(await playground.PresetsAsync(ct))).Named("ListChatPresets");
        group.MapPost("/presets", async (PresetInput input, PlaygroundService playground, CancellationToken ct) =>
            TypedResults.Ok(await playground.SavePresetAsync(input.Name, input.Parameters ?? new(), ct))).Named("SaveChatPreset", 400);
        group.MapDelete("/presets/{id:guid}", async (Guid id, PlaygroundService playground, CancellationToken ct) =>
        {
            await playground.DeletePresetAsync(id, ct);
            return TypedResults.NoContent();
        }).Named("DeleteChatPreset", 404);
    }
}

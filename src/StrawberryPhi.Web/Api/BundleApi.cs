using Microsoft.AspNetCore.Http.HttpResults;
using StrawberryPhi.Web.Bundle;

namespace StrawberryPhi.Web.Api;

/// <summary>The migration bundle: the studio's whole record as one zip, and that zip brought into another studio.</summary>
internal static class BundleApi
{
    public static void MapBundleApi(this RouteGroupBuilder api)
    {
        var group = api.MapGroup("/bundle").WithTags("Bundle");
        group.MapGet("/", Export).Named("ExportBundle", 409)
            .WithDescription("One zip: datasets with their content, jobs with events, metric points, checkpoints and result files, evaluation sets, runs and golden outputs, playground sessions and presets, connections without keys, and manifest.json with every file's SHA-256.");
        group.MapPost("/", Import).Accepts<IFormFile>("multipart/form-data").DisableAntiforgery().Named("ImportBundle", 400)
            .WithDescription("Multipart upload of a bundle (field file). Checked whole before anything is stored; what is here already is left as it is, so importing again adds nothing.");
    }

    private static async Task<FileStreamHttpResult> Export(BundleService bundles, TimeProvider time, CancellationToken cancellationToken)
    {
        var (path, _) = await bundles.ExportAsync(cancellationToken);
        // The staging file goes when the answer is sent (or the client goes).
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.None, 1 << 16, FileOptions.Asynchronous | FileOptions.DeleteOnClose);
        return TypedResults.File(stream, "application/zip", $"strawberry-phi-bundle-{time.GetUtcNow():yyyyMMdd-HHmmss}.zip");
    }

    private static async Task<Results<Ok<BundleImportResult>, ProblemHttpResult>> Import(HttpContext http, BundleService bundles, CancellationToken cancellationToken)
    {
        if (MultipartBoundary.Of(http.Request) is not { } boundary)
        {
            return TypedResults.Problem("Send the bundle as multipart/form-data with one file field (curl -F file=@bundle.zip).", statusCode: StatusCodes.Status400BadRequest, title: "Invalid input");
        }
        // A bundle holds every dataset: larger than one dataset upload may be (no limit but the disk).
        if (await MultipartBoundary.FirstFileAsync(http, boundary, cancellationToken) is { } file)
        {
            return TypedResults.Ok(await bundles.ImportAsync(file.Body, cancellationToken));
        }
        return TypedResults.Problem("The form has no file field.", statusCode: StatusCodes.Status400BadRequest, title: "Invalid input");
    }
}

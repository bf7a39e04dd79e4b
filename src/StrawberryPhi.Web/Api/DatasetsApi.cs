using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;
using StrawberryPhi.Core.Datasets;
using StrawberryPhi.Core.Validation;
using StrawberryPhi.Web.Datasets;

namespace StrawberryPhi.Web.Api;

public sealed record UploadRequest(Guid ProviderId);

public sealed record RenameRequest(string Name);

/// <summary>/api/datasets: upload (streamed), reports, issues, preview, derived datasets, uploads to providers.</summary>
internal static class DatasetsApi
{
    public static void MapDatasetsApi(this RouteGroupBuilder api)
    {
        var group = api.MapGroup("/datasets").WithTags("Datasets");
        group.MapGet("/", List).Named("ListDatasets");
        group.MapPost("/", Upload).Accepts<IFormFile>("multipart/form-data").DisableAntiforgery().Named("UploadDataset", 400, 413)
            .WithDescription("Multipart upload with one file field, streamed to disk. Larger than Studio:MaxUploadBytes is refused with 413 before the body is read when Content-Length says so.");
        group.MapGet("/{id:guid}", Get).Named("GetDataset", 404);
        group.MapPatch("/{id:guid}", Rename).Named("RenameDataset", 400, 404);
        group.MapDelete("/{id:guid}", Delete).Named("DeleteDataset", 404);
        group.MapGet("/{id:guid}/report", Report).Named("GetDatasetReport", 404);
        group.MapGet("/{id:guid}/issues", Issues).Named("ListDatasetIssues", 400, 404);
        group.MapGet("/{id:guid}/examples", Examples).Named("ListDatasetExamples", 400, 404, 409);
        group.MapGet("/{id:guid}/examples/{line:long}", Example).Named("GetDatasetExample", 400, 404, 409);
        group.MapGet("/{id:guid}/content", Content).Named("DownloadDataset", 404, 409);
        group.MapPost("/{id:guid}/validate", Validate).Named("ValidateDataset", 400, 404, 409);
        group.MapPost("/{id:guid}/import", Import).Named("ImportDataset", 400, 404, 409);
        group.MapPost("/{id:guid}/import/preview", ImportPreview).Named("PreviewDatasetImport", 404, 409);
        group.MapPost("/{id:guid}/clean", Clean).Named("CleanDataset", 404, 409)
            .WithDescription("A new dataset with only the examples without errors; its originDetail lists the dropped lines and their errors.");
        group.MapPost("/{id:guid}/convert", Convert).Named("ConvertDataset", 400, 404, 409);
        group.MapPost("/{id:guid}/split", Split).Named("SplitDataset", 400, 404, 409);
        group.MapPost("/{id:guid}/dedupe", Dedupe).Named("DedupeDataset", 404, 409);
        group.MapGet("/{id:guid}/local-context", LocalContext).Named("GetDatasetLocalContextFit", 404, 409)
            .WithDescription("For each local engine base: its context, and how many examples are longer (their prompts are cut when they train) or keep nothing to train on.");
        group.MapGet("/{id:guid}/uploads", Uploads).Named("ListDatasetUploads", 404);
        group.MapPost("/{id:guid}/uploads", StartUpload).Named("UploadDatasetToProvider", 400, 404, 409)
            .WithDescription("202 when an upload starts; 200 with the provider's file id when the dataset is already there.");
    }

    private static async Task<Ok<IReadOnlyList<DatasetSummary>>> List(DatasetService datasets, CancellationToken cancellationToken) =>
        TypedResults.Ok(await datasets.ListAsync(cancellationToken));

    private static async Task<Results<Created<DatasetSummary>, ProblemHttpResult>> Upload(HttpContext http, DatasetService datasets, CancellationToken cancellationToken)
    {
        var request = http.Request;
        // Refused before the body is read: multipart framing adds a little to the file's size.
        if (request.ContentLength is { } length && length > datasets.MaxUploadBytes + (64 * 1024))
        {
            return TypedResults.Problem(
                $"The upload is {ByteSize.Format(length)}; the limit is {ByteSize.Format(datasets.MaxUploadBytes)} (setting Studio:MaxUploadBytes).",
                statusCode: StatusCodes.Status413PayloadTooLarge, title: "Too large");
        }
        if (MultipartBoundary.Of(request) is not { } boundary)
        {
            return TypedResults.Problem("Send the file as multipart/form-data with one file field (curl -F file=@data.jsonl).", statusCode: StatusCodes.Status400BadRequest, title: "Invalid input");
        }
        // The size is enforced while streaming, whatever Kestrel's default body limit.
        if (await MultipartBoundary.FirstFileAsync(http, boundary, cancellationToken) is not { } file)
        {
            return TypedResults.Problem("The form has no file field.", statusCode: StatusCodes.Status400BadRequest, title: "Invalid input");
        }
        var created = await datasets.CreateFromUploadAsync(file.Body, file.FileName ?? "dataset.jsonl", cancellationToken);
        return TypedResults.Created($"/api/datasets/{created.Id}", created);
    }

    private static async Task<Ok<DatasetDetail>> Get(Guid id, DatasetService datasets, CancellationToken cancellationToken) =>
        TypedResults.Ok(await datasets.GetAsync(id, cancellationToken));

    private static async Task<Ok<DatasetSummary>> Rename(Guid id, RenameRequest request, DatasetService datasets, CancellationToken cancellationToken) =>
        TypedResults.Ok(await datasets.RenameAsync(id, request.Name ?? "", cancellationToken));

    private static async Task<NoContent> Delete(Guid id, DatasetService datasets, CancellationToken cancellationToken)
    {
        await datasets.DeleteAsync(id, cancellationToken);
        return TypedResults.NoContent();
    }

    private static async Task<Results<Ok<ValidationReport>, NotFound<string>>> Report(Guid id, DatasetService datasets, CancellationToken cancellationToken) =>
        (await datasets.GetAsync(id, cancellationToken)).Report is { } report
            ? TypedResults.Ok(report)
            : TypedResults.NotFound("This dataset has no validation report yet.");

    private static async Task<Ok<IssuePage>> Issues(
        Guid id, DatasetService datasets, CancellationToken cancellationToken, string? severity = null, string? code = null, string? text = null, int skip = 0, int take = 100) =>
        TypedResults.Ok(await datasets.IssuesAsync(id, ParseSeverity(severity), code, text, skip, take, cancellationToken));

    /// <summary>The severity as reports write it ("error"), in any case.</summary>
    private static Severity? ParseSeverity(string? severity) =>
        severity is null ? null
        : Enum.TryParse<Severity>(severity, ignoreCase: true, out var parsed) && Enum.IsDefined(parsed) && !int.TryParse(severity, out _) ? parsed
        : throw StudioException.Invalid("severity", $"\"severity\" must be one of info, warning, error; \"{severity}\" is not.");

    private static async Task<Ok<ExamplePage>> Examples(Guid id, DatasetService datasets, CancellationToken cancellationToken, int page = 0, int pageSize = 20, string? search = null) =>
        TypedResults.Ok(await datasets.ExamplesAsync(id, page, pageSize, search, cancellationToken));

    private static async Task<Ok<ExampleView>> Example(Guid id, long line, DatasetService datasets, CancellationToken cancellationToken) =>
        TypedResults.Ok(await datasets.ExampleAsync(id, line, cancellationToken));

    private static async Task<FileStreamHttpResult> Content(Guid id, DatasetService datasets, CancellationToken cancellationToken)
    {
        var (content, fileName, _, _) = await datasets.OpenAsync(id, cancellationToken);
        return TypedResults.File(content, "application/octet-stream", fileName);
    }

    private static async Task<Accepted<DatasetSummary>> Validate(Guid id, ValidateRequest request, DatasetService datasets, CancellationToken cancellationToken) =>
        TypedResults.Accepted($"/api/datasets/{id}", await datasets.RevalidateAsync(id, request, cancellationToken));

    private static async Task<Created<DatasetSummary>> Import(Guid id, ImportRequest request, DatasetService datasets, CancellationToken cancellationToken) =>
        CreatedAt(await datasets.ImportAsync(id, request, cancellationToken));

    private static async Task<Ok<ImportPreview>> ImportPreview(Guid id, ImportRequest request, DatasetService datasets, CancellationToken cancellationToken, int count = 3) =>
        TypedResults.Ok(await datasets.ImportPreviewAsync(id, request, count, cancellationToken));

    private static async Task<Created<DatasetSummary>> Clean(Guid id, DatasetService datasets, CancellationToken cancellationToken) =>
        CreatedAt(await datasets.CleanAsync(id, cancellationToken));

    private static async Task<Created<DatasetSummary>> Convert(Guid id, ConvertRequest request, DatasetService datasets, CancellationToken cancellationToken) =>
        CreatedAt(await datasets.ConvertAsync(id, request, cancellationToken));

    private static async Task<Ok<IReadOnlyList<DatasetSummary>>> Split(Guid id, SplitRequest request, DatasetService datasets, CancellationToken cancellationToken) =>
        TypedResults.Ok(await datasets.SplitAsync(id, request, cancellationToken));

    private static async Task<Created<DatasetSummary>> Dedupe(Guid id, DatasetService datasets, CancellationToken cancellationToken) =>
        CreatedAt(await datasets.DedupeAsync(id, cancellationToken));

    private static async Task<Ok<IReadOnlyList<StrawberryPhi.LocalEngine.Engine.ContextFit>>> LocalContext(Guid id, DatasetService datasets, CancellationToken cancellationToken) =>
        TypedResults.Ok(await datasets.LocalContextFitAsync(id, cancellationToken));

    private static async Task<Ok<IReadOnlyList<UploadView>>> Uploads(Guid id, DatasetUploadService uploads, CancellationToken cancellationToken) =>
        TypedResults.Ok(await uploads.ListAsync(id, cancellationToken));

    /// <summary>202 when an upload starts; 200 with the provider's file id when the dataset is already there (nothing is sent again).</summary>
    private static async Task<Results<Ok<UploadView>, Accepted<UploadView>>> StartUpload(Guid id, UploadRequest request, DatasetUploadService uploads, CancellationToken cancellationToken)
    {
        var upload = await uploads.StartAsync(id, request.ProviderId, cancellationToken);
        return upload.Status == Data.UploadStatus.Uploaded ? TypedResults.Ok(upload) : TypedResults.Accepted($"/api/datasets/{id}/uploads", upload);
    }

    private static Created<DatasetSummary> CreatedAt(DatasetSummary created) => TypedResults.Created($"/api/datasets/{created.Id}", created);
}

/// <summary>The boundary of a multipart/form-data request, or null when the request is not one.</summary>
internal static class MultipartBoundary
{
    public static string? Of(HttpRequest request) =>
        MediaTypeHeaderValue.TryParse(request.ContentType, out var type) && type.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase)
        && HeaderUtilities.RemoveQuotes(type.Boundary).Value is { Length: > 0 } boundary ? boundary : null;

    /// <summary>
    /// The form's first file field, streamed (the body limit lifted: the caller bounds what it reads), or null when the
    /// form has none.
    /// </summary>
    public static async Task<(Stream Body, string? FileName)?> FirstFileAsync(HttpContext http, string boundary, CancellationToken cancellationToken)
    {
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = null;
        }
        var reader = new MultipartReader(boundary, http.Request.Body);
        while (await reader.ReadNextSectionAsync(cancellationToken) is { } section)
        {
            if (ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition) && disposition.IsFileDisposition())
            {
                return (section.Body, HeaderUtilities.RemoveQuotes(disposition.FileNameStar.HasValue ? disposition.FileNameStar : disposition.FileName).Value);
            }
        }
        return null;
    }
}

using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using StrawberryPhi.LocalEngine.Engine;

namespace StrawberryPhi.LocalEngine.Api;

/// <summary>
/// OpenAI's Uploads API (files larger than <c>POST /files</c> takes, sent in parts): create, add parts, complete
/// (parts joined in the order given, checked against the declared size), cancel. The records live in the store.
/// </summary>
internal static class UploadsApi
{
    public const long MaxPartBytes = 64L * 1024 * 1024;
    public const long MaxUploadBytes = 8L * 1024 * 1024 * 1024;
    private static JsonSerializerOptions Json => EngineApi.Json;

    public static void Map(RouteGroupBuilder group)
    {
        group.MapPost("/uploads", Create);
        group.MapPost("/uploads/{id}/parts", AddPart);
        group.MapPost("/uploads/{id}/complete", Complete);
        group.MapPost("/uploads/{id}/cancel", (string id, LocalEngine engine) =>
            Pending(engine, id) is { } upload ? Results.Json(UploadJson(engine.Store.CancelUpload(upload), null), Json) : NotFound(id));
    }

    private static async Task<IResult> Create(HttpContext http, LocalEngine engine, CancellationToken cancellationToken)
    {
        var body = await JsonNode.ParseAsync(http.Request.Body, cancellationToken: cancellationToken) as JsonObject
            ?? throw new BadRequestException("The body must be a JSON object.", null);
        var filename = body["filename"]?.GetValue<string>() ?? throw new BadRequestException("'filename' is required.", "filename", "missing_required_parameter");
        var purpose = body["purpose"]?.GetValue<string>();
        var bytes = body["bytes"]?.GetValue<long>() ?? throw new BadRequestException("'bytes' is required.", "bytes", "missing_required_parameter");
        if (purpose != "fine-tune")
        {
            throw new BadRequestException($"The local engine accepts purpose 'fine-tune' only; got '{purpose}'.", "purpose");
        }
        if (!filename.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase))
        {
            throw new BadRequestException($"Only .jsonl files can be used for fine-tuning; got '{filename}'.", "filename", "invalid_file_format");
        }
        if (bytes is <= 0 or > MaxUploadBytes)
        {
            throw new BadRequestException($"'bytes' must be between 1 and {MaxUploadBytes} (8 GB); got {bytes}.", "bytes");
        }
        return Results.Json(UploadJson(engine.Store.AddUpload(Path.GetFileName(filename), purpose, bytes, engine.Now), null), Json);
    }

    private static async Task<IResult> AddPart(string id, HttpContext http, LocalEngine engine, CancellationToken cancellationToken)
    {
        if (Pending(engine, id) is null)
        {
            return NotFound(id);
        }
        if (await MultipartForms.ReadAsync(http, MaxPartBytes, "Send the part as multipart/form-data with the field 'data'.", "data", cancellationToken) is not { } form)
        {
            return OpenAiError.Result(StatusCodes.Status413PayloadTooLarge, "invalid_request_error",
                $"A part is at most {MaxPartBytes / 1024 / 1024} MB.", "data", "part_too_large");
        }
        if (form.Files.GetFile("data") is not { } data)
        {
            throw new BadRequestException("The form has no 'data'.", "data", "missing_required_parameter");
        }
        await using var content = data.OpenReadStream();
        var partId = engine.Store.AddUploadPart(id, content);
        return Results.Json(new { id = partId, @object = "upload.part", created_at = engine.Now, upload_id = id }, Json);
    }

    private static async Task<IResult> Complete(string id, HttpContext http, LocalEngine engine, CancellationToken cancellationToken)
    {
        if (Pending(engine, id) is not { } upload)
        {
            return NotFound(id);
        }
        var body = await JsonNode.ParseAsync(http.Request.Body, cancellationToken: cancellationToken) as JsonObject;
        var partIds = (body?["part_ids"] as JsonArray)?.Select(p => p?.GetValue<string>() ?? "").ToList()
            ?? throw new BadRequestException("'part_ids' is required.", "part_ids", "missing_required_parameter");
        var (sizes, missing) = engine.Store.UploadPartSizes(id, partIds);
        if (sizes is null)
        {
            throw new BadRequestException($"Part {missing} does not belong to upload {id}.", "part_ids");
        }
        if (sizes.Sum() != upload.Bytes)
        {
            throw new BadRequestException($"The parts add up to {sizes.Sum()} bytes, but the upload was created for {upload.Bytes}.", "part_ids");
        }
        var (completed, file) = engine.Store.CompleteUpload(upload, partIds, engine.Now);
        return Results.Json(UploadJson(completed, file), Json);
    }

    /// <summary>The upload, when it exists; only a pending upload takes parts, completes or cancels.</summary>
    private static EngineUpload? Pending(LocalEngine engine, string id) => engine.Store.GetUpload(id) switch
    {
        null => null,
        { Status: "pending" } upload => upload,
        var upload => throw new BadRequestException($"Upload {id} is already {upload.Status}.", null),
    };

    private static object UploadJson(EngineUpload upload, EngineFile? file) => new
    {
        id = upload.Id, @object = "upload", bytes = upload.Bytes, created_at = upload.CreatedAt, filename = upload.Filename, purpose = upload.Purpose,
        status = upload.Status, expires_at = upload.CreatedAt + 3600, file = file is null ? null : FineTuningApi.FileJson(file),
    };

    private static IResult NotFound(string id) => OpenAiError.NotFound($"No upload with id '{id}'.", "upload_id", "upload_not_found");
}

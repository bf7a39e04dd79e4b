using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using StrawberryPhi.LocalEngine.Engine;

namespace StrawberryPhi.LocalEngine.Api;

/// <summary>
/// OpenAI's Uploads API (files larger than <c>POST /files</c> takes, sent in parts): create, add parts, complete
/// (parts joined in the order given, checked against the declared size), cancel.
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
        group.MapPost("/uploads/{id}/cancel", (string id, LocalEngine engine) => Cancel(id, engine));
    }

    private sealed record UploadRecord(string Id, long Bytes, long CreatedAt, string Filename, string Purpose, string Status, string? FileId);

    private static string Directory(LocalEngine engine, string id) => Path.Combine(engine.Store.DataDirectory, "uploads", id);

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
        var record = new UploadRecord(EngineStore.NewId("upload_"), bytes, engine.Now, Path.GetFileName(filename), purpose, "pending", null);
        System.IO.Directory.CreateDirectory(Directory(engine, record.Id));
        await Save(engine, record);
        return Results.Json(UploadJson(record, null), Json);
    }

    private static async Task<IResult> AddPart(string id, HttpContext http, LocalEngine engine, CancellationToken cancellationToken)
    {
        if (await Load(engine, id) is not { } record)
        {
            return NotFound(id);
        }
        if (record.Status != "pending")
        {
            throw new BadRequestException($"Upload {id} is {record.Status}; parts can be added only while it is pending.", null);
        }
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = MaxPartBytes + (64 * 1024);
        }
        if (!http.Request.HasFormContentType)
        {
            throw new BadRequestException("Send the part as multipart/form-data with the field 'data'.", "data");
        }
        var form = await http.Request.ReadFormAsync(new FormOptions { MultipartBodyLengthLimit = MaxPartBytes }, cancellationToken);
        if (form.Files.GetFile("data") is not { } data)
        {
            throw new BadRequestException("The form has no 'data'.", "data", "missing_required_parameter");
        }
        var partId = EngineStore.NewId("part_");
        var path = Path.Combine(Directory(engine, id), partId + ".part");
        await using (var target = new FileStream(path + ".tmp", FileMode.CreateNew, FileAccess.Write))
        {
            await data.CopyToAsync(target, cancellationToken);
        }
        File.Move(path + ".tmp", path);
        return Results.Json(new { id = partId, @object = "upload.part", created_at = engine.Now, upload_id = id }, Json);
    }

    private static async Task<IResult> Complete(string id, HttpContext http, LocalEngine engine, CancellationToken cancellationToken)
    {
        if (await Load(engine, id) is not { } record)
        {
            return NotFound(id);
        }
        if (record.Status != "pending")
        {
            throw new BadRequestException($"Upload {id} is already {record.Status}.", null);
        }
        var body = await JsonNode.ParseAsync(http.Request.Body, cancellationToken: cancellationToken) as JsonObject;
        var partIds = (body?["part_ids"] as JsonArray)?.Select(p => p?.GetValue<string>() ?? "").ToList()
            ?? throw new BadRequestException("'part_ids' is required.", "part_ids", "missing_required_parameter");
        var folder = Directory(engine, id);
        var paths = partIds.Select(p => Path.Combine(folder, Path.GetFileName(p) + ".part")).ToList();
        if (paths.FirstOrDefault(p => !File.Exists(p)) is { } missing)
        {
            throw new BadRequestException($"Part {Path.GetFileNameWithoutExtension(missing)} does not belong to upload {id}.", "part_ids");
        }
        var total = paths.Sum(p => new FileInfo(p).Length);
        if (total != record.Bytes)
        {
            throw new BadRequestException($"The parts add up to {total} bytes, but the upload was created for {record.Bytes}.", "part_ids");
        }
        using var joined = new ConcatenatedStream(paths);
        var file = engine.Store.AddFile(joined, record.Filename, record.Purpose, engine.Now);
        record = record with { Status = "completed", FileId = file.Id };
        await Save(engine, record);
        foreach (var part in System.IO.Directory.EnumerateFiles(folder, "*.part"))
        {
            File.Delete(part);
        }
        return Results.Json(UploadJson(record, file), Json);
    }

    private static async Task<IResult> Cancel(string id, LocalEngine engine)
    {
        if (await Load(engine, id) is not { } record)
        {
            return NotFound(id);
        }
        if (record.Status != "pending")
        {
            throw new BadRequestException($"Upload {id} is already {record.Status}.", null);
        }
        record = record with { Status = "cancelled" };
        await Save(engine, record);
        foreach (var part in System.IO.Directory.EnumerateFiles(Directory(engine, id), "*.part"))
        {
            File.Delete(part);
        }
        return Results.Json(UploadJson(record, null), Json);
    }

    private static object UploadJson(UploadRecord r, EngineFile? file) => new
    {
        id = r.Id, @object = "upload", bytes = r.Bytes, created_at = r.CreatedAt, filename = r.Filename, purpose = r.Purpose,
        status = r.Status, expires_at = r.CreatedAt + 3600, file = file is null ? null : FineTuningApi.FileJson(file),
    };

    private static IResult NotFound(string id) => OpenAiError.NotFound($"No upload with id '{id}'.", "upload_id", "upload_not_found");

    private static async Task Save(LocalEngine engine, UploadRecord record)
    {
        var path = Path.Combine(Directory(engine, record.Id), "upload.json");
        await File.WriteAllTextAsync(path + ".tmp", JsonSerializer.Serialize(record));
        File.Move(path + ".tmp", path, overwrite: true);
    }

    private static async Task<UploadRecord?> Load(LocalEngine engine, string id)
    {
        if (id.Length > 100 || id.Any(c => !char.IsAsciiLetterOrDigit(c) && c != '_'))
        {
            return null;
        }
        var path = Path.Combine(Directory(engine, id), "upload.json");
        return File.Exists(path) ? JsonSerializer.Deserialize<UploadRecord>(await File.ReadAllTextAsync(path)) : null;
    }

    /// <summary>Reads the parts one after another, so completing never holds a whole file in memory.</summary>
    private sealed class ConcatenatedStream(IReadOnlyList<string> paths) : Stream
    {
        private int _index;
        private FileStream? _current;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            while (_index < paths.Count)
            {
                _current ??= File.OpenRead(paths[_index]);
                var read = _current.Read(buffer, offset, count);
                if (read > 0)
                {
                    return read;
                }
                _current.Dispose();
                _current = null;
                _index++;
            }
            return 0;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            _current?.Dispose();
            base.Dispose(disposing);
        }
    }
}

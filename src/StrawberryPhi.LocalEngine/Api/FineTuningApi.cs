using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using StrawberryPhi.LocalEngine.Engine;

namespace StrawberryPhi.LocalEngine.Api;

/// <summary>Files and fine-tuning jobs (with events and checkpoints) in OpenAI's shapes.</summary>
internal static class FineTuningApi
{
    public const long MaxUploadBytes = 512L * 1024 * 1024;
    private static JsonSerializerOptions Json => EngineApi.Json;

    public static void Map(RouteGroupBuilder group)
    {
        group.MapPost("/files", Upload);
        group.MapGet("/files", (LocalEngine engine) =>
        {
            var files = engine.Store.ListFiles();
            return Results.Json(new { @object = "list", data = files.Select(FileJson), first_id = files.Count > 0 ? files[0].Id : null, last_id = files.Count > 0 ? files[^1].Id : null, has_more = false }, Json);
        });
        group.MapGet("/files/{id}", (string id, LocalEngine engine) =>
            engine.Store.GetFile(id) is { } file ? Results.Json(FileJson(file), Json) : FileNotFound(id));
        group.MapGet("/files/{id}/content", (string id, LocalEngine engine) =>
            engine.Store.GetFile(id) is { } file ? Results.File(engine.Store.FileContentPath(file.Id), "application/octet-stream", file.Filename) : FileNotFound(id));
        group.MapDelete("/files/{id}", (string id, LocalEngine engine) =>
            engine.Store.DeleteFile(id) ? Results.Json(new { id, @object = "file", deleted = true }, Json) : FileNotFound(id));

        group.MapPost("/fine_tuning/jobs", CreateJob);
        group.MapGet("/fine_tuning/jobs", (HttpContext http, LocalEngine engine, string? after, string? limit) =>
            Page(WithMetadata(engine.Store.ListJobs(), http.Request.Query), j => j.Id, after, limit, j => JobJson(j)));
        group.MapGet("/fine_tuning/jobs/{id}", (string id, LocalEngine engine) =>
            engine.Store.GetJob(id) is { } job ? Results.Json(JobJson(job), Json) : JobNotFound(id));
        group.MapPost("/fine_tuning/jobs/{id}/cancel", CancelJob);
        group.MapPost("/fine_tuning/jobs/{id}/pause", (string id, LocalEngine engine, CancellationToken cancellationToken) =>
            WhenSettledAsync(id, engine, () => engine.Runner.Pause(id), j => j.Status is JobStatus.Paused || JobStatus.IsFinal(j.Status), cancellationToken));
        group.MapPost("/fine_tuning/jobs/{id}/resume", (string id, LocalEngine engine) =>
            engine.Runner.Resume(id) is { } job ? Results.Json(JobJson(job), Json) : JobNotFound(id));
        group.MapGet("/fine_tuning/jobs/{id}/events", (string id, LocalEngine engine, string? after, string? limit) =>
            engine.Store.GetJob(id) is null ? JobNotFound(id) : Page(engine.Store.ListEvents(id), e => e.Id, after, limit, EventJson));
        group.MapGet("/fine_tuning/jobs/{id}/checkpoints", (string id, LocalEngine engine, string? after, string? limit) =>
            engine.Store.GetJob(id) is null ? JobNotFound(id) : Page(engine.Store.ListCheckpoints(id), c => c.Id, after, limit, c => c));
    }

    private static async Task<IResult> Upload(HttpContext http, LocalEngine engine, CancellationToken cancellationToken)
    {
        if (await MultipartForms.ReadAsync(http, MaxUploadBytes, "Upload a file as multipart/form-data with the fields 'file' and 'purpose'.", "file", cancellationToken) is not { } form)
        {
            return TooLarge();
        }
        var purpose = form["purpose"].ToString();
        if (purpose != "fine-tune")
        {
            throw new BadRequestException($"The local engine accepts purpose 'fine-tune' only; got '{purpose}'.", "purpose");
        }
        if (form.Files.GetFile("file") is not { } upload)
        {
            throw new BadRequestException("The form has no 'file'.", "file", "missing_required_parameter");
        }
        if (!upload.FileName.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase))
        {
            throw new BadRequestException($"Only .jsonl files can be used for fine-tuning; got '{upload.FileName}'.", "file", "invalid_file_format");
        }
        await using var content = upload.OpenReadStream();
        var file = engine.Store.AddFile(content, Path.GetFileName(upload.FileName), purpose, engine.Now);
        return Results.Json(FileJson(file), Json);
    }

    private static async Task<IResult> CreateJob(HttpContext http, LocalEngine engine, CancellationToken cancellationToken)
    {
        var body = await JsonNode.ParseAsync(http.Request.Body, cancellationToken: cancellationToken) as JsonObject
            ?? throw new BadRequestException("The request body must be a JSON object.", null);
        string Required(string name) => Optional(body, name) ?? throw new BadRequestException($"'{name}' is required.", name, "missing_required_parameter");
        var hyper = body["hyperparameters"] as JsonObject; // deprecated top-level form
        var methodType = "supervised";
        if (body["method"] is JsonObject method)
        {
            methodType = Optional(method, "type") ?? "supervised";
            if (methodType is not ("supervised" or "dpo"))
            {
                throw new BadRequestException($"The local engine trains the supervised and dpo methods; got '{methodType}'.", "method.type", "unsupported_method");
            }
            hyper = (method[methodType] as JsonObject)?["hyperparameters"] as JsonObject ?? hyper;
        }
        var metadata = body["metadata"] is JsonObject meta ? meta.ToDictionary(p => p.Key, p => p.Value?.ToString() ?? "") : null;
        if (metadata is { Count: > 16 } || metadata?.Any(p => p.Key.Length > 64 || p.Value.Length > 512) == true)
        {
            throw new BadRequestException("metadata holds at most 16 pairs, keys of up to 64 and values of up to 512 characters.", "metadata");
        }
        var job = engine.Runner.Create(new CreateJobRequest(
            Required("model"), Required("training_file"), Optional(body, "validation_file"), Optional(body, "suffix"),
            (int?)AutoOrNumber(body, "seed"), (int?)AutoOrNumber(hyper, "n_epochs"), (int?)AutoOrNumber(hyper, "batch_size"),
            AutoOrNumber(hyper, "learning_rate_multiplier"), metadata, methodType, AutoOrNumber(hyper, "beta")));
        return Results.Json(JobJson(job), Json);
    }

    private static Task<IResult> CancelJob(string id, LocalEngine engine, CancellationToken cancellationToken)
    {
        if (engine.Store.GetJob(id) is { } job && JobStatus.IsFinal(job.Status))
        {
            return Task.FromResult(OpenAiError.BadRequest($"Job {id} has already {job.Status}; it cannot be cancelled.", null, "invalid_job_state"));
        }
        return WhenSettledAsync(id, engine, () => engine.Runner.Cancel(id), j => JobStatus.IsFinal(j.Status), cancellationToken);
    }

    /// <summary>
    /// Asks the runner for a change that a running job makes at its next step (cancel, pause) and waits for it,
    /// briefly, so the answer shows the new state when it comes quickly.
    /// </summary>
    private static async Task<IResult> WhenSettledAsync(string id, LocalEngine engine, Func<FineTuningJob?> ask, Func<FineTuningJob, bool> settled, CancellationToken cancellationToken)
    {
        if (engine.Store.GetJob(id) is null)
        {
            return JobNotFound(id);
        }
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnChange(FineTuningJob changed)
        {
            if (changed.Id == id && settled(changed))
            {
                done.TrySetResult();
            }
        }
        engine.Runner.JobChanged += OnChange;
        try
        {
            if (ask() is { } now && !settled(now))
            {
                await done.Task.WaitAsync(TimeSpan.FromSeconds(5), engine.Time, cancellationToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
        finally
        {
            engine.Runner.JobChanged -= OnChange;
        }
        return Results.Json(JobJson(engine.Store.GetJob(id)!), Json);
    }

    /// <summary>OpenAI's metadata filter: <c>metadata[k]=v</c> keeps the jobs whose metadata has k = v (every pair given).</summary>
    private static IReadOnlyList<FineTuningJob> WithMetadata(IReadOnlyList<FineTuningJob> jobs, IQueryCollection query)
    {
        var wanted = query.Where(q => q.Key.StartsWith("metadata[", StringComparison.Ordinal) && q.Key.EndsWith(']'))
            .Select(q => (Key: q.Key["metadata[".Length..^1], Value: q.Value.ToString())).ToList();
        return wanted.Count == 0
            ? jobs
            : jobs.Where(j => wanted.All(w => j.Metadata?.TryGetValue(w.Key, out var v) == true && v == w.Value)).ToList();
    }

    /// <summary>A string field, null when absent; any other JSON type is a 400 naming the field.</summary>
    private static string? Optional(JsonObject node, string name) => node[name] switch
    {
        null => null,
        JsonValue v when v.TryGetValue<string>(out var text) => text,
        _ => throw new BadRequestException($"'{name}' must be a string.", name),
    };

    private static double? AutoOrNumber(JsonObject? node, string name) => node?[name] switch
    {
        null => null,
        JsonValue v when v.TryGetValue<string>(out var s) && s == "auto" => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.Number => v.GetValue<double>(),
        _ => throw new BadRequestException($"'{name}' must be \"auto\" or a number.", name),
    };

    /// <param name="limit">Read here rather than bound as a number, so that "limit=many" gets OpenAI's error shape in every host.</param>
    private static IResult Page<T>(IReadOnlyList<T> items, Func<T, string> id, string? after, string? limit, Func<T, object?> shape)
    {
        var size = 20;
        if (limit is not null && (!int.TryParse(limit, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out size) || size is < 1 or > 100))
        {
            throw new BadRequestException($"'limit' must be a whole number from 1 to 100, not '{limit}'.", "limit");
        }
        var start = after is null ? 0 : items.Select(id).ToList().IndexOf(after) + 1;
        var page = items.Skip(start).Take(size).Select(shape).ToList();
        return Results.Json(new { @object = "list", data = page, has_more = start + size < items.Count }, Json);
    }

    internal static object FileJson(EngineFile file) => new
    {
        id = file.Id, @object = "file", bytes = file.Bytes, created_at = file.CreatedAt, filename = file.Filename,
        purpose = file.Purpose, status = "processed",
    };

    /// <summary>An event as OpenAI's document has it: <c>data</c> is always an object (empty for a message).</summary>
    internal static object EventJson(JobEvent e) => new
    {
        @object = e.Object, id = e.Id, created_at = e.CreatedAt, level = e.Level, message = e.Message, type = e.Type,
        data = e.Data ?? new Dictionary<string, double>(),
    };

    internal static object JobJson(FineTuningJob job)
    {
        object Value(double v) => v > 0 ? v : "auto";
        var hyperparameters = new
        {
            n_epochs = Value(job.Hyperparameters.NEpochs),
            batch_size = Value(job.Hyperparameters.BatchSize),
            learning_rate_multiplier = Value(job.Hyperparameters.LearningRateMultiplier),
        };
        object method = job.Method == "dpo"
            ? new { type = "dpo", dpo = new { hyperparameters = new { hyperparameters.n_epochs, hyperparameters.batch_size, hyperparameters.learning_rate_multiplier, beta = Value(job.Hyperparameters.Beta) } } }
            : new { type = "supervised", supervised = new { hyperparameters } };
        return new
        {
            id = job.Id, @object = "fine_tuning.job", created_at = job.CreatedAt,
            error = job.Error is { } e ? new { code = e.Code, message = e.Message, param = e.Param } : null,
            fine_tuned_model = job.FineTunedModel, finished_at = job.FinishedAt, hyperparameters, model = job.Model,
            organization_id = "org-local", result_files = job.ResultFiles, seed = job.Seed, status = job.Status,
            trained_tokens = job.TrainedTokens is { } t ? (int?)Math.Min(int.MaxValue, t) : null,
            training_file = job.TrainingFile, validation_file = job.ValidationFile, integrations = Array.Empty<object>(),
            estimated_finish = (long?)null, user_provided_suffix = job.Suffix,
            method,
            metadata = job.Metadata,
        };
    }

    private static IResult TooLarge() => OpenAiError.Result(StatusCodes.Status413PayloadTooLarge, "invalid_request_error",
        $"The file is larger than {MaxUploadBytes / 1024 / 1024} MB, the largest upload the engine accepts.", "file", "file_too_large");

    private static IResult FileNotFound(string id) => OpenAiError.NotFound($"No file with id '{id}'.", "file_id", "file_not_found");

    private static IResult JobNotFound(string id) => OpenAiError.NotFound($"No fine-tuning job with id '{id}'.", "fine_tuning_job_id", "job_not_found");
}

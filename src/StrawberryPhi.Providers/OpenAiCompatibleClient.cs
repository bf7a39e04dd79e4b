using System.ClientModel;
using System.ClientModel.Primitives;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using OpenAI;
using OpenAI.Files;

namespace StrawberryPhi.Providers;

/// <summary>Limits and timeouts for provider calls.</summary>
public sealed class ProviderClientOptions
{
    /// <summary>Files up to this size go through <c>POST /files</c>; larger ones through the Uploads API (OpenAI: 512 MB).</summary>
    public long MaxSingleUploadBytes { get; set; } = 512L * 1024 * 1024;

    /// <summary>Part size for the Uploads API (OpenAI: at most 64 MB).</summary>
    public int UploadPartBytes { get; set; } = 64 * 1024 * 1024;

    /// <summary>Retries of a failed request (408, 429, 5xx, dropped connections), with backoff and <c>Retry-After</c>.</summary>
    public int MaxRetries { get; set; } = 3;

    /// <summary>First delay before a retry (doubled each time with jitter), unless the provider says how long to wait.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest wait before a retry, whatever the provider asks.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>The longest one attempt of a call may take (an upload's body is exempt: a large file takes what it takes).</summary>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(100);

    /// <summary>The circuit opens when this share of calls to one endpoint fail within the sampling duration…</summary>
    public double BreakerFailureRatio { get; set; } = 0.5;

    /// <summary>…and at least this many calls were made in it…</summary>
    public int BreakerMinimumThroughput { get; set; } = 10;

    public TimeSpan BreakerSamplingDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>…and stays open this long: calls fail at once, saying when to try again.</summary>
    public TimeSpan BreakDuration { get; set; } = TimeSpan.FromSeconds(15);

    public TimeSpan NetworkTimeout { get; set; } = TimeSpan.FromMinutes(10);
}

/// <summary>Creates a client for a connection. A client is thread-safe and meant to be kept for the connection's life.</summary>
/// <param name="http">
/// Gives the HTTP client for a new provider client: from <c>IHttpClientFactory</c> in a host, with the resilience
/// pipeline (<see cref="ProviderResilience"/>) and pooled connections that are renewed, so DNS changes are seen.
/// </param>
public sealed class ProviderClientFactory(Func<HttpClient> http, ProviderClientOptions options, TimeProvider time)
{
    public IProviderClient Create(ProviderEndpoint endpoint) => new OpenAiCompatibleClient(endpoint, http(), options, time);
}

/// <summary>
/// <see cref="IProviderClient"/> over the official OpenAI SDK with the endpoint swapped: OpenAI, Azure OpenAI's v1
/// endpoint (with its <c>api-key</c> header), any compatible server, and the local engine.
/// </summary>
internal sealed class OpenAiCompatibleClient : IProviderClient
{
    private readonly ProviderEndpoint _endpoint;
    private readonly ProviderClientOptions _options;
    private readonly TimeProvider _time;
    private readonly OpenAIClient _client;

    public OpenAiCompatibleClient(ProviderEndpoint endpoint, HttpClient http, ProviderClientOptions options, TimeProvider time)
    {
        _endpoint = endpoint;
        _options = options;
        _time = time;
        _client = Create(endpoint, http, options);
        Capabilities = ProviderCapabilities.Of(endpoint.Kind);
    }

    public ProviderKind Kind => _endpoint.Kind;

    public ProviderCapabilities Capabilities { get; }

    private static OpenAIClient Create(ProviderEndpoint endpoint, HttpClient http, ProviderClientOptions options)
    {
        var clientOptions = new OpenAIClientOptions
        {
            Endpoint = endpoint.BaseUrl,
            OrganizationId = string.IsNullOrWhiteSpace(endpoint.Organization) ? null : endpoint.Organization,
            ProjectId = string.IsNullOrWhiteSpace(endpoint.Project) ? null : endpoint.Project,
            Transport = new HttpClientPipelineTransport(http),
            // One retry layer, under the SDK (ProviderResilience): the SDK's own is off (it was seen retrying back to
            // back, and it would retry an upload blindly).
            RetryPolicy = new ClientRetryPolicy(0),
            NetworkTimeout = options.NetworkTimeout,
        };
        // The SDK insists on a credential; servers without keys (the local engine on loopback) ignore it.
        var key = string.IsNullOrEmpty(endpoint.ApiKey) ? "no-key" : endpoint.ApiKey;
        if (endpoint.Kind == ProviderKind.AzureOpenAI)
        {
            clientOptions.AddPolicy(new AzureKeyPolicy(key), PipelinePosition.BeforeTransport);
        }
        return new OpenAIClient(new ApiKeyCredential(key), clientOptions);
    }

    public Task<IReadOnlyList<ProviderModel>> ListModelsAsync(CancellationToken cancellationToken) => Call(async () =>
    {
        // The protocol method, because the typed model drops shutdown_date.
        var result = await _client.GetOpenAIModelClient().GetModelsAsync(new RequestOptions { CancellationToken = cancellationToken });
        using var json = JsonDocument.Parse(result.GetRawResponse().Content);
        var models = new List<ProviderModel>();
        if (json.RootElement.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in data.EnumerateArray())
            {
                models.Add(new ProviderModel(
                    item.GetProperty("id").GetString() ?? "",
                    String(item, "owned_by"),
                    item.TryGetProperty("created", out var created) && created.TryGetInt64(out var seconds) ? DateTimeOffset.FromUnixTimeSeconds(seconds) : null,
                    String(item, "shutdown_date") is { } date && DateOnly.TryParseExact(date, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day) ? day : null));
            }
        }
        return (IReadOnlyList<ProviderModel>)models;
    });

    public Task<IReadOnlyList<ProviderFile>> ListFilesAsync(CancellationToken cancellationToken) => Call(async () =>
    {
        var files = await _client.GetOpenAIFileClient().GetFilesAsync(FilePurpose.FineTune, cancellationToken);
        return (IReadOnlyList<ProviderFile>)files.Value.Select(ToFile).ToList();
    });

    /// <remarks>
    /// A failed attempt is retried only after looking for the file it may have created (same name and size), so a
    /// lost answer never leaves two copies: name files uniquely (the studio puts the content hash in the name).
    /// </remarks>
    public Task<ProviderFile> UploadFileAsync(Stream content, string fileName, IProgress<long>? progress, CancellationToken cancellationToken) => Call(async () =>
    {
        var files = _client.GetOpenAIFileClient();
        var start = content.CanSeek ? content.Position : 0;
        var length = content.CanSeek ? content.Length - start : -1;
        if (length > _options.MaxSingleUploadBytes && !Capabilities.UploadsApi)
        {
            throw new ProviderException($"The file is {length / (1024 * 1024):N0} MB; this provider takes files of up to {_options.MaxSingleUploadBytes / (1024 * 1024):N0} MB and has no Uploads API for larger ones. Split the dataset.");
        }
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                if (length < 0 || length <= _options.MaxSingleUploadBytes)
                {
                    var stream = new ProgressStream(content, progress);
                    return ToFile((await files.UploadFileAsync(stream, fileName, FileUploadPurpose.FineTune, cancellationToken)).Value);
                }
                return await UploadInPartsAsync(files, content, length, fileName, progress, cancellationToken);
            }
            catch (Exception e) when (attempt < _options.MaxRetries && content.CanSeek && IsTransient(e))
            {
                await Task.Delay(RetryDelay(e, attempt), _time, cancellationToken);
                var existing = (await ListFilesAsync(cancellationToken)).FirstOrDefault(f => f.FileName == fileName && f.Bytes == length);
                if (existing is not null)
                {
                    return existing;
                }
                content.Position = start;
            }
        }
    });

    /// <summary>What an upload's caller may try again (after looking for the file): the same judgement as the pipeline's.</summary>
    private static bool IsTransient(Exception e) => e switch
    {
        ClientResultException r => ProviderErrors.IsTransient(r),
        HttpRequestException or IOException or Polly.Timeout.TimeoutRejectedException => true,
        _ => false,
    };

    /// <summary>The provider's Retry-After when it gave one, else doubling from the configured delay, with jitter.</summary>
    private TimeSpan RetryDelay(Exception e, int attempt)
    {
        if (e is ClientResultException r && ProviderErrors.RetryAfter(r, _options.MaxRetryDelay, _time) is { } asked)
        {
            return asked;
        }
        var delay = _options.RetryDelay * Math.Pow(2, attempt);
        return delay + (delay * 0.2 * Random.Shared.NextDouble());
    }

    public Task DeleteFileAsync(string fileId, CancellationToken cancellationToken) => Call(async () =>
    {
        await _client.GetOpenAIFileClient().DeleteFileAsync(fileId, cancellationToken);
        return true;
    });

    public Task<byte[]> DownloadFileAsync(string fileId, CancellationToken cancellationToken) => Call(async () =>
        (await SendAsync("GET", $"files/{Uri.EscapeDataString(fileId)}/content", null, cancellationToken)).ToArray());

    public Task<ProviderJob> CreateJobAsync(ProviderJobRequest request, CancellationToken cancellationToken) => Call(async () =>
    {
        var body = new JsonObject { ["model"] = request.Model, ["training_file"] = request.TrainingFile };
        if (request.ValidationFile is not null)
        {
            body["validation_file"] = request.ValidationFile;
        }
        if (request.Method is not null)
        {
            body["method"] = request.Method.DeepClone();
        }
        if (request.Suffix is not null)
        {
            body["suffix"] = request.Suffix;
        }
        if (request.Seed is not null)
        {
            body["seed"] = request.Seed;
        }
        if (request.Metadata is { Count: > 0 })
        {
            body["metadata"] = new JsonObject(request.Metadata.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)JsonValue.Create(p.Value))));
        }
        return Job(await SendAsync("POST", "fine_tuning/jobs", body, cancellationToken));
    });

    public Task<ProviderJob> GetJobAsync(string jobId, CancellationToken cancellationToken) => Call(async () =>
        Job(await SendAsync("GET", $"fine_tuning/jobs/{Uri.EscapeDataString(jobId)}", null, cancellationToken)));

    public Task<ProviderPage<ProviderJob>> ListJobsAsync(string? after, int limit, KeyValuePair<string, string>? metadata, CancellationToken cancellationToken) => Call(async () =>
    {
        var query = metadata is { } pair ? $"&metadata[{Uri.EscapeDataString(pair.Key)}]={Uri.EscapeDataString(pair.Value)}" : "";
        return Page(await SendAsync("GET", $"fine_tuning/jobs?limit={limit}{After(after)}{query}", null, cancellationToken), ProviderJob.Parse);
    });

    public Task<ProviderPage<ProviderJobEvent>> ListEventsAsync(string jobId, string? after, int limit, CancellationToken cancellationToken) => Call(async () =>
        Page(await SendAsync("GET", $"fine_tuning/jobs/{Uri.EscapeDataString(jobId)}/events?limit={limit}{After(after)}", null, cancellationToken), ProviderJobEvent.Parse));

    public Task<ProviderPage<ProviderCheckpoint>> ListCheckpointsAsync(string jobId, string? after, int limit, CancellationToken cancellationToken) => Call(async () =>
        Page(await SendAsync("GET", $"fine_tuning/jobs/{Uri.EscapeDataString(jobId)}/checkpoints?limit={limit}{After(after)}", null, cancellationToken), ProviderCheckpoint.Parse));

    public Task<ProviderJob> CancelJobAsync(string jobId, CancellationToken cancellationToken) => JobAction(jobId, "cancel", cancellationToken);

    public Task<ProviderJob> PauseJobAsync(string jobId, CancellationToken cancellationToken) => JobAction(jobId, "pause", cancellationToken);

    public Task<ProviderJob> ResumeJobAsync(string jobId, CancellationToken cancellationToken) => JobAction(jobId, "resume", cancellationToken);

    private Task<ProviderJob> JobAction(string jobId, string action, CancellationToken cancellationToken) => Call(async () =>
        Job(await SendAsync("POST", $"fine_tuning/jobs/{Uri.EscapeDataString(jobId)}/{action}", null, cancellationToken)));

    private static string After(string? after) => after is null ? "" : "&after=" + Uri.EscapeDataString(after);

    private static ProviderJob Job(BinaryData content)
    {
        using var json = JsonDocument.Parse(content);
        return ProviderJob.Parse(json.RootElement);
    }

    private static ProviderPage<T> Page<T>(BinaryData content, Func<JsonElement, T> parse)
    {
        using var json = JsonDocument.Parse(content);
        var root = json.RootElement;
        var items = root.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Array ? data.EnumerateArray().Select(parse).ToList() : [];
        return new ProviderPage<T>(items, root.TryGetProperty("has_more", out var more) && more.ValueKind == JsonValueKind.True);
    }

    public Microsoft.Extensions.AI.IChatClient ChatClient(string model) =>
        Microsoft.Extensions.AI.OpenAIClientExtensions.AsIChatClient(_client.GetChatClient(model));

    public async Task<ProviderRawResponse> ForwardAsync(string method, string path, BinaryData? body, CancellationToken cancellationToken)
    {
        var pipeline = _client.GetChatClient("forward").Pipeline;
        var message = pipeline.CreateMessage();
        try
        {
            message.Apply(new RequestOptions { CancellationToken = cancellationToken });
            message.BufferResponse = false;
            message.Request.Method = method;
            message.Request.Uri = new Uri(_endpoint.BaseUrl, path);
            if (body is not null)
            {
                message.Request.Headers.Set("Content-Type", "application/json");
                message.Request.Content = BinaryContent.Create(body);
            }
            await Call(async () =>
            {
                await pipeline.SendAsync(message);
                return true;
            });
            var response = message.Response!;
            response.Headers.TryGetValue("Content-Type", out var contentType);
            return new ProviderRawResponse(response.Status, contentType, response.ContentStream ?? new MemoryStream(response.Content.ToArray()), message);
        }
        catch
        {
            message.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A request through the SDK's pipeline (its key, Azure's header, our transport and resilience), for what its typed
    /// surface lacks or reshapes: jobs with methods and metadata, pause and resume, paging cursors.
    /// </summary>
    private async Task<BinaryData> SendAsync(string method, string path, JsonObject? body, CancellationToken cancellationToken)
    {
        var pipeline = _client.GetFineTuningClient().Pipeline;
        using var message = pipeline.CreateMessage();
        message.Apply(new RequestOptions { CancellationToken = cancellationToken });
        message.Request.Method = method;
        message.Request.Uri = new Uri(_endpoint.BaseUrl, path);
        message.Request.Headers.Set("Accept", "application/json");
        if (body is not null)
        {
            message.Request.Headers.Set("Content-Type", "application/json");
            message.Request.Content = BinaryContent.Create(BinaryData.FromString(body.ToJsonString()));
        }
        await pipeline.SendAsync(message);
        var response = message.Response!;
        if (response.IsError)
        {
            throw await ClientResultException.CreateAsync(response);
        }
        return response.Content;
    }

    /// <summary>The Uploads API: create, add parts of at most <see cref="ProviderClientOptions.UploadPartBytes"/>, complete; cancelled on failure.</summary>
    private async Task<ProviderFile> UploadInPartsAsync(OpenAIFileClient files, Stream content, long length, string fileName, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        var options = new RequestOptions { CancellationToken = cancellationToken };
        var create = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object>
        {
            ["purpose"] = "fine-tune",
            ["filename"] = fileName,
            ["bytes"] = length,
            ["mime_type"] = "application/jsonl",
        });
        var upload = await files.CreateUploadAsync(BinaryContent.Create(BinaryData.FromBytes(create)), options);
        var uploadId = ReadId(upload.GetRawResponse().Content);
        try
        {
            var partIds = new List<string>();
            var buffer = new byte[Math.Min(_options.UploadPartBytes, length)];
            long sent = 0;
            while (true)
            {
                var read = await content.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken);
                if (read == 0)
                {
                    break;
                }
                var boundary = "phi-" + Guid.NewGuid().ToString("N");
                var part = await files.AddUploadPartAsync(uploadId, MultipartPart(buffer.AsSpan(0, read), boundary), $"multipart/form-data; boundary={boundary}", options);
                partIds.Add(ReadId(part.GetRawResponse().Content));
                sent += read;
                progress?.Report(sent);
            }
            var complete = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object> { ["part_ids"] = partIds });
            var done = await files.CompleteUploadAsync(uploadId, BinaryContent.Create(BinaryData.FromBytes(complete)), options);
            using var json = JsonDocument.Parse(done.GetRawResponse().Content);
            var file = json.RootElement.GetProperty("file");
            return new ProviderFile(
                file.GetProperty("id").GetString()!, String(file, "filename") ?? fileName, file.GetProperty("bytes").GetInt64(),
                DateTimeOffset.FromUnixTimeSeconds(file.GetProperty("created_at").GetInt64()), String(file, "purpose"));
        }
        catch
        {
            // Leave nothing half-made at the provider; the original failure is what the caller needs to see.
            try
            {
                await files.CancelUploadAsync(uploadId, new RequestOptions { CancellationToken = CancellationToken.None });
            }
            catch (ClientResultException)
            {
                // An upload the provider cannot cancel expires on its own (OpenAI: after an hour).
            }
            throw;
        }
    }

    private static BinaryContent MultipartPart(ReadOnlySpan<byte> data, string boundary)
    {
        var head = Encoding.ASCII.GetBytes($"--{boundary}\r\nContent-Disposition: form-data; name=\"data\"; filename=\"part\"\r\nContent-Type: application/octet-stream\r\n\r\n");
        var tail = Encoding.ASCII.GetBytes($"\r\n--{boundary}--\r\n");
        var body = new byte[head.Length + data.Length + tail.Length];
        head.CopyTo(body, 0);
        data.CopyTo(body.AsSpan(head.Length));
        tail.CopyTo(body, head.Length + data.Length);
        return BinaryContent.Create(BinaryData.FromBytes(body));
    }

    private static string ReadId(BinaryData content)
    {
        using var json = JsonDocument.Parse(content);
        return json.RootElement.GetProperty("id").GetString() ?? throw new ProviderException("The provider answered without an id.");
    }

    private static string? String(JsonElement element, string name) => Read.String(element, name);

    private static ProviderFile ToFile(OpenAIFile file) =>
        new(file.Id, file.Filename, file.SizeInBytesLong ?? 0, file.CreatedAt, file.Purpose.ToString());

    /// <summary>Runs a call and turns every way it can fail into a <see cref="ProviderException"/> in words.</summary>
    private async Task<T> Call<T>(Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (ClientResultException e)
        {
            throw ProviderErrors.FromResult(e, _endpoint);
        }
        catch (AggregateException e) when (e.InnerExceptions.LastOrDefault() is ClientResultException last)
        {
            // The SDK's retry policy gives up with every attempt's failure; the last one says why.
            throw ProviderErrors.FromResult(last, _endpoint);
        }
        catch (Exception e) when (e is HttpRequestException or SocketException)
        {
            throw ProviderErrors.Unreachable(e, _endpoint);
        }
        catch (Polly.CircuitBreaker.BrokenCircuitException e)
        {
            // The failure that opened the circuit, where it was one (an unreachable host): the reason, not only that it failed.
            var why = e.InnerException is HttpRequestException or SocketException ? $" ({ProviderErrors.Unreachable(e.InnerException, _endpoint).Message})" : "";
            throw new ProviderException(
                $"{_endpoint.BaseUrl.GetLeftPart(UriPartial.Authority)} failed repeatedly{why}, so the studio stops calling it for a moment; try again in {Math.Ceiling(_options.BreakDuration.TotalSeconds):N0} s.",
                transient: true, retryAfter: _options.BreakDuration);
        }
        catch (Polly.Timeout.TimeoutRejectedException)
        {
            throw new ProviderException($"{_endpoint.BaseUrl.GetLeftPart(UriPartial.Authority)} did not answer within {_options.AttemptTimeout.TotalSeconds:N0} s, still after retries.", transient: true);
        }
        catch (JsonException e)
        {
            throw new ProviderException(ProviderErrors.Scrub($"{_endpoint.BaseUrl.Host} answered with something that is not the OpenAI API: {e.Message}", _endpoint.ApiKey), inner: null);
        }
        catch (KeyNotFoundException)
        {
            throw new ProviderException($"{_endpoint.BaseUrl.Host} answered without a field the OpenAI API always has; is the base URL an OpenAI-compatible /v1 endpoint?");
        }
    }

    private sealed class AzureKeyPolicy(string key) : PipelinePolicy
    {
        public override void Process(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
        {
            Apply(message);
            ProcessNext(message, pipeline, currentIndex);
        }

        public override ValueTask ProcessAsync(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
        {
            Apply(message);
            return ProcessNextAsync(message, pipeline, currentIndex);
        }

        private void Apply(PipelineMessage message)
        {
            message.Request.Headers.Remove("Authorization");
            message.Request.Headers.Set("api-key", key);
        }
    }
}

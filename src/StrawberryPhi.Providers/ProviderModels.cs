namespace StrawberryPhi.Providers;

/// <summary>What kind of OpenAI-compatible fine-tuning endpoint a connection talks to.</summary>
public enum ProviderKind
{
    OpenAI,
    AzureOpenAI,
    Custom,
    Local,
}

/// <summary>Everything needed to call one provider. The key is plaintext only in memory, for the call's duration.</summary>
public sealed record ProviderEndpoint(ProviderKind Kind, Uri BaseUrl, string? ApiKey, string? Organization = null, string? Project = null)
{
    public static Uri DefaultBaseUrl(ProviderKind kind) => kind switch
    {
        ProviderKind.OpenAI => new Uri("https://api.openai.com/v1/"),
        _ => throw new ArgumentException($"A {kind} connection needs its base URL.", nameof(kind)),
    };

    /// <summary>Keeps the key out of <c>ToString</c>, so a logged endpoint never carries it.</summary>
    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append($"Kind = {Kind}, BaseUrl = {BaseUrl}, ApiKey = {(ApiKey is null ? "none" : "[hidden]")}, Organization = {Organization}, Project = {Project}");
        return true;
    }
}

/// <summary>A model as the provider lists it; <see cref="ShutdownDate"/> comes from the provider when it says.</summary>
public sealed record ProviderModel(string Id, string? OwnedBy, DateTimeOffset? Created, DateOnly? ShutdownDate);

/// <summary>A file stored at the provider.</summary>
public sealed record ProviderFile(string Id, string FileName, long Bytes, DateTimeOffset CreatedAt, string? Purpose);

/// <summary>A call to a provider failed; <see cref="Exception.Message"/> says why in words, without any secret.</summary>
public sealed class ProviderException : Exception
{
    public ProviderException(string message, int? status = null, string? code = null, Exception? inner = null, bool transient = false, TimeSpan? retryAfter = null)
        : base(message, inner)
    {
        Status = status;
        Code = code;
        Transient = transient;
        RetryAfter = retryAfter;
    }

    public ProviderException()
    {
    }

    public ProviderException(string message)
        : base(message)
    {
    }

    public ProviderException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The HTTP status the provider answered with, or null when it could not be reached.</summary>
    public int? Status { get; }

    /// <summary>The provider's error code (for example <c>invalid_api_key</c>), when it gave one.</summary>
    public string? Code { get; }

    /// <summary>
    /// Trying again later may succeed (a timeout, a rate limit, a 5xx, an unreachable host, an open circuit); a
    /// rejected key, a bad request or <c>insufficient_quota</c> will not. Calls were already retried where safe.
    /// </summary>
    public bool Transient { get; }

    /// <summary>How long the provider asked to wait (<c>Retry-After</c>, <c>retry-after-ms</c>) or the circuit stays open.</summary>
    public TimeSpan? RetryAfter { get; }
}

/// <summary>What a kind of provider can do beyond files and supervised jobs; the studio offers only what the provider has.</summary>
/// <param name="Dpo">Preference (DPO) fine-tuning.</param>
/// <param name="PauseResume">Running jobs can be paused and resumed.</param>
/// <param name="UploadsApi">Files over 512 MB go through the Uploads API in parts.</param>
/// <param name="FileContent">Result files can be downloaded (<c>GET /files/{id}/content</c>).</param>
/// <param name="DeploymentStep">A fine-tuned model must be deployed before it serves chat (Azure).</param>
public sealed record ProviderCapabilities(bool Dpo, bool PauseResume, bool UploadsApi, bool FileContent, bool DeploymentStep)
{
    public static ProviderCapabilities Of(ProviderKind kind) => kind switch
    {
        ProviderKind.OpenAI => new(Dpo: true, PauseResume: true, UploadsApi: true, FileContent: true, DeploymentStep: false),
        ProviderKind.AzureOpenAI => new(Dpo: true, PauseResume: true, UploadsApi: false, FileContent: true, DeploymentStep: true),
        ProviderKind.Local => new(Dpo: true, PauseResume: true, UploadsApi: true, FileContent: true, DeploymentStep: false),
        // An unknown server: only what every OpenAI-compatible fine-tuning endpoint has.
        _ => new(Dpo: false, PauseResume: false, UploadsApi: false, FileContent: false, DeploymentStep: false),
    };
}

/// <summary>
/// The narrow surface the studio needs from a provider. One implementation over the official OpenAI SDK serves every
/// kind; the rest of the code never sees SDK types.
/// </summary>
public interface IProviderClient
{
    /// <summary>The kind of endpoint this client talks to.</summary>
    ProviderKind Kind { get; }

    ProviderCapabilities Capabilities { get; }

    Task<IReadOnlyList<ProviderModel>> ListModelsAsync(CancellationToken cancellationToken);

    Task<IReadOnlyList<ProviderFile>> ListFilesAsync(CancellationToken cancellationToken);

    /// <summary>Uploads a JSONL training file: the Files API up to its limit, the Uploads API in parts above it.</summary>
    Task<ProviderFile> UploadFileAsync(Stream content, string fileName, IProgress<long>? progress, CancellationToken cancellationToken);

    Task DeleteFileAsync(string fileId, CancellationToken cancellationToken);

    /// <summary>A file's content (result files); only where <see cref="ProviderCapabilities.FileContent"/>.</summary>
    Task<byte[]> DownloadFileAsync(string fileId, CancellationToken cancellationToken);

    /// <summary>
    /// Creates a job. Never retried here (a retry could make a second job): after a failure whose outcome is unknown
    /// the caller looks for the job by its metadata marker (<see cref="ListJobsAsync"/>) before creating again.
    /// </summary>
    Task<ProviderJob> CreateJobAsync(ProviderJobRequest request, CancellationToken cancellationToken);

    Task<ProviderJob> GetJobAsync(string jobId, CancellationToken cancellationToken);

    /// <summary>Jobs, newest first. <paramref name="metadata"/> asks the provider to filter (OpenAI's <c>metadata[k]=v</c>); callers still check it.</summary>
    Task<ProviderPage<ProviderJob>> ListJobsAsync(string? after, int limit, KeyValuePair<string, string>? metadata, CancellationToken cancellationToken);

    /// <summary>Events, newest first; <paramref name="after"/> pages toward older ones.</summary>
    Task<ProviderPage<ProviderJobEvent>> ListEventsAsync(string jobId, string? after, int limit, CancellationToken cancellationToken);

    /// <summary>Checkpoints, newest first.</summary>
    Task<ProviderPage<ProviderCheckpoint>> ListCheckpointsAsync(string jobId, string? after, int limit, CancellationToken cancellationToken);

    Task<ProviderJob> CancelJobAsync(string jobId, CancellationToken cancellationToken);

    /// <summary>Only where <see cref="ProviderCapabilities.PauseResume"/>.</summary>
    Task<ProviderJob> PauseJobAsync(string jobId, CancellationToken cancellationToken);

    /// <summary>Only where <see cref="ProviderCapabilities.PauseResume"/>.</summary>
    Task<ProviderJob> ResumeJobAsync(string jobId, CancellationToken cancellationToken);

    /// <summary>
    /// Chat with <paramref name="model"/> as a Microsoft.Extensions.AI <see cref="Microsoft.Extensions.AI.IChatClient"/>
    /// over the SDK's chat client, on this connection's key, transport and retries (ADR 0011).
    /// </summary>
    Microsoft.Extensions.AI.IChatClient ChatClient(string model);

    /// <summary>
    /// Sends an OpenAI API request as it is (the studio's gateway, /api/v1) with this connection's address and key;
    /// the answer comes back unread, so a stream reaches the caller as it is produced. Errors are answers, not exceptions.
    /// </summary>
    Task<ProviderRawResponse> ForwardAsync(string method, string path, BinaryData? body, CancellationToken cancellationToken);
}

/// <summary>A provider's answer to a forwarded request: status, content type and the body as a stream (dispose it).</summary>
public sealed class ProviderRawResponse(int status, string? contentType, Stream body, IDisposable owner) : IDisposable
{
    public int Status { get; } = status;
    public string? ContentType { get; } = contentType;
    public Stream Body { get; } = body;

    public void Dispose()
    {
        Body.Dispose();
        owner.Dispose();
    }
}

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
    public ProviderException(string message, int? status = null, string? code = null, Exception? inner = null)
        : base(message, inner)
    {
        Status = status;
        Code = code;
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
}

/// <summary>
/// The narrow surface the studio needs from a provider. One implementation over the official OpenAI SDK serves every
/// kind; the rest of the code never sees SDK types.
/// </summary>
public interface IProviderClient
{
    Task<IReadOnlyList<ProviderModel>> ListModelsAsync(CancellationToken cancellationToken);

    Task<IReadOnlyList<ProviderFile>> ListFilesAsync(CancellationToken cancellationToken);

    /// <summary>Uploads a JSONL training file: the Files API up to its limit, the Uploads API in parts above it.</summary>
    Task<ProviderFile> UploadFileAsync(Stream content, string fileName, IProgress<long>? progress, CancellationToken cancellationToken);

    Task DeleteFileAsync(string fileId, CancellationToken cancellationToken);
}

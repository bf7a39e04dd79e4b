using StrawberryPhi.Providers;

namespace StrawberryPhi.Web.Data;

/// <summary>A saved connection to a provider. The key is stored only in protected form.</summary>
public sealed class ProviderConnection
{
    public Guid Id { get; set; }

    public required string Name { get; set; }

    public ProviderKind Kind { get; set; }

    /// <summary>Null for the built-in local engine (it lives at this studio's own address) and OpenAI's default.</summary>
    public string? BaseUrl { get; set; }

    /// <summary>The API key encrypted by the key vault (ASP.NET Core Data Protection); never plaintext.</summary>
    public string? ProtectedApiKey { get; set; }

    /// <summary>What the browser may see of the key, for example <c>sk-…9f2c</c>.</summary>
    public string? KeyHint { get; set; }

    public string? Organization { get; set; }

    public string? Project { get; set; }

    /// <summary>The signing secret of the provider's webhooks (<c>whsec_…</c>), encrypted by the key vault like the key.</summary>
    public string? ProtectedWebhookSecret { get; set; }

    /// <summary>The studio's own local engine; it cannot be removed.</summary>
    public bool BuiltIn { get; set; }

    public DateTime CreatedAt { get; set; }

    public DateTime UpdatedAt { get; set; }

    public DateTime? LastTestedAt { get; set; }

    public bool? LastTestOk { get; set; }

    public string? LastTestMessage { get; set; }
}

public enum DatasetStatus
{
    /// <summary>Stored; validation is queued or running.</summary>
    Validating,

    /// <summary>Validated; the report is stored (it may still list errors).</summary>
    Ready,

    /// <summary>A CSV, Alpaca, ShareGPT or Parquet source, waiting for its import into chat JSONL.</summary>
    NeedsImport,

    /// <summary>Validation could not run (the file vanished or could not be read).</summary>
    Failed,
}

/// <summary>A dataset: a stored file (content-addressed, never modified) with its report and where it came from.</summary>
public sealed class Dataset
{
    public Guid Id { get; set; }

    public required string Name { get; set; }

    /// <summary>The file name the user gave (or the one derived from the parent).</summary>
    public required string FileName { get; set; }

    /// <summary>Path of the content under the datasets directory: <c>{sha256}{ext}</c>.</summary>
    public required string StoredFile { get; set; }

    public required string Sha256 { get; set; }

    public long Bytes { get; set; }

    /// <summary>The detected format (<c>ChatJsonl</c>, <c>Csv</c>…).</summary>
    public required string Format { get; set; }

    /// <summary>Changed only through the Mark methods below, which refuse moves that make no sense.</summary>
    public DatasetStatus Status { get; private set; }

    public string? StatusMessage { get; private set; }

    public Guid? ParentId { get; set; }

    /// <summary>How it was made from its parent: upload, import, convert, split-train, split-validation, dedupe.</summary>
    public required string Origin { get; set; }

    /// <summary>The parameters of that step, in words (seed, share, system prompt mode…).</summary>
    public string? OriginDetail { get; set; }

    public DateTime CreatedAt { get; set; }

    /// <summary>The catalog model the report's token limit, encoding and estimate are for.</summary>
    public string ValidationModel { get; set; } = Core.Catalog.ModelCatalog.DefaultTargetModel;

    public bool ReflectionChecks { get; set; }

    public long Examples { get; set; }

    public long Lines { get; set; }

    /// <summary>The errors the provider would reject the file for.</summary>
    public long Errors { get; set; }

    /// <summary>Errors of the opt-in reflection checks: a verdict of their own, never a reason to stop an upload.</summary>
    public long ReflectionErrors { get; private set; }

    public long Warnings { get; set; }

    public long Tokens { get; set; }

    public DateTime? ValidatedAt { get; set; }

    /// <summary>How long the last validation took (the report's own elapsed time is not serialized).</summary>
    public long ValidationMs { get; set; }

    /// <summary>The Core validation report as JSON (issues capped per code; counts complete).</summary>
    public string? ReportJson { get; set; }

    /// <summary>A CSV, Alpaca, ShareGPT or Parquet source: it is imported, never validated itself. Only a new dataset becomes one.</summary>
    public void MarkNeedsImport(string message)
    {
        Move(DatasetStatus.NeedsImport, DatasetStatus.Validating);
        StatusMessage = message;
    }

    /// <summary>Queued for validation (again): for another target model, the reflection checks switched, or after a failure.</summary>
    public void MarkValidating()
    {
        Move(DatasetStatus.Validating, DatasetStatus.Validating, DatasetStatus.Ready, DatasetStatus.Failed);
        StatusMessage = null;
    }

    /// <summary>The report is stored; its counts are kept on the row for lists. <paramref name="errors"/> are the provider's (see ValidationReport.ProviderErrors).</summary>
    public void MarkValidated(string reportJson, long examples, long lines, long errors, long reflectionErrors, long warnings, long tokens, DateTime at, long elapsedMs)
    {
        Move(DatasetStatus.Ready, DatasetStatus.Validating);
        (ReportJson, Examples, Lines, Errors, ReflectionErrors, Warnings, Tokens, ValidatedAt, ValidationMs, StatusMessage) =
            (reportJson, examples, lines, errors, reflectionErrors, warnings, tokens, at, elapsedMs, null);
    }

    /// <summary>Validation could not run; the reason is said on the dataset's page.</summary>
    public void MarkFailed(string reason)
    {
        Move(DatasetStatus.Failed, DatasetStatus.Validating);
        StatusMessage = reason;
    }

    private void Move(DatasetStatus to, params DatasetStatus[] from) => Status = Transition.Checked($"Dataset {Id}", Status, to, from);
}

public enum UploadStatus
{
    Uploading,
    Uploaded,
    Failed,
}

/// <summary>A dataset sent to a provider. The row exists before the remote call, so a retry finds what a failed attempt left.</summary>
public sealed class DatasetUpload
{
    public Guid Id { get; set; }

    public Guid DatasetId { get; set; }

    public Guid ProviderId { get; set; }

    /// <summary>The name the file gets at the provider; it carries the content hash, so a retry can recognise its own file.</summary>
    public required string RemoteFileName { get; set; }

    public string? RemoteFileId { get; private set; }

    /// <summary>Changed only through the Mark methods below. A new upload starts Uploading.</summary>
    public UploadStatus Status { get; private set; }

    public string? Error { get; private set; }

    public long Bytes { get; set; }

    public int Attempts { get; private set; } = 1;

    public DateTime CreatedAt { get; set; }

    public DateTime? CompletedAt { get; private set; }

    /// <summary>Another attempt after a failure (an upload that succeeded is never sent again).</summary>
    public void MarkRetrying()
    {
        Move(UploadStatus.Uploading, UploadStatus.Failed);
        Attempts++;
        Error = null;
    }

    public void MarkUploaded(string remoteFileId, DateTime at)
    {
        Move(UploadStatus.Uploaded, UploadStatus.Uploading);
        (RemoteFileId, CompletedAt) = (remoteFileId, at);
    }

    public void MarkFailed(string error)
    {
        Move(UploadStatus.Failed, UploadStatus.Uploading);
        Error = error;
    }

    private void Move(UploadStatus to, params UploadStatus[] from) => Status = Transition.Checked($"Upload {Id}", Status, to, from);
}

public enum ThemeMode
{
    System,
    Light,
    Dark,
}

/// <summary>The studio's settings: one row.</summary>
public sealed class StudioSettings
{
    public const int SingletonId = 1;

    public int Id { get; set; } = SingletonId;

    public ThemeMode Theme { get; set; } = ThemeMode.System;

    public double Temperature { get; set; } = 1.0;

    public double TopP { get; set; } = 1.0;

    public int MaxTokens { get; set; } = 1024;

    public double FrequencyPenalty { get; set; }

    public double PresencePenalty { get; set; }

    public string? SystemPrompt { get; set; }

    public bool NotifyInApp { get; set; } = true;

    public bool NotifyBrowser { get; set; }

    public string? NotifyWebhookUrl { get; set; }

    /// <summary>Which job endings each channel tells (comma-separated: succeeded, failed, cancelled).</summary>
    public string NotifyInAppOn { get; set; } = "succeeded,failed,cancelled";

    public string NotifyBrowserOn { get; set; } = "succeeded,failed";

    public string NotifyWebhookOn { get; set; } = "succeeded,failed,cancelled";

    /// <summary>The catalog model new datasets are validated and estimated for.</summary>
    public string DefaultTargetModel { get; set; } = Core.Catalog.ModelCatalog.DefaultTargetModel;
}

/// <summary>The one rule of every entity's lifecycle: a move is allowed only from the states listed for it.</summary>
internal static class Transition
{
    public static TStatus Checked<TStatus>(string what, TStatus current, TStatus to, TStatus[] from)
        where TStatus : struct, Enum =>
        from.Contains(current) ? to : throw new InvalidOperationException($"{what} cannot move from {current} to {to}.");
}

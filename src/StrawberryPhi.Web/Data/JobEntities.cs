namespace StrawberryPhi.Web.Data;

/// <summary>
/// Job statuses as providers write them (an open set: a provider may add its own), plus the studio's own
/// <see cref="Pending"/> for a job not yet accepted by the provider.
/// </summary>
public static class JobStatuses
{
    /// <summary>The studio's own: the row exists, its files are on their way or the provider has not yet answered the create call.</summary>
    public const string Pending = "pending";
    public const string ValidatingFiles = "validating_files";
    public const string Queued = "queued";
    public const string Running = "running";
    public const string Pausing = "pausing";
    public const string Paused = "paused";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
    public const string Cancelled = "cancelled";

    public static bool IsFinal(string status) => status is Succeeded or Failed or Cancelled;

    /// <summary>The finished statuses, for queries (<c>!Final.Contains(j.Status)</c> is "active" in SQL).</summary>
    public static readonly string[] Final = [Succeeded, Failed, Cancelled];

    public static readonly IReadOnlyList<string> Known = [Pending, ValidatingFiles, Queued, Running, Pausing, Paused, Succeeded, Failed, Cancelled];
}

/// <summary>
/// A fine-tuning job. The row is written before the provider is called, and the remote job carries its id in
/// <c>metadata</c> (<see cref="MarkerKey"/>), so an attempt whose outcome was lost is found instead of repeated.
/// Status moves only through the Mark methods; a finished job never changes again.
/// </summary>
public sealed class FineTuneJob
{
    /// <summary>The metadata key of the studio's marker at the provider.</summary>
    public const string MarkerKey = "strawberry_phi_job";

    public Guid Id { get; set; }

    public Guid ProviderId { get; set; }

    /// <summary>The provider's job id, once it accepted the job (unique per connection).</summary>
    public string? RemoteId { get; private set; }

    /// <summary>What the user asked to tune (a base model, a fine-tune or a checkpoint).</summary>
    public required string Model { get; set; }

    public Guid? TrainingDatasetId { get; set; }

    public Guid? ValidationDatasetId { get; set; }

    public string? TrainingFileId { get; set; }

    public string? ValidationFileId { get; set; }

    /// <summary>supervised or dpo.</summary>
    public required string MethodType { get; set; }

    /// <summary>The <c>method</c> object sent to the provider (hyperparameters as asked: "auto" or values).</summary>
    public string? MethodJson { get; set; }

    public string? Suffix { get; set; }

    public int? Seed { get; set; }

    /// <summary>The user's metadata as JSON (the marker is added when sending).</summary>
    public string? MetadataJson { get; set; }

    /// <summary>A key the caller chose (the form, or an <c>Idempotency-Key</c> header): the same key never makes a second job.</summary>
    public string? ClientRequestId { get; set; }

    /// <summary>studio (created here) or imported (made elsewhere, brought in).</summary>
    public string Origin { get; set; } = "studio";

    /// <summary>The job this one re-runs elsewhere (same data, hyperparameters, method and seed), if any.</summary>
    public Guid? RerunOfJobId { get; set; }

    public string Status { get; private set; } = JobStatuses.Pending;

    public string? FineTunedModel { get; private set; }

    public long? TrainedTokens { get; private set; }

    public string? ErrorCode { get; private set; }

    public string? ErrorMessage { get; private set; }

    public string? ErrorParam { get; private set; }

    /// <summary>Hyperparameters as the provider resolved them (JSON object of strings).</summary>
    public string? HyperparametersJson { get; private set; }

    /// <summary>The provider's result file ids (JSON array).</summary>
    public string? ResultFilesJson { get; private set; }

    /// <summary>The last job object the provider gave, whole.</summary>
    public string? RemoteJson { get; private set; }

    /// <summary>Estimated before it started: training tokens × epochs and the price (null where unknown).</summary>
    public long? EstimatedBilledTokens { get; set; }

    public decimal? EstimatedCost { get; set; }

    /// <summary>Price per 1M training tokens when created, so the cost of a finished job stays what it was.</summary>
    public decimal? PricePer1M { get; set; }

    public int? Step { get; set; }

    public int? TotalSteps { get; set; }

    public DateTime CreatedAt { get; set; }

    public DateTime? SubmittedAt { get; private set; }

    public DateTime? StartedAt { get; private set; }

    public DateTime? FinishedAt { get; private set; }

    public DateTime? EstimatedFinish { get; private set; }

    /// <summary>Attempts at the create call; after the first, the provider is searched for the marker before each.</summary>
    public int SubmitAttempts { get; set; }

    /// <summary>When the tracker polls next (null: not tracked).</summary>
    public DateTime? NextPollAt { get; set; }

    public DateTime? LastPolledAt { get; set; }

    /// <summary>Why the last poll failed (cleared by the next that works); the job's own status is unaffected.</summary>
    public string? LastPollError { get; set; }

    /// <summary>Polls in a row that failed, for the backoff.</summary>
    public int PollFailures { get; set; }

    /// <summary>Result files downloaded (or found not downloadable): the job's record is complete.</summary>
    public bool ResultsFetched { get; set; }

    /// <summary>The provider accepted the job (or a retry found the job an earlier attempt made).</summary>
    public void MarkSubmitted(string remoteId, DateTime at)
    {
        if (Status != JobStatuses.Pending)
        {
            throw new InvalidOperationException($"Job {Id} cannot be submitted once {Status}.");
        }
        (RemoteId, SubmittedAt, Status) = (remoteId, at, JobStatuses.ValidatingFiles);
    }

    /// <summary>The job never reached the provider, or the provider refused it: failed, with the reason.</summary>
    public void MarkRejected(string? code, string message, string? param, DateTime at)
    {
        if (Status != JobStatuses.Pending)
        {
            throw new InvalidOperationException($"Job {Id} cannot be refused once {Status}.");
        }
        (Status, ErrorCode, ErrorMessage, ErrorParam, FinishedAt) = (JobStatuses.Failed, code, message, param, at);
    }

    /// <summary>Training was seen (a step's metrics) at <paramref name="at"/>: a job can run and end between two polls.</summary>
    public void NoteTrainingSeen(DateTime at) => StartedAt ??= at;

    /// <summary>
    /// What the provider now says about the job. A finished job keeps its end (a provider that later forgets it, or
    /// answers with an older state, cannot revive it); returns whether the status changed.
    /// </summary>
    public bool Apply(string status, string? fineTunedModel, long? trainedTokens, string? errorCode, string? errorMessage, string? errorParam,
        string? hyperparametersJson, string? resultFilesJson, DateTime? finishedAt, DateTime? estimatedFinish, string remoteJson, DateTime now)
    {
        if (Status == JobStatuses.Pending || RemoteId is null)
        {
            throw new InvalidOperationException($"Job {Id} is not at the provider yet.");
        }
        if (JobStatuses.IsFinal(Status))
        {
            // Only what a finished job may still gain: the result files and the model name, never another status.
            ResultFilesJson = resultFilesJson ?? ResultFilesJson;
            FineTunedModel ??= fineTunedModel;
            return false;
        }
        var changed = Status != status;
        Status = status;
        if (status == JobStatuses.Running)
        {
            StartedAt ??= now;
        }
        FineTunedModel = fineTunedModel ?? FineTunedModel;
        TrainedTokens = trainedTokens ?? TrainedTokens;
        (ErrorCode, ErrorMessage, ErrorParam) = errorMessage is null ? (ErrorCode, ErrorMessage, ErrorParam) : (errorCode, errorMessage, errorParam);
        HyperparametersJson = hyperparametersJson ?? HyperparametersJson;
        ResultFilesJson = resultFilesJson ?? ResultFilesJson;
        EstimatedFinish = estimatedFinish;
        RemoteJson = remoteJson;
        if (JobStatuses.IsFinal(status))
        {
            FinishedAt = finishedAt ?? now;
            NextPollAt = null;
        }
        return changed;
    }
}

/// <summary>An event of a job, stored once: (job, provider's event id) is unique.</summary>
public sealed class JobEventRecord
{
    public long Id { get; set; }

    public Guid JobId { get; set; }

    public required string RemoteId { get; set; }

    public DateTime CreatedAt { get; set; }

    public required string Level { get; set; }

    public required string Message { get; set; }

    public required string Type { get; set; }

    /// <summary>The event's data object as JSON (the metrics of a step).</summary>
    public string? DataJson { get; set; }
}

/// <summary>The metrics of one step, from the metrics event that reported it: (job, step) is unique.</summary>
public sealed class JobMetricPoint
{
    public long Id { get; set; }

    public Guid JobId { get; set; }

    public int Step { get; set; }

    public int? TotalSteps { get; set; }

    public double? TrainLoss { get; set; }

    public double? TrainMeanTokenAccuracy { get; set; }

    public double? ValidLoss { get; set; }

    public double? ValidMeanTokenAccuracy { get; set; }

    public double? FullValidLoss { get; set; }

    public double? FullValidMeanTokenAccuracy { get; set; }

    public DateTime Time { get; set; }

    /// <summary>The event it came from.</summary>
    public required string RemoteId { get; set; }
}

/// <summary>A checkpoint (a usable model) of a job, with its metrics: (job, provider's id) is unique.</summary>
public sealed class JobCheckpointRecord
{
    public long Id { get; set; }

    public Guid JobId { get; set; }

    public required string RemoteId { get; set; }

    public required string Model { get; set; }

    public int Step { get; set; }

    public required string MetricsJson { get; set; }

    public DateTime CreatedAt { get; set; }
}

/// <summary>A result file of a finished job, downloaded so the record outlives the provider's copy.</summary>
public sealed class JobResultFile
{
    public long Id { get; set; }

    public Guid JobId { get; set; }

    public required string RemoteId { get; set; }

    public required string FileName { get; set; }

    public long Bytes { get; set; }

    /// <summary>Null where the provider does not let files be downloaded (the reason is in <see cref="Note"/>).</summary>
    public byte[]? Content { get; set; }

    public string? Note { get; set; }

    public DateTime FetchedAt { get; set; }
}

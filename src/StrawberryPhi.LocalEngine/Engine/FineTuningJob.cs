using System.Text.Json.Serialization;

namespace StrawberryPhi.LocalEngine.Engine;

public static class JobStatus
{
    public const string ValidatingFiles = "validating_files";
    public const string Queued = "queued";
    public const string Running = "running";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
    public const string Cancelled = "cancelled";

    /// <summary>Not in OpenAI's document's enum, but what its pause endpoint leads to (shared/FACTS.md §2).</summary>
    public const string Paused = "paused";

    public static bool IsFinal(string status) => status is Succeeded or Failed or Cancelled;
}

/// <summary>
/// A fine-tuning job with guarded transitions: validating_files → queued → running → succeeded | failed | cancelled,
/// with paused beside them (back to queued on resume).
/// An illegal move throws, so a bug can never, for example, revive a cancelled job.
/// </summary>
public sealed class FineTuningJob
{
    public required string Id { get; init; }
    public required string Model { get; init; }
    public required string TrainingFile { get; init; }
    public string? ValidationFile { get; init; }
    public string? Suffix { get; init; }
    public required int Seed { get; init; }

    /// <summary>supervised (chat examples) or dpo (preference pairs).</summary>
    public string Method { get; init; } = "supervised";

    /// <summary>As asked for (0 = auto) until the job starts, then as resolved for its file (see <see cref="ResolveHyperparameters"/>).</summary>
    public required Hyperparameters Hyperparameters { get; init; }
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }
    public required long CreatedAt { get; init; }

    // Written only by the Mark methods (and read back from the store's JSON).
    [JsonInclude]
    public string Status { get; private set; } = JobStatus.ValidatingFiles;
    [JsonInclude]
    public long? FinishedAt { get; private set; }
    [JsonInclude]
    public string? FineTunedModel { get; private set; }
    [JsonInclude]
    public long? TrainedTokens { get; private set; }
    [JsonInclude]
    public JobError? Error { get; private set; }

    /// <summary>The result files' ids (a CSV of the step metrics), once succeeded.</summary>
    [JsonInclude]
    public IReadOnlyList<string> ResultFiles { get; private set; } = [];

    /// <summary>"auto" resolved for the training file; only before training starts.</summary>
    public FineTuningJob ResolveHyperparameters(Hyperparameters resolved)
    {
        if (Status is not (JobStatus.ValidatingFiles or JobStatus.Queued))
        {
            throw new InvalidOperationException($"Job {Id} cannot change its hyperparameters once {Status}.");
        }
        return new FineTuningJob
        {
            Id = Id, Model = Model, TrainingFile = TrainingFile, ValidationFile = ValidationFile, Suffix = Suffix, Seed = Seed, Method = Method,
            Hyperparameters = resolved, Metadata = Metadata, CreatedAt = CreatedAt, Status = Status,
        };
    }

    /// <summary>Paused by the user: a running job stops after its step with its state saved; a waiting one stays waiting.</summary>
    public void MarkPaused() => Move(JobStatus.Paused, JobStatus.ValidatingFiles, JobStatus.Queued, JobStatus.Running);

    /// <summary>Back in the queue: resumed by the user, or a job the engine was running when it stopped.</summary>
    public void MarkRequeued() => Move(JobStatus.Queued, JobStatus.Paused, JobStatus.Running);

    public void AddResultFile(string fileId)
    {
        if (Status != JobStatus.Succeeded)
        {
            throw new InvalidOperationException($"Job {Id} has result files only once it has succeeded.");
        }
        ResultFiles = [.. ResultFiles, fileId];
    }

    public void MarkQueued() => Move(JobStatus.Queued, JobStatus.ValidatingFiles);

    public void MarkRunning() => Move(JobStatus.Running, JobStatus.Queued);

    public void MarkSucceeded(string fineTunedModel, long trainedTokens, long now)
    {
        Move(JobStatus.Succeeded, JobStatus.Running);
        (FineTunedModel, TrainedTokens, FinishedAt) = (fineTunedModel, trainedTokens, now);
    }

    public void MarkFailed(JobError error, long now)
    {
        Move(JobStatus.Failed, JobStatus.ValidatingFiles, JobStatus.Queued, JobStatus.Running, JobStatus.Paused);
        (Error, FinishedAt) = (error, now);
    }

    public void MarkCancelled(long now)
    {
        Move(JobStatus.Cancelled, JobStatus.ValidatingFiles, JobStatus.Queued, JobStatus.Running, JobStatus.Paused);
        FinishedAt = now;
    }

    private void Move(string to, params string[] from)
    {
        if (!from.Contains(Status))
        {
            throw new InvalidOperationException($"Job {Id} cannot move from {Status} to {to}.");
        }
        Status = to;
    }
}

namespace StrawberryPhi.LocalEngine.Engine;

public static class JobStatus
{
    public const string ValidatingFiles = "validating_files";
    public const string Queued = "queued";
    public const string Running = "running";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
    public const string Cancelled = "cancelled";

    public static bool IsFinal(string status) => status is Succeeded or Failed or Cancelled;
}

/// <summary>
/// A fine-tuning job with guarded transitions: validating_files → queued → running → succeeded | failed | cancelled.
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
    public required Hyperparameters Hyperparameters { get; init; }
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }
    public required long CreatedAt { get; init; }
    public string Status { get; set; } = JobStatus.ValidatingFiles;
    public long? FinishedAt { get; set; }
    public string? FineTunedModel { get; set; }
    public long? TrainedTokens { get; set; }
    public JobError? Error { get; set; }

    public void MarkQueued() => Move(JobStatus.Queued, JobStatus.ValidatingFiles);

    public void MarkRunning() => Move(JobStatus.Running, JobStatus.Queued);

    public void MarkSucceeded(string fineTunedModel, long trainedTokens, long now)
    {
        Move(JobStatus.Succeeded, JobStatus.Running);
        (FineTunedModel, TrainedTokens, FinishedAt) = (fineTunedModel, trainedTokens, now);
    }

    public void MarkFailed(JobError error, long now)
    {
        Move(JobStatus.Failed, JobStatus.ValidatingFiles, JobStatus.Queued, JobStatus.Running);
        (Error, FinishedAt) = (error, now);
    }

    public void MarkCancelled(long now)
    {
        Move(JobStatus.Cancelled, JobStatus.ValidatingFiles, JobStatus.Queued, JobStatus.Running);
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

using System.Text.Json;
using System.Text.Json.Nodes;
using StrawberryPhi.Core.Catalog;
using StrawberryPhi.Web.Data;

namespace StrawberryPhi.Web.Jobs;

/// <summary>What a user asks for (the form and <c>POST /api/jobs</c>).</summary>
/// <param name="Method">As OpenAI writes it: <c>{"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 3}}}</c>; null is supervised with everything auto.</param>
public sealed record JobInput(
    Guid ProviderId, string Model, Guid TrainingDatasetId, Guid? ValidationDatasetId = null, JsonObject? Method = null, string? Suffix = null,
    int? Seed = null, Dictionary<string, string>? Metadata = null);

/// <summary>What the job would be: problems per field (nothing is sent while there are any), warnings, and the estimate.</summary>
public sealed record JobCheck(IReadOnlyList<FieldProblem> Problems, IReadOnlyList<Notice> Warnings, JobEstimate? Estimate, IReadOnlyList<string> Methods)
{
    public bool Ok => Problems.Count == 0;
}

/// <param name="Epochs">Explicit, or what "auto" is expected to give (the Cookbook's rule).</param>
/// <param name="Cost">Null where the price is unknown; 0 on the local engine.</param>
public sealed record JobEstimate(int Examples, int Epochs, bool EpochsAuto, long TokensPerEpoch, long BilledTokens, decimal? PricePer1M, decimal? Cost);

public sealed record JobErrorView(string? Code, string Message, string? Param, string Explanation);

public sealed record JobView(
    Guid Id, Guid ProviderId, string ProviderName, string? RemoteId, string Model, Guid? TrainingDatasetId, string? TrainingDatasetName,
    Guid? ValidationDatasetId, string? ValidationDatasetName, string Method, string? Suffix, int? Seed, IReadOnlyDictionary<string, string> Metadata,
    IReadOnlyDictionary<string, string> Hyperparameters, string Status, string? FineTunedModel, long? TrainedTokens, JobErrorView? Error,
    int? Step, int? TotalSteps, long? EstimatedBilledTokens, decimal? EstimatedCost, decimal? Cost, DateTime CreatedAt, DateTime? StartedAt,
    DateTime? FinishedAt, DateTime? EstimatedFinish, string? LastPollError, string Origin, IReadOnlyList<string> ResultFiles, string? TrainingFileId,
    string? ValidationFileId, Guid? RerunOfJobId = null)
{
    public bool IsFinal => JobStatuses.IsFinal(Status);

    /// <summary>0 to 1 from the last reported step, when the provider reports steps.</summary>
    public double? Progress => Status == JobStatuses.Succeeded ? 1 : Step is { } s && TotalSteps is { } t && t > 0 ? Math.Clamp((double)s / t, 0, 1) : null;
}

public sealed record JobPage(int Total, IReadOnlyList<JobView> Items);

public sealed record JobQuery(string? Status = null, Guid? ProviderId = null, string? Search = null, string? Origin = null, int Skip = 0, int Take = 50);

public sealed record JobEventView(string RemoteId, DateTime CreatedAt, string Level, string Message, string Type, JsonElement? Data);

public sealed record JobEventPage(int Total, IReadOnlyList<JobEventView> Items);

/// <summary>One step's metrics; validation metrics only where the provider measured them at that step.</summary>
public sealed record MetricPointView(
    int Step, int? TotalSteps, double? TrainLoss, double? TrainMeanTokenAccuracy, double? ValidLoss, double? ValidMeanTokenAccuracy,
    double? FullValidLoss, double? FullValidMeanTokenAccuracy, DateTime Time, string RemoteId);

public sealed record CheckpointView(string RemoteId, string Model, int Step, IReadOnlyDictionary<string, double> Metrics, DateTime CreatedAt);

/// <param name="Content">The file's text (result files are CSV), or null where the provider did not let it be downloaded.</param>
public sealed record ResultFileView(string RemoteId, string FileName, long Bytes, bool Downloaded, string? Note, DateTime FetchedAt, string? Content = null);

/// <summary>Everything the studio keeps about a job (<c>GET /api/jobs/{id}/record</c>).</summary>
public sealed record JobRecord(
    JobView Job, IReadOnlyList<JobEventView> Events, IReadOnlyList<MetricPointView> Metrics, IReadOnlyList<CheckpointView> Checkpoints,
    IReadOnlyList<ResultFileView> ResultFiles, DateTime ExportedAt);

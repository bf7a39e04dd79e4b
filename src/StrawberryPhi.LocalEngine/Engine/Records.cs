using System.Text.Json.Serialization;

namespace StrawberryPhi.LocalEngine.Engine;

/// <summary>An uploaded file, as the Files API describes it.</summary>
public sealed record EngineFile(string Id, long Bytes, long CreatedAt, string Filename, string Purpose)
{
    [JsonPropertyName("object")]
    public string Object { get; init; } = "file";
}

/// <summary>An upload in parts (OpenAI's Uploads API): pending until completed into a file, or cancelled.</summary>
public sealed record EngineUpload(string Id, long Bytes, long CreatedAt, string Filename, string Purpose, string Status, string? FileId);

public sealed record JobError(string Code, string Message, string? Param);

/// <param name="Beta">DPO's beta (0 = auto until resolved; unused by supervised jobs).</param>
public sealed record Hyperparameters(int NEpochs, int BatchSize, double LearningRateMultiplier, double Beta = 0);

/// <summary>An event of a job: a message, or the metrics of one step.</summary>
public sealed record JobEvent(string Id, long CreatedAt, string Level, string Message, string Type, IReadOnlyDictionary<string, double>? Data)
{
    [JsonPropertyName("object")]
    public string Object { get; init; } = "fine_tuning.job.event";
}

public sealed record JobCheckpoint(string Id, long CreatedAt, string FineTunedModelCheckpoint, int StepNumber, IReadOnlyDictionary<string, double> Metrics, string FineTuningJobId)
{
    [JsonPropertyName("object")]
    public string Object { get; init; } = "fine_tuning.job.checkpoint";
}

/// <summary>
/// A model the engine can serve: a base size, or a fine-tune (or one of its checkpoints) in a safetensors file.
/// <see cref="File"/> is the engine's own bookkeeping: the HTTP API must map to its own shape and never show it.
/// </summary>
public sealed record EngineModel(string Id, long Created, string OwnedBy, string Base, string? File)
{
    [JsonPropertyName("object")]
    public string Object { get; init; } = "model";
}

namespace StrawberryPhi.Web.Data;

/// <summary>An evaluation set: items with references, uploaded or made from a dataset.</summary>
public sealed class EvalSetRecord
{
    public Guid Id { get; set; }
    public string Name { get; set; } = "";
    public DateTime CreatedAt { get; set; }
    public int ItemCount { get; set; }

    /// <summary>The dataset it was made from (its last assistant messages are the references), if any.</summary>
    public Guid? DatasetId { get; set; }
}

/// <summary>One item of a set, in its file order.</summary>
public sealed class EvalItemRecord
{
    public Guid SetId { get; set; }
    public int Index { get; set; }

    /// <summary>The item's own id, or <c>line-N</c>.</summary>
    public string ItemId { get; set; } = "";

    /// <summary>[{role, content}] as JSON.</summary>
    public string MessagesJson { get; set; } = "[]";

    public string Reference { get; set; } = "";
    public string? MetadataJson { get; set; }
}

public static class EvalStatuses
{
    public const string Queued = "queued";
    public const string Running = "running";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
    public const string Cancelled = "cancelled";

    public static bool IsFinal(string status) => status is Succeeded or Failed or Cancelled;
}

/// <summary>
/// A run: every item of a set sent to each model with its parameters, graded. Answers are rows of
/// <see cref="EvalResultRecord"/>, one per item × model, so a run resumed after a restart sends only what has no row.
/// </summary>
public sealed class EvalRunRecord
{
    public Guid Id { get; set; }
    public Guid SetId { get; set; }
    public string Status { get; set; } = EvalStatuses.Queued;
    public DateTime CreatedAt { get; set; }
    public DateTime? StartedAt { get; set; }
    public DateTime? FinishedAt { get; set; }

    /// <summary>[{providerId, model, parameters}] as JSON (parameters named as OpenAI's chat API names them).</summary>
    public string ModelsJson { get; set; } = "[]";

    /// <summary>[{type, …}] as JSON.</summary>
    public string GradersJson { get; set; } = "[]";

    /// <summary>Requests in flight at once per connection.</summary>
    public int Concurrency { get; set; }

    /// <summary>Ask every model again instead of answering identical requests from stored responses.</summary>
    public bool Fresh { get; set; }

    /// <summary>Item × model pairs in the run.</summary>
    public int Total { get; set; }

    public string? Error { get; set; }

    /// <summary>A client's Idempotency-Key: a retried POST gives back this run.</summary>
    public string? ClientRequestId { get; set; }

    /// <summary>The golden outputs this run is compared with (its set's references are their answers), if any.</summary>
    public Guid? GoldenId { get; set; }
}

/// <summary>
/// Golden outputs: a model's answers to a set, captured by an evaluation run and frozen, so that a candidate can be
/// compared with them after the model itself is gone.
/// </summary>
public sealed class GoldenRecord
{
    public Guid Id { get; set; }
    public Guid ProviderId { get; set; }
    public string Model { get; set; } = "";
    public Guid SetId { get; set; }

    /// <summary>The run that captured the answers (temperature 0, asked afresh).</summary>
    public Guid CaptureRunId { get; set; }

    /// <summary>The set made from the frozen answers (each a reference) once the capture ended, for comparisons.</summary>
    public Guid? ComparisonSetId { get; set; }

    public DateTime CreatedAt { get; set; }
}

/// <summary>One item's answer from one model, graded, with what it cost and its reflection fields.</summary>
public sealed class EvalResultRecord
{
    public Guid RunId { get; set; }
    public int ModelIndex { get; set; }
    public int ItemIndex { get; set; }
    public string ItemId { get; set; } = "";
    public DateTime CreatedAt { get; set; }

    public string Answer { get; set; } = "";

    /// <summary>The answer as the first grader read it (the inside of &lt;output&gt; when there is one).</summary>
    public string Extracted { get; set; } = "";

    public bool Pass { get; set; }
    public double Score { get; set; }
    public string Reason { get; set; } = "";

    /// <summary>Every grader's verdict [{type, pass, score, reason}] as JSON.</summary>
    public string GradesJson { get; set; } = "[]";

    /// <summary>The request failed (after retries): no answer, graded as a fail with this reason.</summary>
    public string? Error { get; set; }

    public string? FinishReason { get; set; }
    public double LatencyMs { get; set; }
    public int? PromptTokens { get; set; }
    public int? CompletionTokens { get; set; }
    public decimal? Cost { get; set; }

    /// <summary>Answered from a stored response to an identical request, not asked again.</summary>
    public bool Cached { get; set; }

    public bool FormatValid { get; set; }
    public bool Reflected { get; set; }

    /// <summary>The first answer (before the first &lt;reflection&gt;) as graded; equals the final one when there was no reflection.</summary>
    public string? FirstExtracted { get; set; }

    public bool FirstPass { get; set; }
}

/// <summary>A stored response to a chat request, keyed by a hash of connection, model, messages and parameters.</summary>
public sealed class ChatCacheEntry
{
    public string Key { get; set; } = "";
    public DateTime CreatedAt { get; set; }
    public string Text { get; set; } = "";
    public string? FinishReason { get; set; }
    public double LatencyMs { get; set; }
    public int? PromptTokens { get; set; }
    public int? CompletionTokens { get; set; }
    public decimal? Cost { get; set; }
}

/// <summary>A saved playground session: its conversation, models, parameters and answers, as JSON.</summary>
public sealed class PlaygroundSessionRecord
{
    public Guid Id { get; set; }
    public string Title { get; set; } = "";
    public DateTime CreatedAt { get; set; }
    public DateTime UpdatedAt { get; set; }
    public string StateJson { get; set; } = "{}";
}

/// <summary>Named chat parameters.</summary>
public sealed class ChatPresetRecord
{
    public Guid Id { get; set; }
    public string Name { get; set; } = "";
    public string ParametersJson { get; set; } = "{}";
}

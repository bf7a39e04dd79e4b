using System.Text.Json.Serialization;
using StrawberryPhi.Core.Evaluation;
using StrawberryPhi.Web.Chat;

namespace StrawberryPhi.Web.Evaluation;

public sealed record EvalSetView(Guid Id, string Name, DateTime CreatedAt, int ItemCount, Guid? DatasetId);

public sealed record EvalItemView(int Index, string Id, IReadOnlyList<EvalMessage> Messages, string Reference, string? Metadata);

/// <summary>A model in a run: which connection, which model, with what parameters (OpenAI's names).</summary>
public sealed record EvalModelSpec(
    [property: JsonPropertyName("providerId")] Guid ProviderId,
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("parameters")] ChatParameters? Parameters = null);

/// <summary>
/// A grader: <c>exact</c>, <c>normalized</c>, <c>numeric</c> (<c>tolerance</c>), <c>contains</c>, <c>regex</c>
/// (<c>pattern</c>, else the reference is the pattern), <c>json</c>, or <c>judge</c> (<c>providerId</c>, <c>model</c>,
/// optional <c>rubric</c> and <c>passThreshold</c>).
/// </summary>
public sealed record GraderSpec(
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("tolerance")] double? Tolerance = null,
    [property: JsonPropertyName("pattern")] string? Pattern = null,
    [property: JsonPropertyName("providerId")] Guid? ProviderId = null,
    [property: JsonPropertyName("model")] string? Model = null,
    [property: JsonPropertyName("rubric")] string? Rubric = null,
    [property: JsonPropertyName("passThreshold")] double? PassThreshold = null);

public sealed record EvalRunInput(
    [property: JsonPropertyName("setId")] Guid SetId,
    [property: JsonPropertyName("models")] IReadOnlyList<EvalModelSpec>? Models,
    [property: JsonPropertyName("graders")] IReadOnlyList<GraderSpec>? Graders,
    [property: JsonPropertyName("concurrency")] int? Concurrency = null,
    [property: JsonPropertyName("fresh")] bool Fresh = false);

/// <summary>One grader's verdict on an answer, and what it compared (the number numeric read; else the final answer).</summary>
public sealed record GraderVerdict(string Type, bool Pass, double Score, string Reason, string Extracted = "");

/// <summary>A model's results in a run: accuracy with its 95% Wilson interval, cost, and the reflection metrics.</summary>
/// <param name="N">Items graded (answered or failed).</param>
/// <param name="FirstAccuracy">Accuracy of the first answer (before the first reflection; the final one where there was none).</param>
public sealed record EvalModelSummary(
    int Index, string Model, Guid ProviderId, string Connection, ChatParameters Parameters,
    int N, int Passed, int Errors, double Accuracy, double CiLow, double CiHigh,
    double? LatencyP50Ms, double? LatencyMeanMs, long PromptTokens, long CompletionTokens, decimal Cost, int Cached,
    double FormatValidRate, double ReflectionRate, double FirstAccuracy, double FinalAccuracy,
    Transitions Transitions, int DeltaWrongToRight, int DeltaRightToWrong, double NetGain);

/// <summary>Two models of a run on the items both were graded on: who got which right, and McNemar's exact p-value.</summary>
public sealed record EvalPairedView(int First, int Second, string FirstModel, string SecondModel, int Items, int Both, int OnlyFirst, int OnlySecond, int Neither, double PValue);

public sealed record EvalRunView(
    Guid Id, Guid SetId, string SetName, string Status, DateTime CreatedAt, DateTime? StartedAt, DateTime? FinishedAt,
    int Total, int Done, decimal CostSoFar, double? EtaSeconds, string? Error, int Concurrency, bool Fresh,
    IReadOnlyList<GraderSpec> Graders, IReadOnlyList<EvalModelSummary> Models, IReadOnlyList<EvalPairedView> Paired,
    Guid? GoldenId = null, EvalAgreement? Agreement = null)
{
    public double Progress => Total == 0 ? 0 : (double)Done / Total;
}

public sealed record EvalRunListItem(Guid Id, Guid SetId, string SetName, string Status, DateTime CreatedAt, int Total, int Done, IReadOnlyList<string> Models);

/// <summary>One item × model: the answer, how it was read and graded, what it cost, and its reflection fields.</summary>
/// <param name="Transition">First → final answer: right→right, right→wrong, wrong→right or wrong→wrong.</param>
public sealed record EvalResultRow(
    string ItemId, int ItemIndex, int ModelIndex, string Model, string Answer, string Extracted, string Reference,
    bool Pass, double Score, string Reason, double LatencyMs, int? PromptTokens, int? CompletionTokens, decimal? Cost,
    string? FinishReason, bool Cached, string? Error, bool FormatValid, bool Reflected, string? FirstExtracted, bool FirstPass,
    string Transition, IReadOnlyList<GraderVerdict> Grades);

public sealed record EvalResultPage(int Total, IReadOnlyList<EvalResultRow> Items);

/// <summary>An item whose grade changed between two runs (same model position).</summary>
public sealed record EvalRunChange(string ItemId, int ModelIndex, string Model, bool? Before, bool? After, string? BeforeAnswer, string? AfterAnswer);

public sealed record EvalRunComparison(Guid Before, Guid After, int Items, int Fixed, int Broken, int Unchanged, IReadOnlyList<EvalRunChange> Changes);

/// <summary>A comparison with golden outputs: the share of items whose answer agrees with the frozen one, with its 95% Wilson interval.</summary>
public sealed record EvalAgreement(double Rate, double CiLow, double CiHigh, int Agreed, int Items);

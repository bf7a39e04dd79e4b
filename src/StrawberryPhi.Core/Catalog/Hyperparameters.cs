using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace StrawberryPhi.Core.Catalog;

/// <summary>A problem with one field of a request, said so that it can be shown beside that field.</summary>
public sealed record FieldProblem(string Field, string Message);

/// <summary>
/// OpenAI's bounds for fine-tuning hyperparameters (shared/FACTS.md §2): each is "auto" or a value within them.
/// The studio checks them before a job is sent, so the reason appears beside the field instead of as a provider's 400.
/// </summary>
public static class HyperparameterRules
{
    public sealed record Rule(string Name, string Label, bool WholeNumber, double Min, bool MinExclusive, double? Max, string Bounds);

    public static readonly Rule Epochs = new("n_epochs", "Epochs", true, 1, false, 50, "1 to 50");
    public static readonly Rule BatchSize = new("batch_size", "Batch size", true, 1, false, 256, "1 to 256");
    public static readonly Rule LearningRateMultiplier = new("learning_rate_multiplier", "Learning rate multiplier", false, 0, true, null, "greater than 0");
    public static readonly Rule Beta = new("beta", "Beta", false, 0, true, 2, "greater than 0 and at most 2");

    /// <summary>The hyperparameters a method takes.</summary>
    public static IReadOnlyList<Rule> For(string method) => method == "dpo"
        ? [Epochs, BatchSize, LearningRateMultiplier, Beta]
        : [Epochs, BatchSize, LearningRateMultiplier];

    public static IReadOnlyList<string> Methods { get; } = ["supervised", "dpo"];

    /// <summary>
    /// Checks a <c>method</c> object as OpenAI writes it (<c>{"type": "supervised", "supervised": {"hyperparameters": {…}}}</c>).
    /// Problems name the field as <c>method.supervised.hyperparameters.n_epochs</c>.
    /// </summary>
    public static IReadOnlyList<FieldProblem> Check(JsonObject? method)
    {
        var problems = new List<FieldProblem>();
        if (method is null)
        {
            return problems;
        }
        var type = method["type"] is JsonValue t && t.TryGetValue<string>(out var text) ? text : null;
        if (type is null || !Methods.Contains(type))
        {
            problems.Add(new FieldProblem("method.type", $"The method is \"supervised\" or \"dpo\", not {(type is null ? "missing" : $"\"{type}\"")}."));
            return problems;
        }
        if (method[type] is not JsonObject body || body["hyperparameters"] is not JsonObject hyper)
        {
            return problems;
        }
        var rules = For(type);
        foreach (var (name, value) in hyper)
        {
            var field = $"method.{type}.hyperparameters.{name}";
            if (rules.FirstOrDefault(r => r.Name == name) is not { } rule)
            {
                problems.Add(new FieldProblem(field, $"{name} is not a hyperparameter of the {type} method (it takes {string.Join(", ", rules.Select(r => r.Name))})."));
                continue;
            }
            if (Problem(rule, value) is { } message)
            {
                problems.Add(new FieldProblem(field, message));
            }
        }
        return problems;
    }

    /// <summary>Why a value breaks the rule, or null when it is "auto" or within bounds.</summary>
    public static string? Problem(Rule rule, JsonNode? value)
    {
        if (value is null || (value is JsonValue s && s.TryGetValue<string>(out var text) && text == "auto"))
        {
            return null;
        }
        if (value is not JsonValue v || v.GetValueKind() != JsonValueKind.Number)
        {
            return $"{rule.Label} is \"auto\" or a number {rule.Bounds}.";
        }
        return Problem(rule, Number(v));
    }

    public static string? Problem(Rule rule, double number)
    {
        var below = rule.MinExclusive ? number <= rule.Min : number < rule.Min;
        if (below || number > rule.Max || double.IsNaN(number) || double.IsInfinity(number))
        {
            return $"{rule.Label} must be {rule.Bounds}; {number.ToString(CultureInfo.InvariantCulture)} is not.";
        }
        if (rule.WholeNumber && number != Math.Floor(number))
        {
            return $"{rule.Label} must be a whole number {rule.Bounds}.";
        }
        return null;
    }

    /// <summary>Epochs asked for explicitly and within bounds, or null (auto, or a value the check refuses).</summary>
    public static int? ExplicitEpochs(JsonObject? method) =>
        method?["type"] is JsonValue t && t.TryGetValue<string>(out var type) && method[type]?["hyperparameters"]?["n_epochs"] is JsonValue v
            && v.GetValueKind() == JsonValueKind.Number && Problem(Epochs, Number(v)) is null
            ? (int)Number(v)
            : null;

    /// <summary>A JSON number as a double, whether the node was parsed or built from an int.</summary>
    private static double Number(JsonValue value) => double.Parse(value.ToJsonString(), CultureInfo.InvariantCulture);
}

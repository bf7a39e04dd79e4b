using System.Text.Json.Nodes;
using StrawberryPhi.Core.Catalog;
using StrawberryPhi.Core.Metrics;

namespace StrawberryPhi.Core.Tests.Metrics;

public class TrainingCurvesTests
{
    private static readonly DateTime T0 = new(2026, 12, 1, 9, 0, 0, DateTimeKind.Utc);

    [Fact]
    public void Ema_BiasCorrected_FirstValueIsItselfAndGapsStayGaps()
    {
        var smoothed = TrainingCurves.Ema([2.0, null, 4.0], 0.5);

        Assert.Equal(2.0, smoothed[0]);
        Assert.Null(smoothed[1]);
        // (0.5·(0.5·0 + 0.5·2) + 0.5·4) / (1 − 0.25) = (0.5 + 2) / 0.75
        Assert.Equal(2.5 / 0.75, smoothed[2]!.Value, 10);
    }

    [Fact]
    public void Ema_WeightZero_IsTheRawSeries()
    {
        Assert.Equal([1.0, 3.0, 2.0], TrainingCurves.Ema([1.0, 3.0, 2.0], 0).Select(v => v!.Value));
    }

    [Fact]
    public void Overfitting_ValidationRisesWhileTrainingFalls_NamesTheBestStepAndTheCheckpointWithTheLowestValidationLoss()
    {
        // Validation falls to step 5 and then climbs; training falls throughout.
        var valid = new[] { 2.0, 1.6, 1.3, 1.1, 1.0, 1.05, 1.15, 1.3, 1.45, 1.6 };
        var points = valid.Select((v, i) => new CurvePoint(i + 1, 2.0 - i * 0.15, v, T0.AddSeconds(i))).ToList();

        var warning = TrainingCurves.Overfitting(points, [new(4, 1.1), new(6, 1.05), new(8, 1.3)], smoothing: 0);

        Assert.NotNull(warning);
        Assert.Equal(5, warning.BestStep);
        Assert.Equal(6, warning.BestCheckpointStep); // its own measured loss is the lowest, though it comes after the best step
        Assert.Equal(4, TrainingCurves.Overfitting(points, [new(4, null), new(8, null)], smoothing: 0)!.BestCheckpointStep); // none measured: the closest
        Assert.Contains("since step 5", warning.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public void Overfitting_BothFalling_None()
    {
        var points = Enumerable.Range(1, 10).Select(i => new CurvePoint(i, 2.0 / i, 2.2 / i, T0.AddSeconds(i))).ToList();

        Assert.Null(TrainingCurves.Overfitting(points, [new(5, 0.4), new(10, 0.2)]));
    }

    [Fact]
    public void Overfitting_NoValidationData_None()
    {
        var points = Enumerable.Range(1, 10).Select(i => new CurvePoint(i, 2.0 / i, null, T0.AddSeconds(i))).ToList();

        Assert.Null(TrainingCurves.Overfitting(points, []));
    }

    [Fact]
    public void Remaining_RecentStepRate()
    {
        // 2 s per step over the last points; 10 of 20 steps done.
        var points = Enumerable.Range(1, 10).Select(i => new CurvePoint(i, 1, null, T0.AddSeconds(i * 2))).ToList();

        Assert.Equal(TimeSpan.FromSeconds(20), TrainingCurves.Remaining(points, 20));
    }

    [Fact]
    public void Remaining_OnePoint_Unknown()
    {
        Assert.Null(TrainingCurves.Remaining([new CurvePoint(1, 1, null, T0)], 20));
    }

    [Theory]
    [InlineData("n_epochs", "51", "Epochs must be 1 to 50; 51 is not.")]
    [InlineData("n_epochs", "2.5", "Epochs must be a whole number 1 to 50.")]
    [InlineData("batch_size", "0", "Batch size must be 1 to 256; 0 is not.")]
    [InlineData("learning_rate_multiplier", "-1", "Learning rate multiplier must be greater than 0; -1 is not.")]
    [InlineData("n_epochs", "\"many\"", "Epochs is \"auto\" or a number 1 to 50.")]
    public void HyperparameterRules_OutOfBounds_SaysWhyBesideTheField(string name, string value, string message)
    {
        var method = new JsonObject { ["type"] = "supervised", ["supervised"] = new JsonObject { ["hyperparameters"] = new JsonObject { [name] = JsonNode.Parse(value) } } };

        var problem = Assert.Single(HyperparameterRules.Check(method));

        Assert.Equal(($"method.supervised.hyperparameters.{name}", message), (problem.Field, problem.Message));
    }

    [Theory]
    [InlineData("0", false)]
    [InlineData("2", true)]
    [InlineData("2.01", false)]
    [InlineData("\"auto\"", true)]
    public void HyperparameterRules_DpoBeta_GreaterThanZeroAtMostTwo(string value, bool ok)
    {
        var method = new JsonObject { ["type"] = "dpo", ["dpo"] = new JsonObject { ["hyperparameters"] = new JsonObject { ["beta"] = JsonNode.Parse(value) } } };

        Assert.Equal(ok, HyperparameterRules.Check(method).Count == 0);
    }

    [Fact]
    public void HyperparameterRules_BetaOnSupervised_Refused()
    {
        var method = new JsonObject { ["type"] = "supervised", ["supervised"] = new JsonObject { ["hyperparameters"] = new JsonObject { ["beta"] = 0.1 } } };

        Assert.Contains("not a hyperparameter of the supervised method", Assert.Single(HyperparameterRules.Check(method)).Message, StringComparison.Ordinal);
    }
}

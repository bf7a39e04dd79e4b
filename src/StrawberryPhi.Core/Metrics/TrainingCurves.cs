namespace StrawberryPhi.Core.Metrics;

/// <summary>One step's losses (validation only where it was measured) and when it was reported.</summary>
public sealed record CurvePoint(int Step, double? TrainLoss, double? ValidLoss, DateTime Time);

/// <summary>A checkpoint's step and the validation loss its metrics carry (null where none was measured).</summary>
public sealed record CheckpointLoss(int Step, double? ValidLoss);

/// <summary>Validation loss has been rising while training loss falls.</summary>
/// <param name="BestStep">The step with the lowest (smoothed) validation loss.</param>
/// <param name="BestCheckpointStep">The checkpoint with the lowest validation loss measured at it (else the closest to the best step), to pick instead of the last.</param>
public sealed record OverfitWarning(int BestStep, double BestValidLoss, double LatestValidLoss, int? BestCheckpointStep)
{
    public string Describe() =>
        $"Validation loss has risen since step {BestStep:N0} ({BestValidLoss:0.###} → {LatestValidLoss:0.###}) while training loss kept falling: the model may be overfitting." +
        (BestCheckpointStep is { } step ? $" The checkpoint at step {step:N0} has the lowest validation loss of the checkpoints: prefer it to the final model." : "");
}

/// <summary>What the job page reads from a job's curves: smoothing, overfitting, and the time left.</summary>
public static class TrainingCurves
{
    /// <summary>
    /// Exponential moving average with bias correction (the first values are not pulled toward zero), as TensorBoard
    /// and W&amp;B draw it; missing values stay missing and do not move the average. <paramref name="weight"/> in [0, 1): 0 is raw.
    /// </summary>
    public static double?[] Ema(IReadOnlyList<double?> values, double weight)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(weight);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(weight, 1);
        var smoothed = new double?[values.Count];
        double last = 0;
        var seen = 0;
        for (var i = 0; i < values.Count; i++)
        {
            if (values[i] is not { } value || double.IsNaN(value))
            {
                continue;
            }
            seen++;
            last = last * weight + (1 - weight) * value;
            smoothed[i] = last / (1 - Math.Pow(weight, seen));
        }
        return smoothed;
    }

    /// <summary>
    /// Overfitting: after smoothing, the latest validation loss is above its lowest by more than <paramref name="margin"/>
    /// (relative), at least <paramref name="minPointsSince"/> validation points have come since the lowest, and the
    /// training loss at the latest point is below the training loss at the lowest. Null when not (or not enough data).
    /// </summary>
    public static OverfitWarning? Overfitting(IReadOnlyList<CurvePoint> points, IReadOnlyList<CheckpointLoss> checkpoints, double smoothing = 0.6, double margin = 0.03, int minPointsSince = 3)
    {
        var withValid = points.Where(p => p.ValidLoss is not null && p.TrainLoss is not null).OrderBy(p => p.Step).ToList();
        if (withValid.Count < minPointsSince + 2)
        {
            return null;
        }
        var valid = Ema(withValid.Select(p => p.ValidLoss).ToList(), smoothing);
        var train = Ema(withValid.Select(p => p.TrainLoss).ToList(), smoothing);
        var best = 0;
        for (var i = 1; i < valid.Length; i++)
        {
            if (valid[i] < valid[best])
            {
                best = i;
            }
        }
        var latest = valid.Length - 1;
        if (latest - best < minPointsSince || valid[latest] <= valid[best] * (1 + margin) || train[latest] >= train[best])
        {
            return null;
        }
        var bestStep = withValid[best].Step;
        int? checkpoint = checkpoints.Where(c => c.ValidLoss is not null).OrderBy(c => c.ValidLoss).ThenBy(c => c.Step).Select(c => (int?)c.Step).FirstOrDefault()
            ?? checkpoints.OrderBy(c => Math.Abs(c.Step - bestStep)).Select(c => (int?)c.Step).FirstOrDefault();
        return new OverfitWarning(bestStep, valid[best]!.Value, valid[latest]!.Value, checkpoint);
    }

    /// <summary>
    /// Time left at the recent step rate (over the last <paramref name="window"/> points, so a slow start or a pause
    /// long ago does not skew it); null until two points with distinct times exist.
    /// </summary>
    public static TimeSpan? Remaining(IReadOnlyList<CurvePoint> points, int totalSteps, int window = 50)
    {
        if (points.Count < 2 || totalSteps <= 0)
        {
            return null;
        }
        var recent = points.OrderBy(p => p.Step).TakeLast(window).ToList();
        var (first, last) = (recent[0], recent[^1]);
        var steps = last.Step - first.Step;
        var elapsed = last.Time - first.Time;
        if (steps <= 0 || elapsed <= TimeSpan.Zero)
        {
            return null;
        }
        var left = Math.Max(0, totalSteps - last.Step);
        return TimeSpan.FromTicks((long)(elapsed.Ticks / (double)steps * left));
    }
}

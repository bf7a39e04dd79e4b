namespace StrawberryPhi.Core.Evaluation;

/// <summary>A proportion with its 95% Wilson score interval (sound at small n and near 0 or 1, unlike the normal approximation).</summary>
public sealed record Proportion(int Successes, int Total, double Value, double Low, double High);

/// <summary>
/// Two models on the same items: how many only the first got right (<see cref="OnlyFirst"/>), only the second
/// (<see cref="OnlySecond"/>), and McNemar's exact two-sided p-value for "they are equally good".
/// </summary>
public sealed record PairedComparison(int Items, int Both, int OnlyFirst, int OnlySecond, int Neither, double PValue);

/// <summary>
/// Self-correction, item by item: the first answer (before the first reflection) against the final one
/// (shared/FACTS.md §6). <see cref="NetGain"/> = P(wrong→right) − P(right→wrong).
/// </summary>
public sealed record Transitions(int RightRight, int RightWrong, int WrongRight, int WrongWrong)
{
    public int Total => RightRight + RightWrong + WrongRight + WrongWrong;

    public double WrongToRight => Total == 0 ? 0 : (double)WrongRight / Total;

    public double RightToWrong => Total == 0 ? 0 : (double)RightWrong / Total;

    public double NetGain => WrongToRight - RightToWrong;

    public static Transitions Of(IEnumerable<(bool FirstRight, bool FinalRight)> items)
    {
        int rr = 0, rw = 0, wr = 0, ww = 0;
        foreach (var (first, final) in items)
        {
            _ = (first, final) switch
            {
                (true, true) => rr++,
                (true, false) => rw++,
                (false, true) => wr++,
                _ => ww++,
            };
        }
        return new Transitions(rr, rw, wr, ww);
    }
}

public static class Statistics
{
    /// <summary>The share of successes with its Wilson score interval at 95% (z = 1.96).</summary>
    public static Proportion Wilson(int successes, int total, double z = 1.959963984540054)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(successes);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(successes, total);
        if (total == 0)
        {
            return new Proportion(0, 0, 0, 0, 1);
        }
        var p = (double)successes / total;
        var z2 = z * z;
        var centre = (p + z2 / (2 * total)) / (1 + z2 / total);
        var half = z * Math.Sqrt(p * (1 - p) / total + z2 / (4.0 * total * total)) / (1 + z2 / total);
        // At 0 and n the bound is exactly 0 or 1; computed, it can come out a rounding error inside, above the estimate.
        return new Proportion(successes, total, p, successes == 0 ? 0 : Math.Max(0, centre - half), successes == total ? 1 : Math.Min(1, centre + half));
    }

    /// <summary>Paired results of two models on the same items, with McNemar's exact test on the items they disagree on.</summary>
    public static PairedComparison Paired(IEnumerable<(bool First, bool Second)> items)
    {
        int both = 0, onlyFirst = 0, onlySecond = 0, neither = 0;
        foreach (var (first, second) in items)
        {
            _ = (first, second) switch
            {
                (true, true) => both++,
                (true, false) => onlyFirst++,
                (false, true) => onlySecond++,
                _ => neither++,
            };
        }
        return new PairedComparison(both + onlyFirst + onlySecond + neither, both, onlyFirst, onlySecond, neither, McNemarExact(onlyFirst, onlySecond));
    }

    /// <summary>
    /// McNemar's exact two-sided p-value: under "equally good", the b + c disagreements split like fair coin flips;
    /// p = min(1, 2 · P(X ≤ min(b, c))) for X ~ Binomial(b + c, ½). 1 when they never disagree.
    /// </summary>
    public static double McNemarExact(int b, int c)
    {
        var n = b + c;
        if (n == 0)
        {
            return 1;
        }
        var k = Math.Min(b, c);
        // Sum the binomial terms in log space: n can be in the thousands, and 2^n is not representable.
        double tail = 0;
        var logHalfN = n * Math.Log(0.5);
        var logChoose = 0.0; // log C(n, 0)
        for (var i = 0; i <= k; i++)
        {
            if (i > 0)
            {
                logChoose += Math.Log(n - i + 1) - Math.Log(i);
            }
            tail += Math.Exp(logChoose + logHalfN);
        }
        return Math.Min(1, 2 * tail);
    }
}

namespace StrawberryPhi.Core.Tokens;

/// <summary>Summary of a list of counts. Percentiles interpolate linearly between ranks, like numpy's default.</summary>
public sealed record Distribution(long Count, long Min, long Max, double Mean, double Median, double P5, double P95)
{
    public static Distribution Empty { get; } = new(0, 0, 0, 0, 0, 0, 0);

    /// <param name="values">Sorted in place.</param>
    public static Distribution Of(List<int> values)
    {
        if (values.Count == 0)
        {
            return Empty;
        }
        values.Sort();
        var sum = 0L;
        foreach (var v in values)
        {
            sum += v;
        }
        return new Distribution(values.Count, values[0], values[^1], (double)sum / values.Count,
            Percentile(values, 0.5), Percentile(values, 0.05), Percentile(values, 0.95));
    }

    /// <summary>Linear interpolation between closest ranks on sorted values (numpy "linear", Hyndman-Fan type 7).</summary>
    public static double Percentile(List<int> sorted, double p)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(p, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(p, 1);
        if (sorted.Count == 0)
        {
            return 0;
        }
        var h = (sorted.Count - 1) * p;
        var low = (int)Math.Floor(h);
        var high = Math.Min(low + 1, sorted.Count - 1);
        return sorted[low] + (h - low) * (sorted[high] - sorted[low]);
    }
}

/// <summary>One bar of a histogram: values in [From, To).</summary>
public sealed record HistogramBin(long From, long To, long Count);

public static class Histogram
{
    /// <summary>Equal-width bins over sorted values, with round bin edges; fewer bins for few values.</summary>
    public static IReadOnlyList<HistogramBin> Of(IReadOnlyList<int> sorted, int maxBins = 20)
    {
        if (sorted.Count == 0)
        {
            return [];
        }
        maxBins = Math.Clamp((int)Math.Ceiling(Math.Sqrt(sorted.Count)), 1, maxBins);
        long min = sorted[0], max = sorted[^1];
        var width = NiceWidth(Math.Max(1, (max - min + 1) / (double)maxBins));
        var start = min / width * width;
        var bins = new List<HistogramBin>();
        var index = 0;
        for (var from = start; from <= max; from += width)
        {
            var to = from + width;
            var count = 0L;
            while (index < sorted.Count && sorted[index] < to)
            {
                count++;
                index++;
            }
            bins.Add(new HistogramBin(from, to, count));
        }
        return bins;
    }

    private static long NiceWidth(double raw)
    {
        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        foreach (var step in (ReadOnlySpan<double>)[1, 2, 2.5, 5, 10])
        {
            if (step * magnitude >= raw)
            {
                return Math.Max(1, (long)Math.Ceiling(step * magnitude));
            }
        }
        return (long)Math.Ceiling(raw);
    }
}

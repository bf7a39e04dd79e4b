namespace StrawberryPhi.Web;

/// <summary>Turns byte counts into at most one report per percent, synchronously (there is no context to post to).</summary>
internal sealed class PercentProgress(long total, Action<double> report) : IProgress<long>
{
    private int _last = -1;

    public void Report(long value)
    {
        var percent = total <= 0 ? 100 : (int)Math.Min(100, value * 100 / total);
        if (percent != _last)
        {
            _last = percent;
            report(percent / 100.0);
        }
    }
}

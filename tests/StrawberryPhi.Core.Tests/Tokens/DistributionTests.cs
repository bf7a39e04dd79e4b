using StrawberryPhi.Core.Tokens;

namespace StrawberryPhi.Core.Tests.Tokens;

public class DistributionTests
{
    [Fact]
    public void Of_KnownValues_MatchesNumpyLinearPercentiles()
    {
        // numpy: np.percentile([1,2,3,4,10], [5,50,95]) == [1.2, 3.0, 8.8]
        var d = Distribution.Of([10, 1, 4, 3, 2]);
        Assert.Equal(5, d.Count);
        Assert.Equal(1, d.Min);
        Assert.Equal(10, d.Max);
        Assert.Equal(4.0, d.Mean, 10);
        Assert.Equal(3.0, d.Median, 10);
        Assert.Equal(1.2, d.P5, 10);
        Assert.Equal(8.8, d.P95, 10);
    }

    [Fact]
    public void Of_EvenCount_MedianInterpolates()
    {
        Assert.Equal(2.5, Distribution.Of([1, 2, 3, 4]).Median, 10);
    }

    [Fact]
    public void Of_Empty_IsEmpty()
    {
        Assert.Equal(Distribution.Empty, Distribution.Of([]));
    }

    [Fact]
    public void Histogram_CountsEveryValueOnce()
    {
        var values = Enumerable.Range(0, 1000).Select(i => i * 7 % 501).Order().ToList();
        var bins = Histogram.Of(values);
        Assert.Equal(values.Count, bins.Sum(b => b.Count));
        Assert.True(bins.Count <= 20);
        Assert.All(bins.Zip(bins.Skip(1)), pair => Assert.Equal(pair.First.To, pair.Second.From));
    }
}

using StrawberryPhi.Core.Evaluation;

namespace StrawberryPhi.Core.Tests.Evaluation;

public class StatisticsTests
{
    [Fact]
    public void Wilson_KnownValues()
    {
        // 8 of 10: the textbook Wilson 95% interval is 0.490 to 0.943.
        var p = Statistics.Wilson(8, 10);

        Assert.Equal(0.8, p.Value);
        Assert.Equal(0.490, p.Low, 3);
        Assert.Equal(0.943, p.High, 3);
    }

    [Fact]
    public void Wilson_AllOrNothing_StaysInsideZeroToOne()
    {
        Assert.Equal((0.0, 0.0), (Statistics.Wilson(0, 20).Value, Statistics.Wilson(0, 20).Low));
        Assert.True(Statistics.Wilson(0, 20).High is > 0.1 and < 0.2);
        Assert.Equal(1.0, Statistics.Wilson(20, 20).High);
        Assert.Equal((0.0, 1.0), (Statistics.Wilson(0, 0).Low, Statistics.Wilson(0, 0).High));
    }

    [Fact]
    public void Wilson_EveryCount_TheEstimateLiesInsideItsInterval()
    {
        // Computed, the bound at 0 of 6 came out 1e-17 above the estimate.
        for (var n = 1; n <= 300; n++)
        {
            foreach (var k in new[] { 0, n / 2, n })
            {
                var p = Statistics.Wilson(k, n);
                Assert.True(p.Low <= p.Value && p.Value <= p.High, $"{k}/{n}: {p}");
            }
        }
    }

    [Theory]
    [InlineData(0, 0, 1.0)]
    [InlineData(5, 5, 1.0)]
    [InlineData(10, 0, 0.001953125)]   // 2 · (1/2)^10
    [InlineData(7, 1, 0.0703125)]       // 2 · (1 + 8) / 256
    public void McNemarExact_BinomialTail(int b, int c, double expected)
    {
        Assert.Equal(expected, Statistics.McNemarExact(b, c), 9);
    }

    [Fact]
    public void McNemarExact_LargeCounts_NoOverflow()
    {
        var p = Statistics.McNemarExact(600, 400);

        Assert.True(p is > 0 and < 1e-9, $"p = {p}");
    }

    [Fact]
    public void Paired_CountsEachWayAndTestsTheDisagreements()
    {
        var items = new[] { (true, true), (true, false), (true, false), (false, true), (false, false) };

        var paired = Statistics.Paired(items);

        Assert.Equal((5, 1, 2, 1, 1), (paired.Items, paired.Both, paired.OnlyFirst, paired.OnlySecond, paired.Neither));
        Assert.Equal(1.0, paired.PValue, 9); // 2 · P(X ≤ 1), X ~ Bin(3, ½) = 2 · 0.5 → capped at 1
    }

    [Fact]
    public void Transitions_NetGainIsWrongToRightMinusRightToWrong()
    {
        var t = Transitions.Of([(true, true), (true, false), (false, true), (false, true), (false, false)]);

        Assert.Equal((1, 1, 2, 1), (t.RightRight, t.RightWrong, t.WrongRight, t.WrongWrong));
        Assert.Equal(0.2, t.NetGain, 9);
    }

    [Fact]
    public void FirstAnswer_ThinkingBeforeTheFirstReflection()
    {
        var text = "<thinking>12*3 = 38<reflection>12*3 is 36, not 38</reflection>so 36</thinking><output>36</output>";

        Assert.Equal("12*3 = 38", Answers.First(text));
        Assert.False(Graders.Grade("numeric", Answers.First(text)!, "36").Pass);
        Assert.True(Graders.Grade("numeric", text, "36").Pass);
        Assert.Null(Answers.First("<thinking>easy</thinking><output>4</output>"));
    }
}

using StrawberryPhi.Cli.Output;

namespace StrawberryPhi.Cli.Tests;

public class TerminalChartTests
{
    [Fact]
    public void Render_FallingValues_TopLeftToBottomRightWithTheScale()
    {
        var lines = TerminalChart.Render([4, 3, 2, 1], width: 4, height: 4);

        Assert.Equal(["4 │•", "  │ •", "  │  •", "1 │   •"], lines);
    }

    [Fact]
    public void Render_MorePointsThanColumns_AveragesEachColumn()
    {
        var lines = TerminalChart.Render([2, 2, 0, 0], width: 2, height: 2);

        Assert.Equal(["2 │•", "0 │ •"], lines);
    }

    [Fact]
    public void Render_NoPoints_SaysSo()
    {
        Assert.Equal(["(no points yet)"], TerminalChart.Render([]));
    }
}

using System.Globalization;
using System.Text;

namespace StrawberryPhi.Cli.Output;

/// <summary>A line chart in text: the values resampled to the width (mean per column), one mark per column, a scale on the left.</summary>
public static class TerminalChart
{
    public static IReadOnlyList<string> Render(IReadOnlyList<double> values, int width = 60, int height = 10)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 2);
        var finite = values.Where(double.IsFinite).ToList();
        if (finite.Count == 0)
        {
            return ["(no points yet)"];
        }
        var columns = Math.Min(width, finite.Count);
        var resampled = new double[columns];
        for (var c = 0; c < columns; c++)
        {
            var from = c * finite.Count / columns;
            var to = Math.Max(from + 1, (c + 1) * finite.Count / columns);
            resampled[c] = finite.Skip(from).Take(to - from).Average();
        }
        var (min, max) = (resampled.Min(), resampled.Max());
        var span = max - min;
        var grid = new char[height, columns];
        for (var r = 0; r < height; r++)
        {
            for (var c = 0; c < columns; c++)
            {
                grid[r, c] = ' ';
            }
        }
        for (var c = 0; c < columns; c++)
        {
            var row = span == 0 ? height / 2 : (int)Math.Round((max - resampled[c]) / span * (height - 1));
            grid[row, c] = '•';
        }
        var labelWidth = Math.Max(Label(min).Length, Label(max).Length);
        var lines = new List<string>(height);
        for (var r = 0; r < height; r++)
        {
            var label = r == 0 ? Label(max) : r == height - 1 ? Label(min) : "";
            var line = new StringBuilder(label.PadLeft(labelWidth)).Append(" │");
            for (var c = 0; c < columns; c++)
            {
                line.Append(grid[r, c]);
            }
            lines.Add(line.ToString().TrimEnd());
        }
        return lines;
    }

    private static string Label(double value) => value.ToString(Math.Abs(value) >= 100 ? "0" : "0.###", CultureInfo.InvariantCulture);
}

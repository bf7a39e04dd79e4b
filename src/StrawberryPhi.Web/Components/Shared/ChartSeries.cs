namespace StrawberryPhi.Web.Components.Shared;

/// <summary>One curve: x (steps, or Unix seconds) and y (null where not measured), in a colour readable on both themes.</summary>
public sealed record ChartSeries(string Label, string Color, IReadOnlyList<double> X, IReadOnlyList<double?> Y, bool Dashed = false);

using Microsoft.AspNetCore.Components;
using Bunit;
using StrawberryPhi.Core.Datasets;
using StrawberryPhi.Core.Reflection;
using StrawberryPhi.Web.Components.Shared;
using StrawberryPhi.Web.Datasets;

namespace StrawberryPhi.Web.Tests.Components;

public sealed class DatasetPreviewTests : ComponentTest
{
    private static readonly string File = StudioHost.Example("with-defects.jsonl");

    /// <summary>Pages read through the real line index and search, as the dataset service does.</summary>
    private static Task<ExamplePage> Load(int page, int size, string? search, CancellationToken cancellationToken)
    {
        var index = LineIndex.Build(File, cancellationToken);
        using var stream = new FileStream(File, FileMode.Open, FileAccess.Read);
        IReadOnlyList<long> lines = search is null
            ? Enumerable.Range((page * size) + 1, size).Select(i => (long)i).Where(i => i <= index.Lines).ToList()
            : LineSearch.Find(File, search, 1000, cancellationToken).Skip(page * size).Take(size).ToList();
        var total = search is null ? index.Lines : LineSearch.Find(File, search, 1000, cancellationToken).Count;
        return Task.FromResult(new ExamplePage(total, page, size, false, lines.Select(l => ExampleView.Parse(l, index.ReadLine(stream, l), ReflectionTags.Default)).ToList()));
    }

    private static long[] ShownLines(IRenderedComponent<DatasetPreview> cut) =>
        cut.FindAll("[data-testid=example]").Select(e => long.Parse(e.GetAttribute("data-line")!, System.Globalization.CultureInfo.InvariantCulture)).ToArray();

    [Fact]
    public async Task FirstPage_ThenNext_ShowsTheLinesInOrder()
    {
        var cut = Render<DatasetPreview>(p => p.Add(c => c.Load, Load).Add(c => c.PageSize, 10));
        cut.WaitForAssertion(() => Assert.Equal([1L, 2, 3, 4, 5, 6, 7, 8, 9, 10], ShownLines(cut)), Wait);
        Assert.Equal("1–10 of 14 lines", cut.Find("[data-testid=preview-range]").TextContent.Trim());

        await cut.Find("[data-testid=preview-next] button, button[data-testid=preview-next]").ClickAsync(new());

        cut.WaitForAssertion(() => Assert.Equal([11L, 12, 13, 14], ShownLines(cut)), Wait);
    }

    [Fact]
    public void BrokenLine_ShowsItsParseErrorAndRawText()
    {
        var cut = Render<DatasetPreview>(p => p.Add(c => c.Load, Load).Add(c => c.PageSize, 10));

        cut.WaitForAssertion(() => Assert.Contains("Not valid JSON", cut.Find("[data-line='8']").TextContent, StringComparison.Ordinal), Wait);
    }

    [Fact]
    public async Task Search_ShowsOnlyMatchingLines_OrSaysNothingMatched()
    {
        var cut = Render<DatasetPreview>(p => p.Add(c => c.Load, Load).Add(c => c.PageSize, 10));
        cut.WaitForAssertion(() => Assert.NotEmpty(ShownLines(cut)), Wait);

        await cut.Find("[data-testid=preview-search] input, input[data-testid=preview-search]").InputAsync(new ChangeEventArgs { Value = "assistent" });
        cut.WaitForAssertion(() => Assert.Equal([3L], ShownLines(cut)), Wait);

        await cut.Find("[data-testid=preview-search] input, input[data-testid=preview-search]").InputAsync(new ChangeEventArgs { Value = "no such text anywhere" });
        cut.WaitForAssertion(() => Assert.Contains("No example contains", cut.Find("[data-testid=preview-empty]").TextContent, StringComparison.Ordinal), Wait);
    }
}

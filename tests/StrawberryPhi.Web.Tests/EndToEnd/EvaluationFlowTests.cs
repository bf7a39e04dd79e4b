using System.Globalization;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace StrawberryPhi.Web.Tests.EndToEnd;

/// <summary>The playground side by side and an evaluation run, in a real browser against the local engine.</summary>
public sealed class EvaluationFlowTests(BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    private static readonly LocatorAssertionsToHaveTextOptions Answering = new() { Timeout = 120_000 };

    private StudioHost Studio => browser.Studio;

    private static async Task GoAsync(IPage page, string path)
    {
        await page.GotoAsync(path);
        await Expect(page.Locator(".mud-layout[data-interactive=true]")).ToHaveCountAsync(1);
    }

    /// <summary>A MudBlazor field's input, whether the test id lands on the input or on its wrapper.</summary>
    private static ILocator Input(IPage page, string testId) => page.Locator($"input[data-testid={testId}], [data-testid={testId}] input");

    private static async Task ChooseModelAsync(IPage page, string testId, string model)
    {
        var input = Input(page, testId);
        await input.FillAsync(model);
        await input.PressAsync("Escape");
        await input.PressAsync("Tab");
        await Expect(input).ToHaveValueAsync(model);
    }

    [Fact]
    public async Task Playground_TwoModelsSideBySide_StreamedWithMetricsAndADiff_ThenExported()
    {
        var local = await Studio.LocalConnectionAsync();
        var page = await browser.NewPageAsync();
        await GoAsync(page, $"playground?providerId={local}&model=strawberry-tiny");
        await Expect(Input(page, "model-0")).ToHaveValueAsync("Local engine/strawberry-tiny");
        await page.ClickAsync("[data-testid=add-model]");
        await ChooseModelAsync(page, "model-1", "Local engine/strawberry-small");
        await page.ClickAsync("[data-testid=parameters-panel] .mud-expand-panel-header");
        await Input(page, "max-tokens").FillAsync("8");
        // Out of range: said at the field as it is typed, and the send refused with the same words.
        await Input(page, "temperature").FillAsync("5");
        await Input(page, "temperature").PressAsync("Tab");
        await Expect(page.Locator("[data-testid=parameters-panel]")).ToContainTextAsync("Temperature is between 0 and 2; got 5.");
        await page.Locator("textarea[data-testid=message], [data-testid=message] textarea").FillAsync("1+2=");
        await page.ClickAsync("[data-testid=send]");
        await Expect(page.Locator("[data-testid=playground-error]")).ToContainTextAsync("Temperature is between 0 and 2; got 5.");
        await Expect(page.Locator("[data-testid=exchange]")).ToHaveCountAsync(0);
        await Input(page, "temperature").FillAsync("0");
        await Input(page, "temperature").PressAsync("Tab");
        await page.Locator("textarea[data-testid=message], [data-testid=message] textarea").FillAsync("1+2=");

        await page.ClickAsync("[data-testid=send]");

        await Expect(page.Locator("[data-testid=reply-metrics]")).ToHaveCountAsync(2, new() { Timeout = 120_000 });
        await Expect(page.Locator("[data-testid=reply-metrics]").First).ToContainTextAsync("tokens/s", new() { Timeout = 120_000 });
        await Expect(page.Locator("[data-testid=reply-metrics]").First).ToContainTextAsync("finish: length");
        await Expect(page.Locator("[data-testid=answer-diff]")).ToHaveCountAsync(1);

        // Saved as it went: the export has one row per model with every parameter.
        await Expect(page.Locator("[data-testid=export-csv]")).ToBeVisibleAsync();
        var download = await page.RunAndWaitForDownloadAsync(() => page.ClickAsync("[data-testid=export-csv]"));
        var csv = await File.ReadAllTextAsync(await download.PathAsync());
        using var reader = new CsvHelper.CsvReader(new StringReader(csv), CultureInfo.InvariantCulture);
        await reader.ReadAsync();
        reader.ReadHeader();
        var models = new List<string>();
        while (await reader.ReadAsync())
        {
            models.Add(reader.GetField("model")!);
            Assert.Equal("8", reader.GetField("max_completion_tokens"));
            Assert.Equal("1+2=", reader.GetField("user"));
        }
        Assert.Equal(["Local engine/strawberry-tiny", "Local engine/strawberry-small"], models);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task Evaluation_UploadASet_RunIt_ReadTheTransitionMatrix_ExportTheResults()
    {
        var set = Path.Combine(Studio.DataDirectory, "e2e-set.jsonl");
        await File.WriteAllLinesAsync(set, Enumerable.Range(1, 5).Select(i => $$"""{"id": "q{{i}}", "prompt": "{{i}}+{{i}}=", "reference": {{2 * i}}}"""));
        var page = await browser.NewPageAsync();
        await GoAsync(page, "evaluations");
        await Expect(page.Locator("[data-testid=upload-zone]")).ToHaveAttributeAsync("data-ready", "true");
        await page.SetInputFilesAsync("[data-testid=upload-input]", set);
        await Expect(page.Locator("[data-testid=sets]")).ToContainTextAsync("e2e-set");
        await ChooseModelAsync(page, "run-model-0", "Local engine/strawberry-tiny");
        await Input(page, "run-max-tokens").FillAsync("8");

        await page.ClickAsync("[data-testid=start-run]");

        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/evaluations/runs/[0-9a-f-]{36}$"));
        await Expect(page.Locator("[data-testid=job-status]").First).ToHaveTextAsync("succeeded", Answering);
        await Expect(page.Locator("[data-testid=run-progress-text]")).ToContainTextAsync("5 of 5 answers");
        var cells = new[] { "rr", "rw", "wr", "ww" };
        var counts = new List<int>();
        foreach (var cell in cells)
        {
            counts.Add(int.Parse(await page.Locator($"[data-testid=transitions] [data-testid={cell}]").InnerTextAsync(), CultureInfo.InvariantCulture));
        }
        Assert.Equal(5, counts.Sum());
        await Expect(page.Locator("[data-testid=results] tbody tr")).ToHaveCountAsync(5);

        await page.ClickAsync("[data-testid=export-menu]");
        var download = await page.RunAndWaitForDownloadAsync(() => page.ClickAsync("[data-testid=export-jsonl]"));
        var lines = (await File.ReadAllLinesAsync(await download.PathAsync())).Where(l => l.Length > 0).ToList();
        Assert.Equal(5, lines.Count);
        Assert.All(lines, l => Assert.Contains("\"transition\"", l, StringComparison.Ordinal));
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task ImportHistory_OpenTheInventory_CaptureGoldenOutputs()
    {
        var remote = await Studio.OutsideJobAsync(10, 1, 5);
        StrawberryPhi.Web.Evaluation.EvalSetView set;
        using (var items = new MemoryStream(System.Text.Encoding.UTF8.GetBytes("{\"prompt\": \"1+1=\", \"reference\": 2}\n{\"prompt\": \"3+1=\", \"reference\": 4}\n")))
        {
            set = await Studio.Service<StrawberryPhi.Web.Evaluation.EvalService>().CreateSetAsync("golden-e2e", items, CancellationToken.None);
        }
        var page = await browser.NewPageAsync();
        await GoAsync(page, "jobs");
        await page.ClickAsync("[data-testid=import-history]");
        await page.GetByRole(AriaRole.Menuitem, new() { Name = "Every job of Local engine" }).ClickAsync();
        await Expect(page.Locator(".mud-snackbar")).ToContainTextAsync("new)", new() { Timeout = 60_000 });
        await Expect(page.Locator("[data-testid=imported]").First).ToBeVisibleAsync();
        // The button is itself again (the import's last progress report arrives after its end).
        await Expect(page.Locator("[data-testid=import-history]")).ToContainTextAsync("Import history");

        await GoAsync(page, "inventory");
        var model = Studio.Service<LocalEngine.Api.LocalEngine>().Store.GetJob(remote)!.FineTunedModel!;
        var row = page.Locator("[data-testid=inventory] tr", new() { HasText = model });
        await Expect(row).ToHaveCountAsync(1);
        await Expect(row.Locator("[data-testid=golden-state]")).ToHaveTextAsync("none");
        // By default each model's own validation data: this job had none, and the refusal says so.
        await row.Locator("[data-testid=capture-golden]").ClickAsync();
        await Expect(page.Locator(".mud-snackbar")).ToContainTextAsync("had no validation file: use an evaluation set instead");
        await Expect(row.Locator("[data-testid=golden-state]")).ToHaveTextAsync("none");
        await page.Locator("div.mud-input-control.mud-select", new() { Has = page.Locator("input[data-testid=golden-set]") }).ClickAsync();
        await page.Locator(".mud-popover-open .mud-list-item", new() { HasText = "golden-e2e (2 items)" }).ClickAsync();
        await Expect(page.Locator("input[data-testid=golden-set]").First).ToHaveValueAsync(set.Id.ToString());
        await row.Locator("[data-testid=capture-golden]").ClickAsync();
        await Expect(row.Locator("[data-testid=golden-state]")).ToHaveTextAsync("captured", new() { Timeout = 60_000 });

        // From the imported job's page, the same job once more (its training file came with the import, and is validated like any upload).
        var imported = (await Studio.Service<StrawberryPhi.Web.Jobs.JobService>().ListAsync(new StrawberryPhi.Web.Jobs.JobQuery(Search: remote), CancellationToken.None)).Items.Single();
        await Studio.WaitValidatedAsync(imported.TrainingDatasetId!.Value);
        await row.Locator("a").First.ClickAsync();
        await Expect(page.Locator("[data-testid=job-imported]")).ToBeVisibleAsync();
        await page.ClickAsync("[data-testid=rerun-job]");
        await page.ClickAsync("[data-testid=rerun-start]");
        await Expect(page.Locator("[data-testid=rerun-of]")).ToBeVisibleAsync(new() { Timeout = 30_000 });
        await GoAsync(page, "inventory");

        // The whole record as a bundle, and that bundle brought back: everything in it is here already.
        var download = await page.RunAndWaitForDownloadAsync(() => page.ClickAsync("[data-testid=export-bundle]"));
        Assert.Matches("^strawberry-phi-bundle-[0-9]{8}-[0-9]{6}\\.zip$", download.SuggestedFilename);
        var bundle = await download.PathAsync();
        await Expect(page.Locator("[data-testid=upload-zone]")).ToHaveAttributeAsync("data-ready", "true");
        await page.SetInputFilesAsync("[data-testid=upload-input]", new FilePayload
        {
            Name = download.SuggestedFilename, MimeType = "application/zip", Buffer = await File.ReadAllBytesAsync(bundle),
        });
        await Expect(page.Locator("[data-testid=bundle-result]")).ToContainTextAsync("Nothing new: everything in the bundle is here already.", new() { Timeout = 30_000 });
        await page.Context.CloseAsync();
    }
}

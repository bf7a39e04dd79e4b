using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace StrawberryPhi.Web.Tests.EndToEnd;

/// <summary>What a new user does first, in a real browser, from an empty data directory.</summary>
public sealed class StudioFlowTests(BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    private static readonly System.Text.RegularExpressions.Regex DatasetPage = new("/datasets/[0-9a-f-]{36}$");

    static StudioFlowTests() => SetDefaultExpectTimeout(30_000);

    /// <summary>MudBlazor puts extra attributes on the input or on its wrapper, depending on the component.</summary>
    private static string Input(string testId) => $"input[data-testid={testId}], [data-testid={testId}] input";

    /// <summary>Waits until Blazor's circuit is up (the prerendered page cannot handle clicks), so clicks reach .NET.</summary>
    private static async Task GoAsync(IPage page, string path)
    {
        await page.GotoAsync(path);
        await Expect(page.Locator(".mud-layout[data-interactive=true]")).ToHaveCountAsync(1);
    }

    /// <summary>Picks a file on the datasets page, as a user does, and waits for the new dataset's page.</summary>
    private static async Task UploadThroughThePageAsync(IPage page, string example)
    {
        await GoAsync(page, "datasets");
        await Expect(page.Locator("[data-testid=upload-zone]")).ToHaveAttributeAsync("data-ready", "true");
        await page.SetInputFilesAsync("[data-testid=upload-input]", StudioHost.Example(example));
        await Expect(page).ToHaveURLAsync(DatasetPage);
    }

    /// <summary>
    /// Waits until the page shows a dataset other than <paramref name="previous"/>. Polls the URL: Blazor navigates
    /// in the page, sometimes before a wait for a navigation event would start, which then never sees it.
    /// </summary>
    private static async Task ExpectAnotherDatasetPageAsync(IPage page, string previous)
    {
        await Expect(page).Not.ToHaveURLAsync(previous);
        await Expect(page).ToHaveURLAsync(DatasetPage);
    }

    [Fact]
    public async Task AddProvider_KeyNeverReachesThePageTheDatabaseOrTheDisk()
    {
        var key = $"sk-e2e-{Guid.NewGuid():N}7a1b";
        var page = await browser.NewPageAsync();
        await GoAsync(page, "settings");

        await page.ClickAsync("[data-testid=add-provider]");
        await page.FillAsync(Input("provider-name"), "My OpenAI");
        await page.FillAsync(Input("api-key"), key);
        await page.ClickAsync("[data-testid=save-provider]");

        var card = page.Locator("[data-testid=provider-card][data-name='My OpenAI']");
        await Expect(card).ToContainTextAsync("sk-…7a1b");
        await Expect(card.Locator("[data-testid=openai-wind-down]")).ToHaveTextAsync("no new fine-tuning jobs from 2027-01-06");
        Assert.DoesNotContain(key, await page.ContentAsync(), StringComparison.Ordinal);

        // Editing shows the mask only; saving without retyping keeps the key.
        await card.Locator("[data-testid=edit-provider]").ClickAsync();
        await Expect(page.Locator("[data-testid=key-hint]")).ToHaveTextAsync("sk-…7a1b");
        Assert.DoesNotContain(key, await page.ContentAsync(), StringComparison.Ordinal);
        await page.ClickAsync("[data-testid=save-provider]");
        await Expect(card).ToContainTextAsync("sk-…7a1b");

        Assert.Empty(browser.Studio.FilesContaining(key));
        Assert.Empty(browser.Studio.FilesContaining(key[7..^4]));
        Assert.DoesNotContain(browser.Studio.Logs, line => line.Contains(key[7..^4], StringComparison.Ordinal));

        // The built-in engine answers a test from the same page.
        var local = page.Locator("[data-testid=provider-card][data-name='Local engine']");
        await local.Locator("[data-testid=test-provider]").ClickAsync();
        await Expect(local.Locator("[data-testid=test-result]")).ToContainTextAsync("Connected: 2 models listed.");
    }

    [Fact]
    public async Task UploadDatasetWithDefects_SeeEachAtItsLine_Preview_ConvertAndSplit()
    {
        var page = await browser.NewPageAsync();
        await UploadThroughThePageAsync(page, "with-defects.jsonl");

        await Expect(page.Locator("[data-testid=validation-report]")).ToBeVisibleAsync();
        await Expect(page.Locator("[data-testid=dataset-name]")).ToHaveTextAsync("with-defects");
        foreach (var (line, code) in new[] { ("3", "unrecognized_role"), ("6", "example_missing_assistant_message"), ("8", "invalid_json"), ("10", "duplicate_example") })
        {
            var row = page.Locator("[data-testid=issue-table] tbody tr").Filter(new() { Has = page.Locator("[data-testid=issue-line]", new() { HasTextString = line }) }).Filter(new() { HasTextString = code });
            await Expect(row.First).ToBeVisibleAsync();
        }

        // A line number opens that example, with its issues.
        await page.Locator("[data-testid=issue-line]", new() { HasTextString = "8" }).First.ClickAsync();
        var dialog = page.Locator(".mud-dialog");
        await Expect(dialog).ToContainTextAsync("Line 8");
        await Expect(dialog).ToContainTextAsync("Not valid JSON");
        await dialog.Locator(".mud-button-close").ClickAsync();
        await Expect(dialog).ToHaveCountAsync(0);

        // The preview shows conversations, ten to a page.
        await page.GetByRole(AriaRole.Tab, new() { Name = "Preview" }).ClickAsync();
        await Expect(page.Locator("[data-testid=example]")).ToHaveCountAsync(10);
        await Expect(page.Locator("[data-testid=preview-range]")).ToHaveTextAsync("1–10 of 14 lines");
        await Expect(page.Locator("[data-testid=example][data-line='4'] [data-testid=output]")).ToHaveTextAsync("29");

        // Tokens and cost for the default target model.
        await page.GetByRole(AriaRole.Tab, new() { Name = "Tokens & cost" }).ClickAsync();
        await Expect(page.Locator("[data-testid=token-histogram]")).ToBeVisibleAsync();
        await Expect(page.Locator("[data-testid=estimate]")).ToContainTextAsync("gpt-4o-mini-2024-07-18");

        // A dataset with errors is not offered to a provider, and the page says why.
        await page.GetByRole(AriaRole.Tab, new() { Name = "Upload to provider" }).ClickAsync();
        await Expect(page.Locator("[data-testid=not-uploadable]")).ToContainTextAsync("4 errors the provider would reject it for");
        await Expect(page.Locator("[data-testid=upload-button]")).ToBeDisabledAsync();

        // Split: two new datasets, recorded as made from this one.
        var original = page.Url;
        await page.GetByRole(AriaRole.Tab, new() { Name = "Transform" }).ClickAsync();
        await page.ClickAsync("[data-testid=split-button]");
        await Expect(page.Locator("[data-testid=child-link]")).ToHaveCountAsync(2);
        await Expect(page.Locator("[data-testid=child-link]").First).ToHaveTextAsync("with-defects · train");

        // Convert: a new dataset in reflection form, with the original untouched.
        await page.ClickAsync("[data-testid=convert-button]");
        await ExpectAnotherDatasetPageAsync(page, original);
        await Expect(page.Locator("[data-testid=dataset-name]")).ToHaveTextAsync("with-defects · reflection");
        await Expect(page.Locator("[data-testid=provenance]")).ToContainTextAsync("convert of with-defects");
        await Expect(page.Locator("[data-testid=validation-report]")).ToBeVisibleAsync();
        await page.GetByRole(AriaRole.Tab, new() { Name = "Tokens & cost" }).ClickAsync();
        await Expect(page.Locator("[data-testid=reflection-stats]")).ToContainTextAsync("Well-formed examples");
    }

    [Fact]
    public async Task UploadCsv_ImportStep_MakesAValidChatDataset()
    {
        var page = await browser.NewPageAsync();
        await UploadThroughThePageAsync(page, "qa.csv");

        await Expect(page.Locator("[data-testid=import-step]")).ToContainTextAsync("CSV");
        await Expect(page.Locator("pre.raw").First).ToHaveTextAsync("question,answer");
        var source = page.Url;
        await page.ClickAsync("[data-testid=import-button]");

        await ExpectAnotherDatasetPageAsync(page, source);
        await Expect(page.Locator("[data-testid=provenance]")).ToContainTextAsync("import of qa");
        await Expect(page.Locator("[data-testid=validation-report]")).ToContainTextAsync("12 examples");
        await Expect(page.Locator("[data-testid=error-count]")).ToHaveTextAsync("0 errors");

        // The clean dataset goes to the built-in engine, and the page shows the provider's file id.
        await page.GetByRole(AriaRole.Tab, new() { Name = "Upload to provider" }).ClickAsync();
        await Expect(page.Locator("[data-testid=not-uploadable]")).ToHaveCountAsync(0);
        await page.ClickAsync("[data-testid=upload-button]");
        await Expect(page.Locator("[data-testid=upload-status]")).ToHaveTextAsync("uploaded");
        await Expect(page.Locator("[data-testid=remote-file-id]")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex("^file-[0-9a-f]+$"));
    }

    [Fact]
    public async Task EveryPage_RendersWithItsTitleAndNoError()
    {
        var page = await browser.NewPageAsync();
        var errors = new List<string>();
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                errors.Add(message.Text);
            }
        };

        foreach (var (path, heading) in new[] { ("", "Dashboard"), ("datasets", "Datasets"), ("jobs", "Fine-tuning jobs"), ("playground", "Playground"), ("evaluations", "Evaluations"), ("settings", "Settings") })
        {
            await GoAsync(page, path);
            await Expect(page.Locator(".mud-main-content")).ToContainTextAsync(heading);
        }

        Assert.Empty(errors);
    }

    [Fact]
    public async Task ThemeToggle_IsRemembered()
    {
        var page = await browser.NewPageAsync();
        await GoAsync(page, "");
        var settings = browser.Studio.Service<Settings.SettingsService>();
        var before = (await settings.GetAsync(CancellationToken.None)).Theme;

        await page.ClickAsync("[data-testid=theme-toggle]");

        var after = await browser.Studio.WaitForAsync(async () => (await settings.GetAsync(CancellationToken.None)) is { } s && s.Theme != before ? s : null);
        Assert.NotEqual(before, after.Theme);
        await GoAsync(page, "");
        await Expect(page.Locator("[data-testid=theme-toggle]")).ToHaveAttributeAsync("aria-label", $"Theme: {after.Theme}");
    }
}

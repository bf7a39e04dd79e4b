using Microsoft.Playwright;
using StrawberryPhi.Providers;
using StrawberryPhi.Web.Data;
using StrawberryPhi.Web.Datasets;
using StrawberryPhi.Web.Providers;
using StrawberryPhi.Web.Settings;
using static Microsoft.Playwright.Assertions;

namespace StrawberryPhi.Web.Tests.EndToEnd;

/// <summary>What a new user hit in the studio, tried again in a real browser: each was a crash, a dead end or a rough edge.</summary>
public sealed class NoDeadEndsTests(BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    static NoDeadEndsTests() => SetDefaultExpectTimeout(30_000);

    private StudioHost Studio => browser.Studio;

    private static async Task GoAsync(IPage page, string path)
    {
        await page.GotoAsync(path);
        await Expect(page.Locator(".mud-layout[data-interactive=true]")).ToHaveCountAsync(1);
    }

    private async Task<DatasetDetail> ValidatedAsync(string example, string name)
    {
        var created = await Studio.UploadAsync(StudioHost.Example(example), name);
        return await Studio.WaitValidatedAsync(created.Id);
    }

    [Fact]
    public async Task Settings_RemoveWhileATestRuns_AsksFirst_AndThePageKeepsWorking()
    {
        var name = $"Slow {Guid.NewGuid():N}"[..12];
        var created = await Studio.Service<ProviderConnectionService>().CreateAsync(
            new ProviderInput(name, ProviderKind.Custom, new Uri(Studio.BaseAddress, "local/v1/").ToString(), null, null, null), CancellationToken.None);
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Studio.Faults.Rule = (request, _) =>
        {
            if (request.RequestUri!.AbsolutePath.EndsWith("/models", StringComparison.Ordinal) && request.RequestUri.Port == Studio.BaseAddress.Port)
            {
                arrived.TrySetResult();
                return new Fault.Hold(release.Task);
            }
            return null;
        };
        try
        {
            var page = await browser.NewPageAsync();
            await GoAsync(page, "settings");
            var card = page.Locator($"[data-testid=provider-card][data-name='{name}']");
            await card.Locator("[data-testid=test-provider]").ClickAsync();
            await arrived.Task.WaitAsync(StudioHost.Timeout);

            // Remove asks first; Cancel keeps the connection.
            await card.Locator("[data-testid=delete-provider]").ClickAsync();
            var dialog = page.Locator(".mud-dialog");
            await Expect(dialog).ToContainTextAsync($"Remove {name}?");
            await dialog.GetByRole(AriaRole.Button, new() { Name = "Cancel" }).ClickAsync();
            await Expect(card).ToHaveCountAsync(1);
            await card.Locator("[data-testid=delete-provider]").ClickAsync();
            await page.Locator(".mud-dialog").GetByRole(AriaRole.Button, new() { Name = "Remove" }).ClickAsync();
            await Expect(card).ToHaveCountAsync(0);

            // The test finishes on a connection that is gone: the page must go on answering.
            release.SetResult();
            await page.ClickAsync("[data-testid=add-provider]");
            await Expect(page.Locator("[data-testid=provider-form]")).ToBeVisibleAsync();
            await Expect(page.Locator("#blazor-error-ui")).ToBeHiddenAsync();
            await Expect(page.Locator("[data-testid=page-failed]")).ToHaveCountAsync(0);
            Assert.DoesNotContain(Studio.Logs, l => l.Contains("DbUpdateConcurrencyException", StringComparison.Ordinal));
            await page.Context.CloseAsync();
        }
        finally
        {
            Studio.Faults.Rule = null;
            release.TrySetResult();
        }
        _ = created;
    }

    [Fact]
    public async Task Settings_OutOfRangeNumber_IsSaidAtTheField_NotClamped()
    {
        var page = await browser.NewPageAsync();
        await GoAsync(page, "settings");
        await page.GetByRole(AriaRole.Tab, new() { Name = "Testing defaults" }).ClickAsync();
        var temperature = page.Locator("input[data-testid=temperature], [data-testid=temperature] input").First;
        await temperature.FillAsync("5");
        await page.ClickAsync("[data-testid=save-settings]");

        await Expect(page.GetByText("Temperature is between 0 and 2.")).ToBeVisibleAsync();
        await Expect(temperature).ToHaveValueAsync("5");
        Assert.NotEqual(5, (await Studio.Service<SettingsService>().GetAsync(CancellationToken.None)).Temperature);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task Dataset_RenameInThePage_CleanTheErrorsAway_SearchMarksTheMatch_DeleteAsksFirst()
    {
        var dataset = await ValidatedAsync("with-defects.jsonl", "rough.jsonl");
        var page = await browser.NewPageAsync();
        await GoAsync(page, $"datasets/{dataset.Summary.Id}");

        // Rename where the name is.
        await page.ClickAsync("[data-testid=rename-button]");
        var field = page.Locator("input[data-testid=rename-field], [data-testid=rename-field] input").First;
        await field.FillAsync("");
        await page.ClickAsync("[data-testid=rename-save]");
        await Expect(page.GetByText("A dataset name has 1 to 200 characters.")).ToBeVisibleAsync();
        await field.FillAsync("Support transcripts, first pass");
        await field.PressAsync("Enter");
        await Expect(page.Locator("[data-testid=dataset-name]")).ToHaveTextAsync("Support transcripts, first pass");

        // The report opens on errors and warnings; the preview marks what was searched for.
        await Expect(page.Locator("[data-testid=issue-table]")).Not.ToContainTextAsync("missing_system_message");
        await page.GetByRole(AriaRole.Tab, new() { Name = "Preview" }).ClickAsync();
        await page.Locator("input[data-testid=preview-search], [data-testid=preview-search] input").First.FillAsync("HELLO");
        await Expect(page.Locator("[data-testid=example][data-line='3'] [data-testid=match]")).ToHaveTextAsync("Hello");
        await Expect(page.Locator("[data-testid=example][data-line='3'] [data-testid=example-flagged]")).ToBeVisibleAsync();

        // A dataset with errors has a way forward: a cleaned copy, which says what it dropped and can be uploaded.
        await page.GetByRole(AriaRole.Tab, new() { Name = "Transform" }).ClickAsync();
        var original = page.Url;
        await page.ClickAsync("[data-testid=clean-button]");
        await Expect(page).Not.ToHaveURLAsync(original);
        await Expect(page.Locator("[data-testid=dataset-name]")).ToHaveTextAsync("Support transcripts, first pass · clean");
        await Expect(page.Locator("[data-testid=provenance]")).ToContainTextAsync("line 8 (invalid_json)");
        await Expect(page.Locator("[data-testid=error-count]")).ToHaveTextAsync("0 errors");
        await page.GetByRole(AriaRole.Tab, new() { Name = "Upload to provider" }).ClickAsync();
        await Expect(page.Locator("[data-testid=upload-button]")).ToBeEnabledAsync();
        // The local engine's bases have small contexts: the tab says how the examples fit before a job is made.
        await Expect(page.Locator("[data-testid=context-fit]")).ToContainTextAsync("strawberry-tiny has 256 tokens of context");

        // Delete asks first.
        await page.ClickAsync("[data-testid=delete-dataset]");
        await page.Locator(".mud-dialog").GetByRole(AriaRole.Button, new() { Name = "Cancel" }).ClickAsync();
        await Expect(page.Locator("[data-testid=dataset-name]")).ToBeVisibleAsync();
        await page.ClickAsync("[data-testid=delete-dataset]");
        await page.Locator(".mud-dialog").GetByRole(AriaRole.Button, new() { Name = "Delete" }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/datasets$"));
        // The page the studio opened after the action keeps the message that says what happened.
        await Expect(page.GetByText("Deleted Support transcripts, first pass · clean.")).ToBeVisibleAsync();
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task UnknownAddress_IsAPageThatSaysSo_UnknownApiStaysProblemDetails()
    {
        var page = await browser.NewPageAsync();
        var response = await page.GotoAsync("nope");

        Assert.Equal(404, response!.Status);
        await Expect(page.Locator("[data-testid=not-found]")).ToBeVisibleAsync();
        var api = await page.APIRequest.GetAsync("api/nope");
        Assert.Equal(404, api.Status);
        Assert.StartsWith("application/problem+json", api.Headers["content-type"], StringComparison.Ordinal);
        await page.Context.CloseAsync();
    }

    /// <summary>A finished evaluation run and a saved playground session with a reflection answer, for the pages that show them.</summary>
    private async Task<(Guid Run, Guid Session)> EvaluatedAsync(ThemeMode theme)
    {
        var local = await Studio.LocalConnectionAsync();
        var evals = Studio.Service<StrawberryPhi.Web.Evaluation.EvalService>();
        using var items = new MemoryStream(System.Text.Encoding.UTF8.GetBytes("{\"prompt\": \"1+1=\", \"reference\": 2}\n{\"prompt\": \"2+2=\", \"reference\": 4}\n"));
        var set = await evals.CreateSetAsync($"axe-set-{theme}", items, CancellationToken.None);
        var (run, _) = await evals.CreateRunAsync(new StrawberryPhi.Web.Evaluation.EvalRunInput(set.Id,
            [new StrawberryPhi.Web.Evaluation.EvalModelSpec(local, "strawberry-tiny", new StrawberryPhi.Web.Chat.ChatParameters { Temperature = 0, MaxCompletionTokens = 4 })],
            [new StrawberryPhi.Web.Evaluation.GraderSpec("numeric")]), null, CancellationToken.None);
        await Studio.WaitForAsync(async () => await evals.GetRunAsync(run.Id, CancellationToken.None) is { Status: "succeeded" } r ? r : null);
        var reply = new StrawberryPhi.Web.Chat.PlaygroundReply("<thinking>1+1=3<reflection>No: 2.</reflection></thinking><output>**2**</output>", "stop", 12, 3, 50, 5, 9, 0m, null);
        var session = await Studio.Service<StrawberryPhi.Web.Chat.PlaygroundService>().SaveAsync(null, null, new StrawberryPhi.Web.Chat.PlaygroundState("Be brief.",
            new StrawberryPhi.Web.Chat.ChatParameters(), [new StrawberryPhi.Web.Chat.PlaygroundColumn(local, "strawberry-tiny", "Local engine/strawberry-tiny"),
                new StrawberryPhi.Web.Chat.PlaygroundColumn(local, "strawberry-small", "Local engine/strawberry-small")],
            [new StrawberryPhi.Web.Chat.PlaygroundExchange("1+1=", [reply, reply with { Text = "2" }])]), CancellationToken.None);
        return (run.Id, session.Id);
    }

    [Theory]
    [InlineData(ThemeMode.Light)]
    [InlineData(ThemeMode.Dark)]
    public async Task EveryPage_InBothThemes_HasNoSeriousAccessibilityViolation(ThemeMode theme)
    {
        var dataset = await ValidatedAsync("with-defects.jsonl", $"axe-{theme}.jsonl");
        var job = (await Studio.FinishedJobAsync($"axe-job-{theme}.jsonl")).Id;
        var (run, session) = await EvaluatedAsync(theme);
        await Studio.Service<SettingsService>().SetThemeAsync(theme, CancellationToken.None);
        var page = await browser.NewPageAsync();
        var found = new List<string>();
        foreach (var (path, tab) in new (string, string?)[]
        {
            ("", null), ("datasets", null), ($"datasets/{dataset.Summary.Id}", null), ($"datasets/{dataset.Summary.Id}", "Tokens & cost"),
            ($"datasets/{dataset.Summary.Id}", "Preview"), ($"datasets/{dataset.Summary.Id}", "Transform"), ($"datasets/{dataset.Summary.Id}", "Upload to provider"),
            ("settings", null), ("settings", "Testing defaults"), ("settings", "Notifications"), ("settings", "Appearance"),
            ("jobs", null), ("jobs/new", null), ($"jobs/{job}", null), ($"jobs/{job}", "Checkpoints (1)"), ($"jobs/{job}", "Hyperparameters"),
            ($"jobs/{job}", "Details"), ($"jobs/compare?ids={job}", null), ("playground", null), ($"playground?session={session}", null), ("evaluations", null),
            ($"evaluations/runs/{run}", null), ("inventory", null), ("nope", null),
        })
        {
            await GoAsync(page, path);
            await Expect(page.Locator("[data-testid=theme-toggle]")).ToHaveAttributeAsync("aria-label", $"Theme: {theme}");
            if (tab is not null)
            {
                await page.GetByRole(AriaRole.Tab, new() { Name = tab }).ClickAsync();
                await Expect(page.GetByRole(AriaRole.Tab, new() { Name = tab })).ToHaveAttributeAsync("aria-selected", "true");
            }
            found.AddRange((await Axe.SeriousViolationsAsync(page)).Select(v => $"/{path}{(tab is null ? "" : $" [{tab}]")}: {v}"));
        }
        await page.Context.CloseAsync();
        await Studio.Service<SettingsService>().SetThemeAsync(ThemeMode.System, CancellationToken.None);

        Assert.True(found.Count == 0, string.Join("\n", found));
    }
}

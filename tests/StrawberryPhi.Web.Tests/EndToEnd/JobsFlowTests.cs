using System.Globalization;
using Microsoft.Playwright;
using StrawberryPhi.Web.Jobs;
using static Microsoft.Playwright.Assertions;

namespace StrawberryPhi.Web.Tests.EndToEnd;

/// <summary>Fine-tuning jobs in a real browser: created in the form, watched live without a reload, cancelled, notified.</summary>
public sealed class JobsFlowTests(BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    /// <summary>
    /// How long a 450-step job may take while other test classes load both cores. Given to each wait on the job
    /// explicitly: the default expect timeout is one static that every browser test class sets.
    /// </summary>
    private static readonly LocatorAssertionsToHaveTextOptions Training = new() { Timeout = 180_000 };

    private StudioHost Studio => browser.Studio;

    private static async Task GoAsync(IPage page, string path)
    {
        await page.GotoAsync(path);
        await Expect(page.Locator(".mud-layout[data-interactive=true]")).ToHaveCountAsync(1);
    }

    [Fact]
    public async Task CreateInTheForm_StatusAndChartMoveWithoutAReload_ThenTheNotification()
    {
        var dataset = await Studio.SumsDatasetAsync("e2e-train.jsonl", 60);
        var page = await browser.NewPageAsync();
        await GoAsync(page, $"jobs/new?dataset={dataset}");
        await Expect(page.Locator("[data-testid=job-estimate]")).ToContainTextAsync("60");
        await page.FillAsync("[data-testid=hyper-n_epochs]", "30");
        await page.FillAsync("[data-testid=hyper-batch_size]", "4");
        await page.Keyboard.PressAsync("Tab");
        await Expect(page.Locator("[data-testid=billed-tokens]")).Not.ToHaveTextAsync("");
        await Expect(page.Locator("[data-testid=job-submit]")).ToBeEnabledAsync();

        await page.ClickAsync("[data-testid=job-submit]");

        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/jobs/[0-9a-f-]{36}$"));
        await page.EvaluateAsync("() => window.__stayed = true"); // gone if the page reloads
        var chart = page.Locator("[data-testid=metrics-chart]");
        await Expect(chart.Locator("canvas")).ToHaveCountAsync(1);
        await Expect(page.Locator("[data-testid=job-status]").First).ToHaveTextAsync("running", Training);
        var first = int.Parse(await chart.GetAttributeAsync("data-points") ?? "0", CultureInfo.InvariantCulture);
        await Expect(chart).Not.ToHaveAttributeAsync("data-points", first.ToString(CultureInfo.InvariantCulture), new() { Timeout = 180_000 }); // more points arrived
        await Expect(page.Locator("[data-testid=job-status]").First).ToHaveTextAsync("succeeded", Training);
        await Expect(page.Locator("[data-testid=copy-model]")).ToBeVisibleAsync();
        Assert.True(await page.EvaluateAsync<bool>("() => window.__stayed === true"), "the page reloaded");

        // The ending is told: a toast and the bell's list.
        await Expect(page.Locator(".mud-snackbar")).ToContainTextAsync("Fine-tuning succeeded");
        await Expect(page.Locator("[data-testid=notification-count] .mud-badge")).ToBeVisibleAsync();
        await page.GetByRole(AriaRole.Button, new() { NameRegex = new System.Text.RegularExpressions.Regex("^Notifications \\([1-9][0-9]* unread\\)$") }).ClickAsync();
        await Expect(page.Locator("[data-testid=notification]").First).ToContainTextAsync("Fine-tuning succeeded");
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task CancelAnotherJob_AsksFirst_ThenCancelled()
    {
        var dataset = await Studio.SumsDatasetAsync("e2e-cancel.jsonl", 60);
        var (job, _) = await Studio.Service<JobService>().CreateAsync(StudioHost.JobInput(await Studio.LocalConnectionAsync(), dataset, epochs: 50, suffix: "to-cancel"), null, CancellationToken.None);
        var page = await browser.NewPageAsync();
        await GoAsync(page, $"jobs/{job.Id}");
        await Expect(page.Locator("[data-testid=job-status]").First).ToHaveTextAsync("running", Training);

        await page.ClickAsync("[data-testid=cancel-job]");
        var dialog = page.Locator(".mud-dialog");
        await Expect(dialog).ToContainTextAsync("Cancel this job?");
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Cancel the job" }).ClickAsync();

        await Expect(page.Locator("[data-testid=job-status]").First).ToHaveTextAsync("cancelled", Training);
        await Expect(page.Locator("[data-testid=cancel-job]")).ToHaveCountAsync(0);
        await GoAsync(page, "jobs");
        await Expect(page.Locator("[data-testid=job-table]")).ToContainTextAsync("to-cancel");
        await page.Context.CloseAsync();
    }
}

extern alias studio;

using System.Diagnostics;
using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Playwright;
using studio::StrawberryPhi.Web;
using studio::StrawberryPhi.Web.Data;
using studio::StrawberryPhi.Web.Jobs;

namespace StrawberryPhi.Benchmarks;

/// <summary>
/// The jobs issue's targets, on the real studio (SQLite, Kestrel) and Debian's Chromium:
/// the jobs list at many jobs, a job page with many metric points, and how long a stored change takes to reach an
/// open page (from the save to the browser's DOM), as p50/p95.
/// </summary>
public static class JobsScale
{
    public static async Task RunAsync(int jobs, int points, int samples)
    {
        var directory = Directory.CreateTempSubdirectory("phi-bench-jobs-").FullName;
        try
        {
            await using var studio = new Studio(directory);
            studio.Start();
            var (listed, pageJob) = await SeedAsync(studio, jobs, points);
            Console.WriteLine($"seeded {jobs:N0} jobs and {points:N0} metric points on one of them");

            var service = studio.Services.GetRequiredService<JobService>();
            Report("JobService.ListAsync, first page of 50", await TimeAsync(30, () => service.ListAsync(new JobQuery(), CancellationToken.None)));
            Report("JobService.ListAsync, search 'suffix-77'", await TimeAsync(30, () => service.ListAsync(new JobQuery(Search: "suffix-77"), CancellationToken.None)));
            Report("JobService.ListAsync, page 150 (skip 7,450)", await TimeAsync(30, () => service.ListAsync(new JobQuery(Skip: 7_450), CancellationToken.None)));
            using var http = new HttpClient { BaseAddress = studio.BaseAddress };
            Report("GET /api/jobs?take=50", await TimeAsync(30, () => http.GetStringAsync("api/jobs?take=50")));
            Report($"JobService.MetricsAsync ({points:N0} points)", await TimeAsync(20, () => service.MetricsAsync(pageJob, CancellationToken.None)));
            var body = await http.GetStringAsync($"api/jobs/{pageJob}/metrics");
            Report($"GET /api/jobs/{{id}}/metrics ({body.Length / 1024:N0} KB)", await TimeAsync(20, () => http.GetStringAsync($"api/jobs/{pageJob}/metrics")));

            using var playwright = await Playwright.CreateAsync();
            await using var browser = await playwright.Chromium.LaunchAsync(new() { ExecutablePath = "/usr/bin/chromium", Headless = true, Args = ["--no-sandbox", "--disable-dev-shm-usage"] });
            var page = await browser.NewPageAsync(new() { BaseURL = studio.BaseAddress.ToString(), ViewportSize = new() { Width = 1400, Height = 1000 } });
            Report("jobs page: navigation to 25 rows shown", await TimeAsync(5, async () =>
            {
                await page.GotoAsync("jobs");
                await page.Locator("[data-testid=job-link]").Nth(24).WaitForAsync();
            }));
            Report($"job page: navigation to the chart drawn with {points:N0} points", await TimeAsync(5, async () =>
            {
                await page.GotoAsync($"jobs/{pageJob}");
                await page.Locator($"[data-testid=metrics-chart][data-points='{points}'] canvas").WaitForAsync();
            }));

            // A stored change reaching the open page: the tracker's path (save, then publish) for one new metric
            // point, timed from before the save to the browser seeing the chart's point count change.
            await page.EvaluateAsync("""
                () => {
                  window.__seen = [];
                  const chart = document.querySelector('[data-testid=metrics-chart]');
                  new MutationObserver(() => window.__seen.push([Number(chart.getAttribute('data-points')), Date.now()]))
                    .observe(chart, { attributes: true, attributeFilter: ['data-points'] });
                }
                """);
            var latencies = new List<double>();
            var db = studio.Services.GetRequiredService<IDbContextFactory<StudioDbContext>>();
            var notifier = studio.Services.GetRequiredService<StudioNotifier>();
            for (var i = 0; i < samples; i++)
            {
                var step = points + i + 1;
                var before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                await using (var context = await db.CreateDbContextAsync())
                {
                    context.JobMetrics.Add(new JobMetricPoint { JobId = pageJob, Step = step, TrainLoss = 1.0 / step, Time = DateTime.UtcNow, RemoteId = $"bench-{step}" });
                    await context.SaveChangesAsync();
                }
                notifier.Publish(StudioTopic.Job(pageJob));
                await page.WaitForFunctionAsync($"() => window.__seen.some(s => s[0] >= {step})", null, new() { Timeout = 30_000 });
                var seen = await page.EvaluateAsync<double>($"() => window.__seen.find(s => s[0] >= {step})[1]");
                latencies.Add(seen - before);
                await Task.Delay(350); // apart, so that the page's 250 ms coalescing never merges two samples
            }
            Report($"stored change → open page ({samples} changes, one point each)", latencies);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>Finished jobs through the entity's own moves (as the tracker would have stored them), one with many points.</summary>
    private static async Task<(int Jobs, Guid PageJob)> SeedAsync(Studio studio, int jobs, int points)
    {
        var db = studio.Services.GetRequiredService<IDbContextFactory<StudioDbContext>>();
        await using var context = await db.CreateDbContextAsync();
        var provider = await context.Providers.FirstAsync(p => p.BuiltIn);
        var start = DateTime.UtcNow.AddDays(-30);
        Guid pageJob = Guid.Empty;
        for (var i = 0; i < jobs; i++)
        {
            var created = start.AddMinutes(i * 4);
            var job = new FineTuneJob
            {
                Id = Guid.CreateVersion7(new DateTimeOffset(created)), ProviderId = provider.Id, Model = i % 3 == 0 ? "strawberry-small" : "strawberry-tiny",
                MethodType = "supervised", Suffix = $"suffix-{i}", CreatedAt = created, Origin = "studio",
            };
            job.MarkSubmitted($"ftjob-bench-{i:D6}", created);
            var status = (i % 10) switch { 0 => JobStatuses.Failed, 1 => JobStatuses.Cancelled, _ => JobStatuses.Succeeded };
            job.Apply(status, status == JobStatuses.Succeeded ? $"ft:{job.Model}:local:suffix-{i}:ftjob-bench-{i:D6}" : null, status == JobStatuses.Succeeded ? 10_000 + i : null,
                status == JobStatuses.Failed ? "training_failed" : null, status == JobStatuses.Failed ? "bench" : null, null, null, null, created.AddMinutes(3), null, "{}", created.AddMinutes(3));
            context.Jobs.Add(job);
            if (i == jobs - 1)
            {
                pageJob = job.Id;
            }
        }
        await context.SaveChangesAsync();
        for (var step = 1; step <= points; step++)
        {
            context.JobMetrics.Add(new JobMetricPoint
            {
                JobId = pageJob, Step = step, TotalSteps = points, TrainLoss = 3.0 / Math.Sqrt(step) + 0.1 * Math.Sin(step), TrainMeanTokenAccuracy = 0.5,
                ValidLoss = step % 10 == 0 ? 3.2 / Math.Sqrt(step) : null, Time = start.AddSeconds(step), RemoteId = $"ftevent-bench-{step}",
            });
        }
        await context.SaveChangesAsync();
        return (jobs, pageJob);
    }

    internal static async Task<List<double>> TimeAsync(int runs, Func<Task> action)
    {
        await action(); // warm-up: JIT, the first query's plan, the circuit
        var times = new List<double>(runs);
        for (var i = 0; i < runs; i++)
        {
            var started = Stopwatch.GetTimestamp();
            await action();
            times.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
        return times;
    }

    internal static void Report(string what, List<double> milliseconds)
    {
        var sorted = milliseconds.Order().ToList();
        double At(double q) => sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(q * sorted.Count) - 1)];
        Console.WriteLine($"{what}: p50 {At(0.5):N1} ms, p95 {At(0.95):N1} ms, max {sorted[^1]:N1} ms (n={sorted.Count})");
    }

    /// <summary>The studio as a user runs it (Production), on an ephemeral loopback port, with its own data directory.</summary>
    internal sealed class Studio(string directory, IReadOnlyDictionary<string, string>? settings = null) : WebApplicationFactory<studio::Program>
    {
        public Uri BaseAddress { get; private set; } = null!;

        public void Start()
        {
            // The factory finds a test project's content root from build metadata a benchmark does not have: say it.
            var root = new DirectoryInfo(AppContext.BaseDirectory);
            while (root is not null && !Directory.Exists(Path.Combine(root.FullName, "src", "StrawberryPhi.Web")))
            {
                root = root.Parent;
            }
            Environment.SetEnvironmentVariable("ASPNETCORE_TEST_CONTENTROOT_STRAWBERRYPHI_WEB", Path.Combine(root!.FullName, "src", "StrawberryPhi.Web"));
            UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
            StartServer();
            BaseAddress = new Uri(Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/') + "/");
        }

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            builder.UseEnvironment("Production");
            builder.UseSetting("DataDirectory", directory);
            foreach (var (key, value) in settings ?? new Dictionary<string, string>())
            {
                builder.UseSetting(key, value);
            }
            builder.ConfigureLogging(logging => logging.SetMinimumLevel(LogLevel.Warning));
        }
    }
}

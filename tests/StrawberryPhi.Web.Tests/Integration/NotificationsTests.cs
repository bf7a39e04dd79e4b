using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using StrawberryPhi.Web.Data;
using StrawberryPhi.Web.Jobs;
using StrawberryPhi.Web.Notifications;
using StrawberryPhi.Web.Settings;

namespace StrawberryPhi.Web.Tests.Integration;

public sealed class NotificationsTests(StudioHost host) : IClassFixture<StudioHost>
{
    [Fact]
    public async Task JobEnds_NotifiedOnceInTheStudio_AndTheWebhookIsRetriedUntilDelivered()
    {
        // A webhook that fails once (503), then accepts.
        var received = new ConcurrentQueue<JsonNode>();
        var calls = 0;
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        await using var receiver = builder.Build();
        receiver.MapPost("/hook", async (HttpContext http) =>
        {
            var body = await JsonNode.ParseAsync(http.Request.Body);
            received.Enqueue(body!);
            return Interlocked.Increment(ref calls) == 1 ? Results.StatusCode(503) : Results.Ok();
        });
        await receiver.StartAsync();
        var hook = receiver.Urls.First() + "/hook";
        await host.Service<SettingsService>().UpdateAsync(s => s with { NotifyWebhookUrl = hook, NotifyWebhookOn = "succeeded,failed" }, CancellationToken.None);

        var job = await host.FinishedJobAsync("notify.jsonl");

        var delivered = await host.WaitForAsync(async () =>
            (await host.Service<NotificationService>().DeliveriesAsync(10, CancellationToken.None)).FirstOrDefault(d => d.Status != DeliveryStatus.Pending));
        Assert.Equal((DeliveryStatus.Delivered, 2, 200), (delivered.Status, delivered.Attempts, delivered.LastStatusCode));
        Assert.Equal(2, received.Count); // the failed attempt and the retry, the same payload
        var payload = received.Last();
        Assert.Equal("fine_tuning.job.succeeded", payload["type"]!.GetValue<string>());
        Assert.Equal(job.Id.ToString(), payload["data"]!["id"]!.GetValue<string>());
        Assert.Equal(job.FineTunedModel, payload["data"]!["fine_tuned_model"]!.GetValue<string>());
        Assert.EndsWith($"/jobs/{job.Id}", payload["data"]!["url"]!.GetValue<string>(), StringComparison.Ordinal);

        var list = await host.Service<NotificationService>().ListAsync(20, CancellationToken.None);
        var notice = Assert.Single(list.Items, n => n.JobId == job.Id);
        Assert.Equal(("succeeded", "Fine-tuning succeeded", false), (notice.Kind, notice.Title, notice.Read));
        // Another poll reports the same ending: nothing new is said.
        await host.Service<JobTracker>().PollAsync(job.Id, CancellationToken.None);
        await host.Service<NotificationService>().JobEndedAsync(job.Id, CancellationToken.None);
        Assert.Single((await host.Service<NotificationService>().ListAsync(20, CancellationToken.None)).Items, n => n.JobId == job.Id);

        await host.Service<NotificationService>().MarkAllReadAsync(CancellationToken.None);
        Assert.Equal(0, (await host.Service<NotificationService>().ListAsync(20, CancellationToken.None)).Unread);
    }

    [Fact]
    public async Task JobEnds_KindTurnedOffForTheWebhook_NoDelivery()
    {
        await host.Service<SettingsService>().UpdateAsync(s => s with { NotifyWebhookUrl = "http://127.0.0.1:9/never", NotifyWebhookOn = "failed" }, CancellationToken.None);

        var job = await host.FinishedJobAsync("notify-off.jsonl");

        var notices = await host.Service<NotificationService>().ListAsync(50, CancellationToken.None);
        var notice = Assert.Single(notices.Items, n => n.JobId == job.Id);
        var deliveries = await host.Service<NotificationService>().DeliveriesAsync(50, CancellationToken.None);
        Assert.DoesNotContain(deliveries, d => d.Url.EndsWith("/never", StringComparison.Ordinal));
        Assert.Equal("succeeded", notice.Kind);
    }

    [Fact]
    public async Task Settings_UnknownEnding_RefusedNamingIt()
    {
        var e = await Assert.ThrowsAsync<StudioException>(() =>
            host.Service<SettingsService>().UpdateAsync(s => s with { NotifyBrowserOn = "succeeded,exploded" }, CancellationToken.None));

        Assert.Contains("\"exploded\" is not a job ending", e.Message, StringComparison.Ordinal);
    }
}

using System.ComponentModel.DataAnnotations;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using StrawberryPhi.Web.Data;

namespace StrawberryPhi.Web.Notifications;

/// <summary>Outgoing webhook deliveries (config section <c>Notifications</c>), validated at start.</summary>
public sealed class NotificationOptions
{
    /// <summary>Attempts per delivery before it is marked failed.</summary>
    [Range(1, 20)]
    public int MaxAttempts { get; set; } = 6;

    /// <summary>Wait before the second attempt, doubled after each failure, at most <see cref="MaxRetryDelay"/>.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(5);

    [Range(typeof(TimeSpan), "00:00:00.010", "1.00:00:00")]
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>The longest one attempt may take.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:05:00")]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How often due retries are looked for.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:10:00")]
    public TimeSpan Tick { get; set; } = TimeSpan.FromSeconds(1);
}

/// <summary>
/// Sends queued webhook deliveries: a JSON POST each, retried with doubling delays on a failure (no answer, a
/// timeout, any status but 2xx) until delivered or out of attempts; each outcome is stored for Settings to show.
/// It runs apart from the tracker, which only writes the delivery row.
/// </summary>
internal sealed class WebhookDeliveryWorker(
    IDbContextFactory<StudioDbContext> db, NotificationService notifications, IHttpClientFactory http, IOptions<NotificationOptions> options,
    TimeProvider time, StudioNotifier events, BackgroundLoops loops, ILogger<WebhookDeliveryWorker> logger) : BackgroundService
{
    public const string HttpClientName = "webhooks";

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => loops.RunAsync("webhook deliveries", async token =>
    {
        using var timer = new PeriodicTimer(options.Value.Tick, time);
        var tick = timer.WaitForNextTickAsync(token).AsTask();
        var woken = notifications.Delivery.WaitAsync(token);
        while (!token.IsCancellationRequested)
        {
            await DeliverDueAsync(token);
            // Whichever comes first: a new delivery, or the tick that finds retries come due.
            if (await Task.WhenAny(tick, woken) == tick)
            {
                if (!await tick)
                {
                    return;
                }
                tick = timer.WaitForNextTickAsync(token).AsTask();
            }
            else
            {
                await woken;
                woken = notifications.Delivery.WaitAsync(token);
            }
        }
    }, stoppingToken);

    private async Task DeliverDueAsync(CancellationToken cancellationToken)
    {
        List<WebhookDelivery> due;
        await using (var context = await db.CreateDbContextAsync(cancellationToken))
        {
            var now = time.GetUtcNow().UtcDateTime;
            due = await context.WebhookDeliveries.AsNoTracking().Where(d => d.Status == DeliveryStatus.Pending && d.NextAttemptAt <= now)
                .OrderBy(d => d.NextAttemptAt).Take(20).ToListAsync(cancellationToken);
        }
        foreach (var delivery in due)
        {
            await AttemptAsync(delivery, cancellationToken);
        }
    }

    private async Task AttemptAsync(WebhookDelivery delivery, CancellationToken cancellationToken)
    {
        int? status = null;
        string? error = null;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(options.Value.Timeout);
            using var content = new StringContent(delivery.PayloadJson, Encoding.UTF8, "application/json");
            using var request = new HttpRequestMessage(HttpMethod.Post, delivery.Url) { Content = content };
            request.Headers.TryAddWithoutValidation("webhook-id", $"phi-delivery-{delivery.Id}");
            using var response = await http.CreateClient(HttpClientName).SendAsync(request, timeout.Token);
            status = (int)response.StatusCode;
            if (!response.IsSuccessStatusCode)
            {
                error = $"The webhook answered {status} {response.ReasonPhrase}.";
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            error = $"No answer within {options.Value.Timeout.TotalSeconds:N0} s.";
        }
        catch (HttpRequestException e)
        {
            error = $"Could not reach the webhook: {e.Message}";
        }
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        var row = await context.WebhookDeliveries.FirstAsync(d => d.Id == delivery.Id, cancellationToken);
        var now = time.GetUtcNow().UtcDateTime;
        row.Attempts++;
        row.LastStatusCode = status;
        row.LastError = error;
        if (error is null)
        {
            (row.Status, row.DeliveredAt) = (DeliveryStatus.Delivered, now);
        }
        else if (row.Attempts >= options.Value.MaxAttempts)
        {
            row.Status = DeliveryStatus.Failed;
            logger.LogWarning("Webhook delivery {DeliveryId} failed after {Attempts} attempts: {Reason}", row.Id, row.Attempts, error);
        }
        else
        {
            var delay = options.Value.RetryDelay * Math.Pow(2, row.Attempts - 1);
            row.NextAttemptAt = now + (delay > options.Value.MaxRetryDelay ? options.Value.MaxRetryDelay : delay);
        }
        await context.SaveChangesAsync(cancellationToken);
        events.Publish(StudioTopic.Notifications);
    }
}

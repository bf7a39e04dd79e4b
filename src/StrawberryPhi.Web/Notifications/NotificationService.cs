using System.Text.Json;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.EntityFrameworkCore;
using StrawberryPhi.Web.Data;

namespace StrawberryPhi.Web.Notifications;

public sealed record NotificationView(long Id, Guid JobId, string Kind, string Title, string Message, DateTime CreatedAt, bool Read);

public sealed record NotificationList(int Unread, IReadOnlyList<NotificationView> Items);

public sealed record DeliveryView(long Id, string Url, string Kind, string Title, DeliveryStatus Status, int Attempts, int? LastStatusCode, string? LastError, DateTime CreatedAt, DateTime? DeliveredAt, DateTime NextAttemptAt);

/// <summary>
/// Tells the user that a job ended, on the channels Settings chose for that ending: a list in the studio (with a
/// toast and, where allowed, a browser notification, both raised by open pages), and an outgoing webhook. Recording
/// is a database write; delivery happens in <see cref="WebhookDeliveryWorker"/>, so the tracker never waits on it.
/// </summary>
public sealed class NotificationService(
    IDbContextFactory<StudioDbContext> db, TimeProvider time, StudioNotifier events, IServer server, ILogger<NotificationService> logger)
{
    public static readonly IReadOnlyList<string> Kinds = [JobStatuses.Succeeded, JobStatuses.Failed, JobStatuses.Cancelled];

    /// <summary>Records that a job ended (once per job and ending) and queues its webhook delivery when Settings ask for one.</summary>
    public async Task JobEndedAsync(Guid jobId, CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        var job = await context.Jobs.AsNoTracking().FirstOrDefaultAsync(j => j.Id == jobId, cancellationToken);
        if (job is null || !JobStatuses.IsFinal(job.Status) || await context.Notifications.AnyAsync(n => n.JobId == jobId && n.Kind == job.Status, cancellationToken))
        {
            return;
        }
        var settings = await context.Settings.AsNoTracking().FirstOrDefaultAsync(s => s.Id == StudioSettings.SingletonId, cancellationToken) ?? new StudioSettings();
        var provider = await context.Providers.AsNoTracking().Where(p => p.Id == job.ProviderId).Select(p => p.Name).FirstOrDefaultAsync(cancellationToken) ?? "a removed connection";
        // The model and suffix, as the job's page titles it (the fine-tuned model's long id is on that page).
        var name = $"{job.Model}{(job.Suffix is null ? "" : " · " + job.Suffix)}";
        var now = time.GetUtcNow().UtcDateTime;
        var notification = new StudioNotification
        {
            JobId = jobId,
            Kind = job.Status,
            Title = job.Status switch
            {
                JobStatuses.Succeeded => "Fine-tuning succeeded",
                JobStatuses.Failed => "Fine-tuning failed",
                _ => "Fine-tuning cancelled",
            },
            Message = job.Status switch
            {
                JobStatuses.Succeeded => $"{name} on {provider} is ready to use.",
                JobStatuses.Failed => $"{name} on {provider}: {job.ErrorMessage ?? "the provider gave no reason"}",
                _ => $"{name} on {provider} was cancelled.",
            },
            CreatedAt = now,
            // Not shown in the list when the user turned the studio's own notices off for this ending.
            ReadAt = settings.NotifyInApp && On(settings.NotifyInAppOn, job.Status) ? null : now,
        };
        context.Notifications.Add(notification);
        try
        {
            await context.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException e) when (DbErrors.IsUniqueViolation(e))
        {
            return; // reported at the same moment by another path (a poll and an action's answer)
        }
        if (settings.NotifyWebhookUrl is { } url && On(settings.NotifyWebhookOn, job.Status))
        {
            context.WebhookDeliveries.Add(new WebhookDelivery
            {
                NotificationId = notification.Id,
                Url = url,
                PayloadJson = JsonSerializer.Serialize(new
                {
                    type = $"fine_tuning.job.{job.Status}",
                    created_at = new DateTimeOffset(now).ToUnixTimeSeconds(),
                    data = new
                    {
                        id = job.Id, remote_id = job.RemoteId, provider, model = job.Model, fine_tuned_model = job.FineTunedModel, status = job.Status,
                        trained_tokens = job.TrainedTokens, error = job.ErrorMessage is null ? null : new { code = job.ErrorCode, message = job.ErrorMessage },
                        url = StudioAddress() is { } address ? $"{address}/jobs/{job.Id}" : null,
                    },
                }),
                Status = DeliveryStatus.Pending,
                CreatedAt = now,
                NextAttemptAt = now,
            });
            await context.SaveChangesAsync(cancellationToken);
            Delivery.Release();
        }
        logger.LogInformation("Job {JobId} {Kind}: notification {NotificationId}", jobId, job.Status, notification.Id);
        events.Publish(StudioTopic.Notifications);
    }

    /// <summary>Woken when a delivery is queued (the worker also looks on its own timer, for retries).</summary>
    internal SemaphoreSlim Delivery { get; } = new(0);

    public async Task<NotificationList> ListAsync(int take, CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        var unread = await context.Notifications.CountAsync(n => n.ReadAt == null, cancellationToken);
        var items = await context.Notifications.AsNoTracking().OrderByDescending(n => n.CreatedAt).ThenByDescending(n => n.Id).Take(take)
            .Select(n => new NotificationView(n.Id, n.JobId, n.Kind, n.Title, n.Message, n.CreatedAt, n.ReadAt != null)).ToListAsync(cancellationToken);
        return new NotificationList(unread, items);
    }

    /// <summary>Notifications after <paramref name="afterId"/> that the user should see now (a toast, a browser notification).</summary>
    public async Task<IReadOnlyList<NotificationView>> NewSinceAsync(long afterId, CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        return await context.Notifications.AsNoTracking().Where(n => n.Id > afterId && n.ReadAt == null).OrderBy(n => n.Id)
            .Select(n => new NotificationView(n.Id, n.JobId, n.Kind, n.Title, n.Message, n.CreatedAt, false)).ToListAsync(cancellationToken);
    }

    public async Task<long> LatestIdAsync(CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        return await context.Notifications.MaxAsync(n => (long?)n.Id, cancellationToken) ?? 0;
    }

    public async Task MarkAllReadAsync(CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        var now = time.GetUtcNow().UtcDateTime;
        await context.Notifications.Where(n => n.ReadAt == null).ExecuteUpdateAsync(set => set.SetProperty(n => n.ReadAt, now), cancellationToken);
        events.Publish(StudioTopic.Notifications);
    }

    public async Task MarkReadAsync(long id, CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        var now = time.GetUtcNow().UtcDateTime;
        await context.Notifications.Where(n => n.Id == id && n.ReadAt == null).ExecuteUpdateAsync(set => set.SetProperty(n => n.ReadAt, now), cancellationToken);
        events.Publish(StudioTopic.Notifications);
    }

    public async Task<IReadOnlyList<DeliveryView>> DeliveriesAsync(int take, CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        return await context.WebhookDeliveries.AsNoTracking().OrderByDescending(d => d.Id).Take(take)
            .Join(context.Notifications.AsNoTracking(), d => d.NotificationId, n => n.Id, (d, n) =>
                new DeliveryView(d.Id, d.Url, n.Kind, n.Title, d.Status, d.Attempts, d.LastStatusCode, d.LastError, d.CreatedAt, d.DeliveredAt, d.NextAttemptAt))
            .ToListAsync(cancellationToken);
    }

    /// <summary>Whether a channel's comma-separated list of endings includes <paramref name="kind"/>.</summary>
    public static bool On(string kinds, string kind) => kinds.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Contains(kind);

    private string? StudioAddress() =>
        server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault()?.TrimEnd('/');
}

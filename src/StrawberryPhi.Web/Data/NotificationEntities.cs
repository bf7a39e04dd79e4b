namespace StrawberryPhi.Web.Data;

/// <summary>Something the studio tells the user (a job ended), kept in a list they can open; one per job and ending.</summary>
public sealed class StudioNotification
{
    public long Id { get; set; }

    public Guid JobId { get; set; }

    /// <summary>succeeded, failed or cancelled.</summary>
    public required string Kind { get; set; }

    public required string Title { get; set; }

    public required string Message { get; set; }

    public DateTime CreatedAt { get; set; }

    public DateTime? ReadAt { get; set; }
}

public enum DeliveryStatus
{
    Pending,
    Delivered,
    Failed,
}

/// <summary>A notification sent to the outgoing webhook: retried with backoff until delivered or out of attempts.</summary>
public sealed class WebhookDelivery
{
    public long Id { get; set; }

    public long NotificationId { get; set; }

    public required string Url { get; set; }

    public required string PayloadJson { get; set; }

    public DeliveryStatus Status { get; set; }

    public int Attempts { get; set; }

    public int? LastStatusCode { get; set; }

    public string? LastError { get; set; }

    public DateTime CreatedAt { get; set; }

    public DateTime NextAttemptAt { get; set; }

    public DateTime? DeliveredAt { get; set; }
}

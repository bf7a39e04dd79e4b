using System.ComponentModel.DataAnnotations;

namespace StrawberryPhi.Web.Jobs;

/// <summary>How often jobs are polled and submissions retried (config section <c>Jobs</c>), validated at start.</summary>
public sealed class JobTrackerOptions
{
    /// <summary>How often the tracker looks for jobs due a poll.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:01:00")]
    public TimeSpan Tick { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Between polls of a running job: fast, so charts move.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan RunningInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Between polls of a job that waits (validating files, queued, paused).</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan QueuedInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Between polls of any active job of the built-in local engine: it runs in this process, a poll costs a few
    /// milliseconds and no rate limit, and a local job often runs for seconds, so its page follows it step by step.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan LocalInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>No poll comes sooner than this after the last, whatever a provider asks.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan MinDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>No wait is longer than this: after failures, or a Retry-After of an hour.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "1.00:00:00")]
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Polls of one connection at once; the others wait their turn, other connections do not.</summary>
    [Range(1, 64)]
    public int MaxConcurrencyPerConnection { get; set; } = 2;

    /// <summary>Create calls for one job before it is failed (each after looking for what the last left).</summary>
    [Range(1, 20)]
    public int MaxSubmitAttempts { get; set; } = 5;

    /// <summary>First wait before another create attempt (doubled each time), unless the provider says how long.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:10:00")]
    public TimeSpan SubmitRetryDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>A wait clamped to [<see cref="MinDelay"/>, <see cref="MaxDelay"/>] (a provider's negative or huge value included).</summary>
    public TimeSpan Clamp(TimeSpan delay) => delay < MinDelay ? MinDelay : delay > MaxDelay ? MaxDelay : delay;
}

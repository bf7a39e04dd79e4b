using System.Collections.Concurrent;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace StrawberryPhi.Web;

/// <summary>
/// The studio's background loops (validation, uploads, and the job tracker to come) run through here, so that a
/// loop that died is seen: <c>/healthz</c> answers Unhealthy naming it and why, instead of the studio looking fine
/// while nothing is validated or uploaded any more.
/// </summary>
public sealed class BackgroundLoops(IHostApplicationLifetime lifetime, ILogger<BackgroundLoops> logger) : IHealthCheck
{
    private readonly ConcurrentDictionary<string, string?> _loops = new(StringComparer.Ordinal);

    /// <summary>
    /// Completes when the studio listens (hosted services start before Kestrel): loops that call the embedded local
    /// engine wait for it, or they would call an address the server has not taken yet.
    /// </summary>
    public async Task StartedAsync(CancellationToken stoppingToken)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var registration = lifetime.ApplicationStarted.Register(() => started.TrySetResult());
        await started.Task.WaitAsync(stoppingToken);
    }

    /// <summary>Runs a loop until the studio stops; an end before that (an exception, or a return) marks it dead.</summary>
    public async Task RunAsync(string name, Func<CancellationToken, Task> loop, CancellationToken stoppingToken)
    {
        _loops[name] = null;
        try
        {
            await loop(stoppingToken);
            if (!stoppingToken.IsCancellationRequested)
            {
                Died(name, "it ended on its own");
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
        catch (Exception e)
        {
            Died(name, $"{e.GetType().Name}: {e.Message}");
            logger.LogCritical(e, "The {Loop} loop stopped", name);
        }
    }

    private void Died(string name, string why)
    {
        if (!lifetime.ApplicationStopping.IsCancellationRequested)
        {
            _loops[name] = why;
        }
    }

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var dead = _loops.Where(l => l.Value is not null).Select(l => $"the {l.Key} loop stopped ({l.Value})").ToList();
        var data = _loops.ToDictionary(l => l.Key, l => (object)(l.Value is null ? "running" : "stopped"));
        return Task.FromResult(dead.Count == 0
            ? HealthCheckResult.Healthy($"{_loops.Count} background loops running.", data)
            : HealthCheckResult.Unhealthy(string.Join("; ", dead) + ". Restart the studio.", data: data));
    }
}

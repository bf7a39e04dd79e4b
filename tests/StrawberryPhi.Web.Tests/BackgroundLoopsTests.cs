using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;

namespace StrawberryPhi.Web.Tests;

public sealed class BackgroundLoopsTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task RunAsync_LoopThrows_HealthIsUnhealthyNamingIt()
    {
        var loops = new BackgroundLoops(new Lifetime(), NullLogger<BackgroundLoops>.Instance);
        using var stopping = new CancellationTokenSource();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var fail = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var running = loops.RunAsync("uploads", async token =>
        {
            started.SetResult();
            await fail.Task;
            throw new InvalidOperationException("the queue broke");
        }, stopping.Token);
        await started.Task.WaitAsync(Timeout);
        Assert.Equal(HealthStatus.Healthy, (await loops.CheckHealthAsync(new HealthCheckContext())).Status);

        fail.SetResult();
        await running.WaitAsync(Timeout);

        var health = await loops.CheckHealthAsync(new HealthCheckContext());
        Assert.Equal(HealthStatus.Unhealthy, health.Status);
        Assert.Equal("the uploads loop stopped (InvalidOperationException: the queue broke). Restart the studio.", health.Description);
    }

    [Fact]
    public async Task RunAsync_StoppedByTheHost_StaysHealthy()
    {
        var loops = new BackgroundLoops(new Lifetime(), NullLogger<BackgroundLoops>.Instance);
        using var stopping = new CancellationTokenSource();
        var running = loops.RunAsync("validation", token => Task.Delay(System.Threading.Timeout.InfiniteTimeSpan, TimeProvider.System, token), stopping.Token);

        await stopping.CancelAsync();
        await running.WaitAsync(Timeout);

        Assert.Equal(HealthStatus.Healthy, (await loops.CheckHealthAsync(new HealthCheckContext())).Status);
    }

    private sealed class Lifetime : IHostApplicationLifetime
    {
        public CancellationToken ApplicationStarted => CancellationToken.None;

        public CancellationToken ApplicationStopping => CancellationToken.None;

        public CancellationToken ApplicationStopped => CancellationToken.None;

        public void StopApplication()
        {
        }
    }
}

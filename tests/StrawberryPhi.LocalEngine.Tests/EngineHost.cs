using System.ClientModel;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenAI;
using StrawberryPhi.LocalEngine.Api;
using StrawberryPhi.LocalEngine.Engine;

namespace StrawberryPhi.LocalEngine.Tests;

/// <summary>The engine on a real Kestrel at an ephemeral loopback port, and an official SDK client pointed at it.</summary>
public sealed class EngineHost : IAsyncLifetime
{
    public const string Key = "sk-local-test-key";
    private readonly string _directory = Directory.CreateTempSubdirectory("phi-engine-host-").FullName;
    private WebApplication? _app;

    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>The engine itself, to await its jobs' changes instead of polling.</summary>
    public Api.LocalEngine Engine => _app!.Services.GetRequiredService<Api.LocalEngine>();

    public OpenAIClient Client(string key = Key) =>
        new(new ApiKeyCredential(key), new OpenAIClientOptions { Endpoint = new Uri(BaseAddress, "v1") });

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Services.AddLocalEngine(o =>
        {
            o.DataDirectory = _directory;
            o.ApiKey = Key;
            o.Threads = 2;
        });
        _app = builder.Build();
        _app.MapLocalEngine("/v1");
        await _app.StartAsync();
        BaseAddress = new Uri(_app.Urls.First() + "/");
    }

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
        Directory.Delete(_directory, recursive: true);
    }
}

public static class EngineWaits
{
    /// <summary>Waits until a job's state satisfies <paramref name="done"/>, woken by the runner's changes (no polling).</summary>
    public static async Task<FineTuningJob> WaitForAsync(this Api.LocalEngine engine, string jobId, Func<FineTuningJob, bool> done, TimeSpan timeout)
    {
        var reached = new TaskCompletionSource<FineTuningJob>(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnChange(FineTuningJob job)
        {
            if (job.Id == jobId && done(job))
            {
                reached.TrySetResult(job);
            }
        }
        engine.Runner.JobChanged += OnChange;
        try
        {
            if (engine.Store.GetJob(jobId) is { } now && done(now))
            {
                return now;
            }
            return await reached.Task.WaitAsync(timeout);
        }
        finally
        {
            engine.Runner.JobChanged -= OnChange;
        }
    }
}

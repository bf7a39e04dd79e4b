using System.ClientModel;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenAI;
using StrawberryPhi.LocalEngine.Api;

namespace StrawberryPhi.LocalEngine.Tests;

/// <summary>The engine on a real Kestrel at an ephemeral loopback port, and an official SDK client pointed at it.</summary>
public sealed class EngineHost : IAsyncLifetime
{
    public const string Key = "sk-local-test-key";
    private readonly string _directory = Directory.CreateTempSubdirectory("phi-engine-host-").FullName;
    private WebApplication? _app;

    public Uri BaseAddress { get; private set; } = null!;

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

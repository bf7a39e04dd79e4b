using System.ClientModel;
using System.ClientModel.Primitives;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenAI;
using OpenAI.Files;
using StrawberryPhi.Web.Datasets;

namespace StrawberryPhi.Web.Tests;

/// <summary>
/// The real studio (SQLite, key vault, local engine) on a real Kestrel at an ephemeral loopback port, with an empty
/// data directory of its own. Provider calls pass through <see cref="Faults"/>, which injects what no engine
/// produces on demand (401, 429, 5xx, dropped connections) at the HTTP level.
/// </summary>
public class StudioHost : WebApplicationFactory<Program>, IAsyncLifetime
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private readonly bool _ownsDataDirectory;

    public StudioHost()
        : this(null)
    {
    }

    /// <param name="dataDirectory">Another studio's data directory, or null for a new empty one (removed at the end).</param>
    protected StudioHost(string? dataDirectory)
    {
        _ownsDataDirectory = dataDirectory is null;
        DataDirectory = dataDirectory ?? Directory.CreateTempSubdirectory("phi-studio-").FullName;
    }

    public string DataDirectory { get; }

    /// <summary>Every log message the studio wrote, formatted with its arguments.</summary>
    public ConcurrentQueue<string> Logs { get; } = new();

    public FaultInjector Faults { get; } = new();

    public Uri BaseAddress { get; private set; } = null!;

    protected virtual long MaxUploadBytes => 512L * 1024 * 1024;

    /// <summary>Where Kestrel listens: loopback, as a user runs it.</summary>
    protected virtual IPAddress ListenAddress => IPAddress.Loopback;

    public HttpClient Api() => new() { BaseAddress = BaseAddress, Timeout = Timeout };

    public T Service<T>()
        where T : notnull => Services.GetRequiredService<T>();

    public virtual Task InitializeAsync()
    {
        UseKestrel(o => o.Listen(ListenAddress, 0));
        StartServer();
        var address = Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseAddress = new Uri(address.TrimEnd('/') + "/");
        return Task.CompletedTask;
    }

    async Task IAsyncLifetime.DisposeAsync()
    {
        await DisposeAsync();
        SqliteConnection.ClearAllPools();
        if (_ownsDataDirectory)
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("DataDirectory", DataDirectory);
        builder.UseSetting("Studio:MaxUploadBytes", MaxUploadBytes.ToString(System.Globalization.CultureInfo.InvariantCulture));
        // Retries as in production, with short waits: tests exercise the pipeline, not the clock.
        builder.UseSetting("Providers:RetryDelay", "00:00:00.05");
        // Jobs polled often, so that tests see them move within a fraction of a second.
        builder.UseSetting("Jobs:Tick", "00:00:00.05");
        builder.UseSetting("Jobs:RunningInterval", "00:00:00.1");
        builder.UseSetting("Jobs:QueuedInterval", "00:00:00.1");
        builder.UseSetting("Jobs:LocalInterval", "00:00:00.1");
        builder.UseSetting("Jobs:MinDelay", "00:00:00.02");
        builder.UseSetting("Jobs:SubmitRetryDelay", "00:00:00.05");
        builder.UseSetting("Notifications:RetryDelay", "00:00:00.05");
        builder.UseSetting("Notifications:Tick", "00:00:00.05");
        builder.ConfigureLogging(logging => logging.AddProvider(new CollectingLoggerProvider(Logs)).SetMinimumLevel(LogLevel.Debug));
        builder.ConfigureServices(services => services.AddHttpClient(StudioSetup.ProviderHttpClient).AddHttpMessageHandler(() => new FaultHandler(Faults)));
    }

    /// <summary>Uploads a file as the browser does (multipart) and returns the new dataset.</summary>
    public async Task<DatasetSummary> UploadAsync(string path, string? fileName = null)
    {
        using var api = Api();
        using var form = new MultipartFormDataContent();
        using var content = new StreamContent(File.OpenRead(path));
        form.Add(content, "file", fileName ?? Path.GetFileName(path));
        using var response = await api.PostAsync(new Uri("api/datasets", UriKind.Relative), form);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<DatasetSummary>(Json.Options))!;
    }

    /// <summary>Waits until a dataset has left the validating state, woken by the studio's own events (no polling sleeps).</summary>
    public Task<DatasetDetail> WaitValidatedAsync(Guid id) =>
        WaitForAsync(async () => await Service<DatasetService>().GetAsync(id, CancellationToken.None) is { Summary.Status: not StrawberryPhi.Web.Data.DatasetStatus.Validating } d ? d : null);

    /// <summary>Re-checks <paramref name="check"/> whenever the studio publishes an event, until it returns a value or the timeout passes.</summary>
    public async Task<T> WaitForAsync<T>(Func<Task<T?>> check)
        where T : class
    {
        using var signal = new SemaphoreSlim(0);
        using var subscription = Service<StudioNotifier>().Subscribe(StudioTopic.Everything, _ =>
        {
            signal.Release();
            return Task.CompletedTask;
        });
        using var timeout = new CancellationTokenSource(Timeout);
        while (true)
        {
            if (await check() is { } value)
            {
                return value;
            }
            await signal.WaitAsync(timeout.Token);
        }
    }

    public static string Example(string name) => Path.Combine(AppContext.BaseDirectory, "Examples", name);

    /// <summary>
    /// A valid chat dataset of short sums (a job on strawberry-tiny trains on it in about a second), uploaded and
    /// validated. With <paramref name="reflection"/>, answers are in the reflection format, every third one correcting
    /// a wrong first answer inside a reflection.
    /// </summary>
    public async Task<Guid> SumsDatasetAsync(string name, int examples = 12, bool reflection = false)
    {
        var path = Path.Combine(DataDirectory, name);
        await File.WriteAllLinesAsync(path, Enumerable.Range(0, examples).Select(i =>
        {
            var sum = (i + i % 7).ToString(System.Globalization.CultureInfo.InvariantCulture);
            var answer = !reflection ? sum
                : i % 3 == 0 ? $"<thinking>{i}+{i % 7}={i + i % 7 + 1}<reflection>No: {i}+{i % 7}={sum}.</reflection></thinking><output>{sum}</output>"
                : $"<thinking>{i}+{i % 7}={sum}</thinking><output>{sum}</output>";
            return $$"""{"messages": [{"role": "user", "content": "{{i}}+{{i % 7}}="}, {"role": "assistant", "content": "{{answer}}"}]}""";
        }));
        var dataset = await UploadAsync(path);
        var detail = await WaitValidatedAsync(dataset.Id);
        Assert.Equal(0, detail.Summary.Errors);
        return dataset.Id;
    }

    /// <summary>The built-in local engine's connection.</summary>
    public async Task<Guid> LocalConnectionAsync() =>
        (await Service<StrawberryPhi.Web.Providers.ProviderConnectionService>().ListAsync(CancellationToken.None)).Single(p => p.BuiltIn).Id;

    /// <summary>A supervised job input on strawberry-tiny with explicit epochs and batch size (the local engine by default).</summary>
    public static StrawberryPhi.Web.Jobs.JobInput JobInput(Guid providerId, Guid datasetId, int epochs, int batchSize = 4, string? suffix = null) => new(
        providerId, "strawberry-tiny", datasetId,
        Method: new System.Text.Json.Nodes.JsonObject
        {
            ["type"] = "supervised",
            ["supervised"] = new System.Text.Json.Nodes.JsonObject { ["hyperparameters"] = new System.Text.Json.Nodes.JsonObject { ["n_epochs"] = epochs, ["batch_size"] = batchSize } },
        },
        Suffix: suffix, Seed: 7);

    /// <summary>Waits until a job's view satisfies <paramref name="done"/>.</summary>
    public Task<StrawberryPhi.Web.Jobs.JobView> WaitJobAsync(Guid id, Func<StrawberryPhi.Web.Jobs.JobView, bool> done) =>
        WaitForAsync(async () => await Service<StrawberryPhi.Web.Jobs.JobService>().GetAsync(id, CancellationToken.None) is { } job && done(job) ? job : null);

    /// <summary>Creates a one-epoch job on a fresh small dataset and waits until it has succeeded.</summary>
    public async Task<StrawberryPhi.Web.Jobs.JobView> FinishedJobAsync(string datasetName, Guid? providerId = null, bool reflection = false)
    {
        var dataset = await SumsDatasetAsync(datasetName, reflection: reflection);
        var (job, _) = await Service<StrawberryPhi.Web.Jobs.JobService>().CreateAsync(JobInput(providerId ?? await LocalConnectionAsync(), dataset, epochs: 1), null, CancellationToken.None);
        var done = await WaitJobAsync(job.Id, j => j.IsFinal);
        Assert.True(done.Status == StrawberryPhi.Web.Data.JobStatuses.Succeeded, $"{done.Status}: {done.Error?.Message}");
        return done;
    }

    /// <summary>A job made with the official SDK straight at the engine, as a user of the provider did, awaited to its end.</summary>
    public async Task<string> OutsideJobAsync(int examples, int epochs, int batchSize)
    {
        var engine = Service<StrawberryPhi.LocalEngine.Api.LocalEngine>();
        var client = new OpenAIClient(new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(BaseAddress, "local/v1") });
        var file = (await client.GetOpenAIFileClient().UploadFileAsync(BinaryData.FromString(OutsideLines(examples)), $"outside-{Guid.NewGuid():N}.jsonl", FileUploadPurpose.FineTune)).Value;
        var done = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        string? id = null;
        void Changed(StrawberryPhi.LocalEngine.Engine.FineTuningJob job)
        {
            if (job.Id == Volatile.Read(ref id) && StrawberryPhi.LocalEngine.Engine.JobStatus.IsFinal(job.Status))
            {
                done.TrySetResult(job.Status);
            }
        }
        engine.Runner.JobChanged += Changed;
        try
        {
            var body = new JsonObject
            {
                ["model"] = "strawberry-tiny",
                ["training_file"] = file.Id,
                ["seed"] = 3,
                ["method"] = new JsonObject { ["type"] = "supervised", ["supervised"] = new JsonObject { ["hyperparameters"] = new JsonObject { ["n_epochs"] = epochs, ["batch_size"] = batchSize } } },
            };
            using var content = BinaryContent.Create(BinaryData.FromString(body.ToJsonString()));
#pragma warning disable OPENAI001
            var created = await client.GetFineTuningClient().FineTuneAsync(content, waitUntilCompleted: false, new RequestOptions());
#pragma warning restore OPENAI001
            Volatile.Write(ref id, created.JobId);
            if (engine.Store.GetJob(created.JobId) is { } now && StrawberryPhi.LocalEngine.Engine.JobStatus.IsFinal(now.Status))
            {
                done.TrySetResult(now.Status);
            }
            Assert.Equal("succeeded", await done.Task.WaitAsync(TimeSpan.FromMinutes(3)));
            return created.JobId;
        }
        finally
        {
            engine.Runner.JobChanged -= Changed;
        }
    }

    /// <summary>The training lines of <see cref="OutsideJobAsync"/>'s file.</summary>
    public static string OutsideLines(int examples) => string.Join("\n", Enumerable.Range(0, examples).Select(i =>
        $$"""{"messages": [{"role": "user", "content": "{{i}}+1="}, {"role": "assistant", "content": "{{i + 1}}"}]}""")) + "\n";

    /// <summary>Every file under the data directory whose bytes contain <paramref name="text"/> (UTF-8 or UTF-16).</summary>
    public IReadOnlyList<string> FilesContaining(string text)
    {
        var utf8 = System.Text.Encoding.UTF8.GetBytes(text);
        var utf16 = System.Text.Encoding.Unicode.GetBytes(text);
        return Directory.EnumerateFiles(DataDirectory, "*", SearchOption.AllDirectories)
            .Where(f =>
            {
                if (Path.GetFileName(f) == "studio.lock")
                {
                    // Held exclusively while the studio runs, so it cannot be read; it is empty, and must stay so.
                    return new FileInfo(f).Length > 0;
                }
                var bytes = File.ReadAllBytes(f);
                return bytes.AsSpan().IndexOf(utf8) >= 0 || bytes.AsSpan().IndexOf(utf16) >= 0;
            })
            .ToList();
    }
}

/// <summary>A studio that sends files over 1 KB through the Uploads API in 1,000-byte parts, to see that path work.</summary>
public sealed class SmallPartsStudioHost : StudioHost
{
    protected override void ConfigureWebHost(Microsoft.AspNetCore.Hosting.IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureServices(services => services.PostConfigure<StrawberryPhi.Providers.ProviderClientOptions>(o => (o.MaxSingleUploadBytes, o.UploadPartBytes) = (1024, 1000)));
    }
}

/// <summary>A studio bound to every interface, which it must refuse (it has no sign-in yet).</summary>
public sealed class AnyAddressStudioHost : StudioHost
{
    /// <summary>Completes when the studio begins to stop on its own.</summary>
    public TaskCompletionSource Stopping { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    protected override IPAddress ListenAddress => IPAddress.Any;

    public override Task InitializeAsync()
    {
        try
        {
            return base.InitializeAsync();
        }
        catch (ObjectDisposedException)
        {
            // The studio refused the address and stopped before the factory read it back: what the test expects.
            return Task.CompletedTask;
        }
    }

    protected override void ConfigureWebHost(Microsoft.AspNetCore.Hosting.IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureServices(services => services.AddHostedService(provider => new StopWatcher(
            provider.GetRequiredService<Microsoft.Extensions.Hosting.IHostApplicationLifetime>(), Stopping)));
    }

    private sealed class StopWatcher(Microsoft.Extensions.Hosting.IHostApplicationLifetime lifetime, TaskCompletionSource stopping) : Microsoft.Extensions.Hosting.IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            lifetime.ApplicationStopping.Register(() => stopping.TrySetResult());
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}

/// <summary>A studio whose upload limit is small, to see large uploads refused.</summary>
public sealed class SmallLimitStudioHost : StudioHost
{
    public const long Limit = 4096;

    protected override long MaxUploadBytes => Limit;
}

public static class Json
{
    public static readonly System.Text.Json.JsonSerializerOptions Options = new(System.Text.Json.JsonSerializerDefaults.Web)
    {
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() },
    };
}

internal sealed class CollectingLoggerProvider(ConcurrentQueue<string> messages) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, messages);

    public void Dispose()
    {
    }

    private sealed class Logger(string category, ConcurrentQueue<string> messages) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            messages.Enqueue($"{logLevel} {category}: {formatter(state, exception)} {exception}");
    }
}

/// <summary>A studio in the Production environment, as <c>dotnet StrawberryPhi.Web.dll</c> runs it without launch settings.</summary>
public sealed class ProductionStudioHost : StudioHost
{
    protected override void ConfigureWebHost(Microsoft.AspNetCore.Hosting.IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseEnvironment("Production");
    }
}

/// <summary>A second studio started on the data directory of a running one, which it must refuse.</summary>
public sealed class SecondStudioHost(string dataDirectory) : StudioHost(dataDirectory);

using System.Collections.Concurrent;
using StrawberryPhi.LocalEngine.Engine;
using StrawberryPhi.LocalEngine.Model;

namespace StrawberryPhi.LocalEngine.Api;

public sealed class LocalEngineOptions
{
    /// <summary>Where the engine keeps its files, jobs, events, checkpoints and models.</summary>
    public string DataDirectory { get; set; } = "";

    /// <summary>Threads libtorch may use (training and inference), so the host stays responsive.</summary>
    public int Threads { get; set; } = Math.Max(1, Environment.ProcessorCount);

    /// <summary>Training jobs that may run at once; the others wait in order.</summary>
    public int MaxConcurrentJobs { get; set; } = 1;

    /// <summary>When set, every request must carry it as a bearer token.</summary>
    public string? ApiKey { get; set; }
}

/// <summary>The engine as the HTTP surface sees it: records, the job runner, and loaded models for inference.</summary>
public sealed class LocalEngine : IDisposable
{
    /// <summary>Base models have no creation time of their own; this is the engine's first release.</summary>
    private const long BaseCreated = 1_795_000_000;

    private readonly ConcurrentDictionary<string, Lazy<GptModel>> _loaded = new(StringComparer.Ordinal);
    private readonly Lock _inference = new();

    public LocalEngine(LocalEngineOptions options, TimeProvider time)
    {
        Options = options;
        Time = time;
        Store = new EngineStore(options.DataDirectory, time);
        Runner = new JobRunner(Store, time, options.Threads, options.MaxConcurrentJobs);
        Runner.Start();
    }

    public LocalEngineOptions Options { get; }
    public TimeProvider Time { get; }
    public EngineStore Store { get; }
    public JobRunner Runner { get; }

    public long Now => Time.GetUtcNow().ToUnixTimeSeconds();

    public IReadOnlyList<EngineModel> ListModels() =>
        [.. ModelSize.All.Select(s => new EngineModel(s.Name, BaseCreated, "strawberry-phi", s.Name, null)), .. Store.ListModels()];

    public EngineModel? FindModel(string id) =>
        ModelSize.Find(id) is { } size ? new EngineModel(size.Name, BaseCreated, "strawberry-phi", size.Name, null) : Store.GetModel(id);

    /// <summary>Runs generation on a model, loading it once; one generation at a time keeps libtorch's threads to itself.</summary>
    public T Infer<T>(EngineModel model, Func<GptModel, T> run)
    {
        var loaded = _loaded.GetOrAdd(model.Id, _ => new Lazy<GptModel>(() =>
            model.File is { } file ? SafeTensors.Load(file) : new GptModel(ModelSize.Find(model.Id)!))).Value;
        lock (_inference)
        {
            return run(loaded);
        }
    }

    public void Forget(string modelId)
    {
        if (_loaded.TryRemove(modelId, out var model) && model.IsValueCreated)
        {
            lock (_inference)
            {
                model.Value.Dispose();
            }
        }
    }

    public void Dispose()
    {
        Runner.Dispose();
        foreach (var model in _loaded.Values.Where(m => m.IsValueCreated))
        {
            model.Value.Dispose();
        }
    }
}

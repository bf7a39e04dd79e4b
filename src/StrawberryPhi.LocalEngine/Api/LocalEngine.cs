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

    /// <summary>
    /// Chat completions of one model decoded together at most (with a key-value cache). 0 restores the engine's
    /// first generator: one request at a time, the whole context recomputed per token (the benchmark's baseline).
    /// </summary>
    public int MaxBatch { get; set; } = 8;

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
        Scheduler = options.MaxBatch > 0 ? new InferenceScheduler(options.MaxBatch, _inference) : null;
    }

    /// <summary>Batches concurrent chat completions; null when <see cref="LocalEngineOptions.MaxBatch"/> is 0.</summary>
    public InferenceScheduler? Scheduler { get; }

    public LocalEngineOptions Options { get; }
    public TimeProvider Time { get; }
    public EngineStore Store { get; }
    public JobRunner Runner { get; }

    public long Now => Time.GetUtcNow().ToUnixTimeSeconds();

    public IReadOnlyList<EngineModel> ListModels() =>
        [.. ModelSize.All.Select(s => new EngineModel(s.Name, BaseCreated, "strawberry-phi", s.Name, null)), .. Store.ListModels()];

    public EngineModel? FindModel(string id) =>
        ModelSize.Find(id) is { } size ? new EngineModel(size.Name, BaseCreated, "strawberry-phi", size.Name, null) : Store.GetModel(id);

    /// <summary>
    /// Generates a completion on a model (loaded once): batched with other requests by the scheduler, or, without
    /// one, alone with the whole context recomputed per token.
    /// </summary>
    public Task<Completion> GenerateAsync(EngineModel model, int[] prompt, SamplingOptions options, Action<string>? onText, CancellationToken cancellationToken)
    {
        var loaded = _loaded.GetOrAdd(model.Id, _ => new Lazy<GptModel>(() =>
            model.File is { } file ? SafeTensors.Load(file) : new GptModel(ModelSize.Find(model.Id)!))).Value;
        if (Scheduler is not null)
        {
            return Scheduler.GenerateAsync(loaded, prompt, options, onText, cancellationToken);
        }
        return Task.Run(() =>
        {
            lock (_inference)
            {
                return Sampler.GenerateFull(loaded, prompt, options, onText: onText, cancellationToken: cancellationToken);
            }
        }, cancellationToken);
    }

    public void Forget(string modelId)
    {
        if (_loaded.TryRemove(modelId, out var model) && model.IsValueCreated)
        {
            lock (_inference)
            {
                Scheduler?.Abandon(model.Value);
                model.Value.Dispose();
            }
        }
    }

    public void Dispose()
    {
        Runner.Dispose();
        Scheduler?.Dispose();
        foreach (var model in _loaded.Values.Where(m => m.IsValueCreated))
        {
            model.Value.Dispose();
        }
    }
}

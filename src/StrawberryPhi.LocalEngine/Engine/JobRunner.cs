using StrawberryPhi.Core.Catalog;
using StrawberryPhi.Core.Text;
using StrawberryPhi.Core.Validation;
using StrawberryPhi.LocalEngine.Model;

namespace StrawberryPhi.LocalEngine.Engine;

/// <summary>What a caller asks for; null hyperparameters mean "auto".</summary>
public sealed record CreateJobRequest(
    string Model, string TrainingFile, string? ValidationFile = null, string? Suffix = null, int? Seed = null,
    int? NEpochs = null, int? BatchSize = null, double? LearningRateMultiplier = null, IReadOnlyDictionary<string, string>? Metadata = null,
    string Method = "supervised", double? Beta = null);

/// <summary>A request the engine refuses, with the parameter at fault (the API maps it to a 400).</summary>
public sealed class EngineRequestException(string message, string? param, string code = "invalid_request") : Exception(message)
{
    public string? Param { get; } = param;
    public string Code { get; } = code;
}

/// <summary>
/// Runs fine-tuning jobs, oldest first, at most <c>maxConcurrentJobs</c> at a time (default one): validates the training file with the same validator as the
/// CLI, trains, writes a metrics event per step and a checkpoint (a servable model) per epoch, and the final
/// model. A job that was running when the process stopped is failed with a clear error at the next start; it never
/// stays "running". Cancel stops a running job at its next step (well under a second for the local sizes).
/// </summary>
public sealed class JobRunner : IDisposable
{
    private const string OwnedBy = "strawberry-phi";
    private readonly EngineStore _store;
    private readonly TimeProvider _time;
    private readonly int _threads;
    private readonly int _maxConcurrentJobs;
    private readonly SemaphoreSlim _signal = new(0);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _gate = new();
    private readonly Dictionary<string, CancellationTokenSource> _running = new(StringComparer.Ordinal);
    private readonly HashSet<string> _pausing = new(StringComparer.Ordinal);
    private Task[] _loops = [];

    public JobRunner(EngineStore store, TimeProvider time, int threads, int maxConcurrentJobs = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxConcurrentJobs, 1);
        _store = store;
        _time = time;
        _threads = threads;
        _maxConcurrentJobs = maxConcurrentJobs;
    }

    /// <summary>Raised (on the runner's thread) after every change of a job's status.</summary>
    public event Action<FineTuningJob>? JobChanged;

    private long Now => _time.GetUtcNow().ToUnixTimeSeconds();

    public void Start()
    {
        foreach (var job in _store.ListJobs().Where(j => j.Status == JobStatus.Running))
        {
            // Stopped while it trained: it goes back to the queue and continues from its last saved state.
            job.MarkRequeued();
            var from = _store.GetResumeState(job.Id)?.Step ?? 0;
            Save(job, "info", from > 0
                ? $"The engine stopped while this job ran; it resumes from step {from}."
                : "The engine stopped while this job ran; it starts again from the beginning (no step was saved yet).");
        }
        _loops = [.. Enumerable.Range(0, _maxConcurrentJobs).Select(_ => Task.Factory.StartNew(Loop, TaskCreationOptions.LongRunning))];
        _signal.Release();
    }

    public FineTuningJob Create(CreateJobRequest request)
    {
        if (ModelSize.Find(request.Model) is null && _store.GetModel(request.Model) is not { File: not null })
        {
            throw new EngineRequestException($"The model '{request.Model}' does not exist or cannot be fine-tuned.", "model", "model_not_found");
        }
        if (_store.GetFile(request.TrainingFile) is null)
        {
            throw new EngineRequestException($"No file with id '{request.TrainingFile}'.", "training_file", "file_not_found");
        }
        if (request.ValidationFile is not null && _store.GetFile(request.ValidationFile) is null)
        {
            throw new EngineRequestException($"No file with id '{request.ValidationFile}'.", "validation_file", "file_not_found");
        }
        if (request.Suffix is { } suffix && (suffix.Length is < 1 or > 64))
        {
            throw new EngineRequestException("suffix must be 1 to 64 characters.", "suffix");
        }
        if (request.NEpochs is < 1 or > 50)
        {
            throw new EngineRequestException("n_epochs must be 'auto' or 1 to 50.", "n_epochs");
        }
        if (request.BatchSize is < 1 or > 256)
        {
            throw new EngineRequestException("batch_size must be 'auto' or 1 to 256.", "batch_size");
        }
        if (request.LearningRateMultiplier is <= 0)
        {
            throw new EngineRequestException("learning_rate_multiplier must be 'auto' or greater than 0.", "learning_rate_multiplier");
        }
        if (request.Seed is < 0)
        {
            throw new EngineRequestException("seed must be 0 to 2147483647.", "seed");
        }
        if (request.Method is not ("supervised" or "dpo"))
        {
            throw new EngineRequestException($"The local engine trains the supervised and dpo methods; got '{request.Method}'.", "method.type", "unsupported_method");
        }
        if (request.Beta is <= 0 or > 2 || (request.Beta is not null && request.Method != "dpo"))
        {
            throw new EngineRequestException(request.Method == "dpo" ? "beta must be 'auto' or greater than 0 and at most 2." : "beta is a hyperparameter of the dpo method only.", "beta");
        }
        var job = new FineTuningJob
        {
            Id = _store.NewId("ftjob-"),
            Model = request.Model,
            TrainingFile = request.TrainingFile,
            ValidationFile = request.ValidationFile,
            Suffix = request.Suffix,
            Seed = request.Seed ?? Random.Shared.Next(),
            Method = request.Method,
            // Resolved when the file is read ("auto" depends on its size); 0 marks auto until then.
            Hyperparameters = new Hyperparameters(request.NEpochs ?? 0, request.BatchSize ?? 0, request.LearningRateMultiplier ?? 0, request.Beta ?? 0),
            Metadata = request.Metadata,
            CreatedAt = Now,
        };
        // The creation event is written before the job can be seen by a loop (which would add its own first).
        _store.AddEvent(job.Id, "info", $"Created fine-tuning job: {job.Id}", Now);
        _store.SaveJob(job);
        JobChanged?.Invoke(job);
        _signal.Release();
        return job;
    }

    public FineTuningJob? Cancel(string id)
    {
        lock (_gate)
        {
            var job = _store.GetJob(id);
            if (job is null || JobStatus.IsFinal(job.Status))
            {
                return job;
            }
            if (_running.TryGetValue(id, out var running))
            {
                running.Cancel(); // the runner marks it cancelled when training stops
                return job;
            }
            job.MarkCancelled(Now);
            Save(job, "info", "Fine-tuning job cancelled.");
            return job;
        }
    }

    /// <summary>
    /// Pauses a job: a running one stops between steps with its weights and optimizer state saved, so that resuming
    /// continues exactly; a waiting one is held. Null when there is no such job.
    /// </summary>
    public FineTuningJob? Pause(string id)
    {
        lock (_gate)
        {
            var job = _store.GetJob(id);
            if (job is null || job.Status == JobStatus.Paused)
            {
                return job;
            }
            if (JobStatus.IsFinal(job.Status))
            {
                throw new EngineRequestException($"Job {id} has already {job.Status}; it cannot be paused.", null, "invalid_job_state");
            }
            if (_running.TryGetValue(id, out var running))
            {
                _pausing.Add(id);
                running.Cancel(); // the runner saves the state and marks it paused when training stops
                return job;
            }
            job.MarkPaused();
            Save(job, "info", "Fine-tuning job paused.");
            return job;
        }
    }

    /// <summary>Resumes a paused job: back in the queue, continuing from where it stopped.</summary>
    public FineTuningJob? Resume(string id)
    {
        lock (_gate)
        {
            var job = _store.GetJob(id);
            if (job is null)
            {
                return null;
            }
            if (job.Status != JobStatus.Paused)
            {
                throw new EngineRequestException($"Job {id} is {job.Status}, not paused; only a paused job can be resumed.", null, "invalid_job_state");
            }
            job.MarkRequeued();
            var from = _store.GetResumeState(id)?.Step ?? 0;
            Save(job, "info", from > 0 ? $"Fine-tuning job resumed; it continues from step {from}." : "Fine-tuning job resumed.");
        }
        _signal.Release();
        return _store.GetJob(id);
    }

    private void Loop()
    {
        while (!_stopping.IsCancellationRequested)
        {
            try
            {
                _signal.Wait(_stopping.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            while (!_stopping.IsCancellationRequested && Claim() is { } claimed)
            {
                Process(claimed.Job, claimed.Cancel);
            }
        }
    }

    /// <summary>Takes the oldest waiting job that no other loop holds, and wakes another loop if more wait.</summary>
    private (FineTuningJob Job, CancellationTokenSource Cancel)? Claim()
    {
        lock (_gate)
        {
            var waiting = _store.ListJobs()
                .Where(j => j.Status is JobStatus.ValidatingFiles or JobStatus.Queued && !_running.ContainsKey(j.Id))
                .OrderBy(j => j.Id, StringComparer.Ordinal)
                .ToList();
            if (waiting.Count == 0)
            {
                return null;
            }
            var cancel = new CancellationTokenSource();
            _running.Add(waiting[0].Id, cancel);
            if (waiting.Count > 1)
            {
                _signal.Release();
            }
            return (waiting[0], cancel);
        }
    }

    private void Process(FineTuningJob job, CancellationTokenSource cancel)
    {
        try
        {
            if (job.Status == JobStatus.ValidatingFiles)
            {
                Validate(job, job.TrainingFile, "training_file");
                if (job.ValidationFile is { } validationFile && job.Status != JobStatus.Failed)
                {
                    Validate(job, validationFile, "validation_file");
                }
                if (job.Status == JobStatus.Failed)
                {
                    return;
                }
                job.MarkQueued();
                Save(job, "info", "Files validated, moving job to queued state.");
            }
            if (job.Method == "dpo")
            {
                TrainPreference(job, ReadPairs(_store.FileContentPath(job.TrainingFile)),
                    job.ValidationFile is { } held ? ReadPairs(_store.FileContentPath(held)) : null, cancel.Token);
            }
            else
            {
                Train(job, ReadExamples(_store.FileContentPath(job.TrainingFile)),
                    job.ValidationFile is { } held ? ReadExamples(_store.FileContentPath(held)) : null, cancel.Token);
            }
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            job = _store.GetJob(job.Id) ?? job; // as resolved and saved when training started
            bool pausing;
            lock (_gate)
            {
                pausing = _pausing.Remove(job.Id);
            }
            if (_stopping.IsCancellationRequested && !pausing)
            {
                // The engine is stopping: the job stays running, its state saved, and resumes at the next start.
                return;
            }
            if (pausing && job.Status == JobStatus.Running)
            {
                job.MarkPaused();
                var at = _store.GetResumeState(job.Id)?.Step ?? 0;
                Save(job, "info", $"Fine-tuning job paused after step {at}.");
            }
            else
            {
                job.MarkCancelled(Now);
                _store.DeleteResumeState(job.Id);
                Save(job, "info", "Fine-tuning job cancelled.");
            }
        }
        catch (Exception e)
        {
            // Whatever went wrong (I/O, bad data, libtorch), this job fails with the reason and the runner goes on:
            // a job must never stay "running".
            job.MarkFailed(new JobError("training_failed", $"{e.GetType().Name}: {e.Message}", null), Now);
            Save(job, "error", $"Fine-tuning failed: {job.Error!.Message}");
        }
        finally
        {
            lock (_gate)
            {
                _running.Remove(job.Id);
            }
            cancel.Dispose();
        }
    }

    /// <param name="param">training_file or validation_file: named in the error when the file is bad.</param>
    private void Validate(FineTuningJob job, string fileId, string param)
    {
        var what = param == "training_file" ? "training" : "validation";
        _store.AddEvent(job.Id, "info", $"Validating {what} file: {fileId}", Now);
        var path = _store.FileContentPath(fileId);
        var report = DatasetValidator.ValidateFile(path, new ValidationOptions { Threads = 1 });
        var error = report.Issues.FirstOrDefault(i => i.Severity == Severity.Error);
        if (error is null && report.Kind == DatasetKind.Preference && job.Method != "dpo")
        {
            error = new Issue(0, "$", Severity.Error, "unsupported_method", "This file holds preference pairs: they train with the dpo method, not supervised.");
        }
        else if (error is null && report.Kind != DatasetKind.Preference && job.Method == "dpo")
        {
            error = new Issue(0, "$", Severity.Error, "unsupported_method", "The dpo method trains on preference pairs (input, preferred_output, non_preferred_output); this file holds chat examples.");
        }
        if (error is not null)
        {
            var where = error.Line > 0 ? $"line {error.Line}, {error.Path}: " : "";
            job.MarkFailed(new JobError($"invalid_{param}",
                $"The {what} file {fileId} has {report.Errors} error(s); the first: {where}{error.Message} ({error.Code}).", param), Now);
            Save(job, "error", job.Error!.Message);
        }
    }

    private void Train(FineTuningJob job, List<EncodedExample> examples, List<EncodedExample>? validation, CancellationToken cancellationToken)
    {
        var run = Prepare(job, examples.Count);
        using var model = run.Model;
        var context = model.Size.Context;
        var training = FitToContext(run.Job, examples, context, "training");
        var held = validation is null ? null : FitToContext(run.Job, validation, context, "validation");
        if (!Started(run, training.Count, examples.Count))
        {
            return;
        }
        var callbacks = Callbacks(run);
        Trainer.Train(model, training, run.Options, callbacks.OnStep, callbacks.OnEpoch, held is { Count: > 0 } ? held : null, callbacks.SaveState, cancellationToken);
        Finish(run, training.Sum(e => (long)Math.Min(e.Tokens.Length, context)));
    }

    /// <summary>DPO: the pairs train against a frozen copy of the model the job starts from (its reference).</summary>
    private void TrainPreference(FineTuningJob job, List<PreferencePair> pairs, List<PreferencePair>? validation, CancellationToken cancellationToken)
    {
        var run = Prepare(job, pairs.Count);
        using var model = run.Model;
        using var reference = LoadBase(run.Job);
        var context = model.Size.Context;
        var training = FitToContext(run.Job, pairs, context, "training");
        var held = validation is null ? null : FitToContext(run.Job, validation, context, "validation");
        if (!Started(run, training.Count, pairs.Count))
        {
            return;
        }
        var callbacks = Callbacks(run);
        Trainer.TrainPreference(model, reference, training, run.Options, run.Hyperparameters.Beta, callbacks.OnStep, callbacks.OnEpoch,
            held is { Count: > 0 } ? held : null, callbacks.SaveState, cancellationToken);
        Finish(run, training.Sum(p => (long)Math.Min(p.Chosen.Tokens.Length, context) + Math.Min(p.Rejected.Tokens.Length, context)));
    }

    /// <summary>A job about to train: its hyperparameters resolved, its model loaded (from its saved state when resuming).</summary>
    private sealed record TrainingRun(FineTuningJob Job, Hyperparameters Hyperparameters, GptModel Model, int StartStep, TrainingOptions Options, string Name);

    private TrainingRun Prepare(FineTuningJob job, int count)
    {
        var auto = job.Hyperparameters;
        var hyperparameters = new Hyperparameters(
            auto.NEpochs > 0 ? auto.NEpochs : FineTuneEstimator.RecommendedEpochs(count),
            auto.BatchSize > 0 ? auto.BatchSize : Math.Clamp((int)Math.Ceiling(count * 0.002), 1, 256),
            auto.LearningRateMultiplier > 0 ? auto.LearningRateMultiplier : 1.0,
            job.Method == "dpo" ? (auto.Beta > 0 ? auto.Beta : Trainer.DefaultBeta) : 0);
        job = job.ResolveHyperparameters(hyperparameters);
        var resume = _store.GetResumeState(job.Id);
        var model = resume is { } state ? SafeTensors.Load(state.Model) : LoadBase(job);
        var options = new TrainingOptions
        {
            Epochs = hyperparameters.NEpochs,
            BatchSize = hyperparameters.BatchSize,
            LearningRate = new TrainingOptions().LearningRate * hyperparameters.LearningRateMultiplier,
            Seed = job.Seed,
            Threads = _threads,
            StartStep = resume?.Step ?? 0,
            OptimizerState = resume?.Optimizer,
        };
        return new TrainingRun(job, hyperparameters, model, options.StartStep, options, $"ft:{model.Size.Name}:local:{job.Suffix ?? ""}:{job.Id}");
    }

    /// <summary>The model a job starts from: a base size, or a fine-tune (or checkpoint) of this engine.</summary>
    private GptModel LoadBase(FineTuningJob job) =>
        _store.GetModel(job.Model) is { File: { } file } ? SafeTensors.Load(file) : new GptModel(ModelSize.Find(job.Model)!);

    /// <summary>Marks the job running, or fails it when nothing is left to train on (a loss over no token never happened).</summary>
    private bool Started(TrainingRun run, int trainable, int given)
    {
        var job = run.Job;
        if (trainable == 0)
        {
            job.MarkFailed(new JobError("no_trainable_tokens",
                $"None of the {Plural.Of(given, "training example")} keeps a trained token within {run.Model.Size.Name}'s {run.Model.Size.Context}-token context " +
                "(or none has an assistant message with weight 1), so there is nothing to train on.", "training_file"), Now);
            Save(job, "error", job.Error!.Message);
            return false;
        }
        job.MarkRunning();
        Save(job, "info", run.StartStep > 0 ? $"Fine-tuning job continues from step {run.StartStep}." : "Fine-tuning job started.");
        return true;
    }

    /// <summary>What training reports: a metrics event per step, a checkpoint (a servable model) per epoch, the resume state.</summary>
    private (Action<TrainingStep> OnStep, Action<int, int> OnEpoch, Action<Action<string>, int> SaveState) Callbacks(TrainingRun run)
    {
        var (job, model) = (run.Job, run.Model);
        TrainingStep? last = null;
        return (step =>
        {
            last = step;
            _store.AddEvent(job.Id, "info", $"Step {step.Step}/{step.TotalSteps}: training loss={step.TrainLoss:F4}"
                + (step.ValidLoss is { } v ? $", validation loss={v:F4}" : ""), Now, Metrics(step, withTotal: true));
        }, (epoch, step) =>
        {
            var checkpointName = $"{run.Name}:ckpt-step-{step}";
            var path = _store.ModelFilePath($"{job.Id}-step-{step}");
            SafeTensors.Save(model, path, new Dictionary<string, string> { ["job"] = job.Id, ["step"] = step.ToString(System.Globalization.CultureInfo.InvariantCulture) });
            _store.AddModel(new EngineModel(checkpointName, Now, OwnedBy, model.Size.Name, path));
            _store.AddCheckpoint(new JobCheckpoint(_store.NewId("ftckpt-"), Now, checkpointName, step, Metrics(last!, withTotal: false), job.Id));
            _store.AddEvent(job.Id, "info", $"Checkpoint created at step {step} (epoch {epoch}).", Now);
        }, (writeOptimizer, step) =>
            _store.SaveResumeState(job.Id, step, writeOptimizer, path => SafeTensors.Save(model, path, new Dictionary<string, string> { ["job"] = job.Id })));
    }

    private void Finish(TrainingRun run, long tokensPerEpoch)
    {
        var job = run.Job;
        var finalPath = _store.ModelFilePath(job.Id);
        SafeTensors.Save(run.Model, finalPath, new Dictionary<string, string> { ["job"] = job.Id });
        _store.AddModel(new EngineModel(run.Name, Now, OwnedBy, run.Model.Size.Name, finalPath));
        _store.AddEvent(job.Id, "info", $"New fine-tuned model created: {run.Name}", Now);
        job.MarkSucceeded(run.Name, tokensPerEpoch * run.Hyperparameters.NEpochs, Now);
        job.AddResultFile(WriteResultFile(job.Id).Id);
        _store.DeleteResumeState(job.Id);
        Save(job, "info", "The job has successfully completed.");
    }

    /// <summary>
    /// Cuts the examples to the base's context so that what is trained on stays (see <see cref="ChatEncoder.FitToContext"/>),
    /// says in an event how many were cut and how many had nothing left to train on, and returns those that remain.
    /// </summary>
    private List<EncodedExample> FitToContext(FineTuningJob job, List<EncodedExample> examples, int context, string what)
    {
        var fitted = new List<EncodedExample>(examples.Count);
        var cut = 0;
        foreach (var example in examples)
        {
            if (ChatEncoder.FitToContext(example, context) is not { } fit)
            {
                continue;
            }
            cut += fit.Tokens.Length < example.Tokens.Length ? 1 : 0;
            fitted.Add(fit);
        }
        var dropped = examples.Count - fitted.Count;
        var said = new List<string>();
        if (cut > 0)
        {
            said.Add($"{cut:N0} of {Plural.Of(examples.Count, what + " example")} {Plural.Was(cut)} longer than the {context}-token context: " +
                "the oldest part of the prompt was cut so that the answer is kept.");
        }
        if (dropped > 0)
        {
            said.Add($"{Plural.Of(dropped, what + " example")} had no trained token and {Plural.Was(dropped)} left out.");
        }
        if (said.Count > 0)
        {
            _store.AddEvent(job.Id, "warn", string.Join(" ", said), Now);
        }
        return fitted;
    }

    /// <summary>
    /// The job's result file, as OpenAI makes one: a CSV of every step's metrics (purpose <c>fine-tune-results</c>),
    /// built from the job's metrics events (one row per step: a resumed run's repeat of a step keeps the first).
    /// </summary>
    private EngineFile WriteResultFile(string jobId)
    {
        string[] columns = ["step", "train_loss", "train_accuracy", "valid_loss", "valid_mean_token_accuracy"];
        var csv = new System.Text.StringBuilder(string.Join(',', columns)).Append('\n');
        var rows = _store.ListEvents(jobId).Reverse().Where(e => e.Type == "metrics" && e.Data is not null)
            .DistinctBy(e => e.Data!.GetValueOrDefault("step"));
        foreach (var e in rows)
        {
            string Cell(string key) => e.Data!.TryGetValue(key, out var v) ? v.ToString("R", System.Globalization.CultureInfo.InvariantCulture) : "";
            csv.Append(Cell("step")).Append(',').Append(Cell("train_loss")).Append(',').Append(Cell("train_mean_token_accuracy")).Append(',')
                .Append(Cell("valid_loss")).Append(',').Append(Cell("valid_mean_token_accuracy")).Append('\n');
        }
        using var content = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(csv.ToString()));
        return _store.AddFile(content, "step_metrics.csv", "fine-tune-results", Now);
    }

    /// <summary>Pairs cut to the context like examples: a pair stays only when both of its answers keep a trained token.</summary>
    private List<PreferencePair> FitToContext(FineTuningJob job, List<PreferencePair> pairs, int context, string what)
    {
        var fitted = pairs.Select(p => (Chosen: ChatEncoder.FitToContext(p.Chosen, context), Rejected: ChatEncoder.FitToContext(p.Rejected, context)))
            .Where(p => p.Chosen is not null && p.Rejected is not null).Select(p => new PreferencePair(p.Chosen!, p.Rejected!)).ToList();
        if (fitted.Count < pairs.Count)
        {
            _store.AddEvent(job.Id, "warn", $"{Plural.Of(pairs.Count - fitted.Count, what + " pair")} had an answer with no trained token within the {context}-token context and {Plural.Was(pairs.Count - fitted.Count)} left out.", Now);
        }
        return fitted;
    }

    private static Dictionary<string, double> Metrics(TrainingStep step, bool withTotal)
    {
        var metrics = new Dictionary<string, double>
        {
            ["step"] = step.Step,
            ["train_loss"] = step.TrainLoss,
            ["train_mean_token_accuracy"] = step.TrainMeanTokenAccuracy,
        };
        if (withTotal)
        {
            metrics["total_steps"] = step.TotalSteps;
        }
        if (step.ValidLoss is { } loss)
        {
            metrics["valid_loss"] = loss;
            metrics["valid_mean_token_accuracy"] = step.ValidMeanTokenAccuracy ?? 0;
        }
        return metrics;
    }

    /// <summary>Reads chat examples (messages with role, content and weight) from a validated JSONL file.</summary>
    internal static List<EncodedExample> ReadExamples(string path) => [.. TrainingFile.Encode(path)];

    internal static List<PreferencePair> ReadPairs(string path) => [.. TrainingFile.EncodePreferences(path)];

    private void Save(FineTuningJob job, string level, string message)
    {
        _store.SaveJob(job);
        _store.AddEvent(job.Id, level, message, Now);
        JobChanged?.Invoke(job);
    }

    public void Dispose()
    {
        _stopping.Cancel();
        lock (_gate)
        {
            foreach (var running in _running.Values)
            {
                running.Cancel();
            }
        }
        Task.WaitAll(_loops, TimeSpan.FromSeconds(30));
        _stopping.Dispose();
        _signal.Dispose();
    }
}

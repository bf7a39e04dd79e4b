using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using StrawberryPhi.LocalEngine.Engine;
using StrawberryPhi.LocalEngine.Model;

namespace StrawberryPhi.LocalEngine.Tests;

public sealed class JobRunnerTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);
    private readonly string _directory = Directory.CreateTempSubdirectory("phi-engine-").FullName;
    private readonly EngineStore _store;
    private readonly JobRunner _runner;
    private readonly ConcurrentQueue<(string Id, string Status)> _changes = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource<FineTuningJob>> _finished = new();

    public JobRunnerTests()
    {
        _store = new EngineStore(_directory);
        _runner = new JobRunner(_store, TimeProvider.System, threads: 2);
        _runner.JobChanged += job =>
        {
            _changes.Enqueue((job.Id, job.Status));
            if (JobStatus.IsFinal(job.Status))
            {
                Finished(job.Id).TrySetResult(job);
            }
        };
        _runner.Start();
    }

    private TaskCompletionSource<FineTuningJob> Finished(string id) =>
        _finished.GetOrAdd(id, _ => new TaskCompletionSource<FineTuningJob>(TaskCreationOptions.RunContinuationsAsynchronously));

    private string Upload(IEnumerable<string> lines)
    {
        using var content = new MemoryStream(Encoding.UTF8.GetBytes(string.Join("\n", lines) + "\n"));
        return _store.AddFile(content, "train.jsonl", "fine-tune", TimeProvider.System.GetUtcNow().ToUnixTimeSeconds()).Id;
    }

    private static IEnumerable<string> ArithmeticLines(int count, int seed = 1) =>
        ArithmeticReflectionData.Pairs(seed, count).Select(p => JsonSerializer.Serialize(new
        {
            messages = ArithmeticReflectionData.Example(p.A, p.B, withReflection: p.A % 2 == 0)
                .Select(m => new { role = m.Role, content = m.Content }),
        }));

    [Fact]
    public async Task Job_Succeeds_WithMetricsCheckpointsAndServableModels()
    {
        var file = Upload(ArithmeticLines(20));
        var job = _runner.Create(new CreateJobRequest("strawberry-tiny", file, Suffix: "arith", Seed: 5, NEpochs: 2, BatchSize: 8));
        Assert.Equal(JobStatus.ValidatingFiles, job.Status);

        var done = await Finished(job.Id).Task.WaitAsync(Timeout);
        Assert.Equal(JobStatus.Succeeded, done.Status);
        Assert.Equal($"ft:strawberry-tiny:local:arith:{job.Id}", done.FineTunedModel);
        Assert.Equal(new Hyperparameters(2, 8, 1.0), done.Hyperparameters);
        Assert.True(done.TrainedTokens > 0);

        var events = _store.ListEvents(job.Id);
        var metrics = events.Where(e => e.Type == "metrics").ToList();
        Assert.Equal(6, metrics.Count); // ceil(20 / 8) = 3 steps per epoch
        Assert.Equal(6, metrics[0].Data!["step"]);
        Assert.All(metrics, m => Assert.Equal(6, m.Data!["total_steps"]));
        Assert.Contains(events, e => e.Message == "The job has successfully completed.");
        Assert.Equal("Created fine-tuning job: " + job.Id, events[^1].Message);

        var checkpoints = _store.ListCheckpoints(job.Id);
        Assert.Equal([6, 3], checkpoints.Select(c => c.StepNumber));
        Assert.Equal($"{done.FineTunedModel}:ckpt-step-3", checkpoints[1].FineTunedModelCheckpoint);
        foreach (var id in checkpoints.Select(c => c.FineTunedModelCheckpoint).Append(done.FineTunedModel))
        {
            var model = _store.GetModel(id!);
            Assert.NotNull(model);
            using var loaded = SafeTensors.Load(model.File!);
            Assert.Equal("strawberry-tiny", loaded.Size.Name);
        }

        // A fine-tune can be fine-tuned again; it keeps its base.
        var again = _runner.Create(new CreateJobRequest(done.FineTunedModel!, file, Suffix: "more", NEpochs: 1, BatchSize: 10));
        var second = await Finished(again.Id).Task.WaitAsync(Timeout);
        Assert.Equal(JobStatus.Succeeded, second.Status);
        Assert.StartsWith("ft:strawberry-tiny:local:more:", second.FineTunedModel);
    }

    [Fact]
    public async Task Job_InvalidTrainingFile_FailsWithTheValidatorsReason()
    {
        var lines = ArithmeticLines(12).ToList();
        lines[2] = """{"messages":[{"role":"bot","content":"hi"},{"role":"assistant","content":"hello"}]}""";
        var job = _runner.Create(new CreateJobRequest("strawberry-tiny", Upload(lines)));
        var done = await Finished(job.Id).Task.WaitAsync(Timeout);
        Assert.Equal(JobStatus.Failed, done.Status);
        Assert.Equal("invalid_training_file", done.Error!.Code);
        Assert.Equal("training_file", done.Error.Param);
        Assert.Contains("line 3, $.messages[0].role", done.Error.Message);
        Assert.Contains("(unrecognized_role)", done.Error.Message);
        Assert.Null(done.FineTunedModel);
    }

    [Fact]
    public async Task Job_CancelWhileRunning_StopsBeforeTheEnd()
    {
        var running = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _runner.JobChanged += job =>
        {
            if (job.Status == JobStatus.Running)
            {
                running.TrySetResult();
            }
        };
        var job = _runner.Create(new CreateJobRequest("strawberry-tiny", Upload(ArithmeticLines(200)), NEpochs: 50, BatchSize: 4));
        await running.Task.WaitAsync(Timeout);
        _runner.Cancel(job.Id);
        var done = await Finished(job.Id).Task.WaitAsync(Timeout);
        Assert.Equal(JobStatus.Cancelled, done.Status);
        Assert.True(_store.ListEvents(job.Id).Count(e => e.Type == "metrics") < 50 * 50);
        Assert.Null(_store.GetJob(job.Id)!.FineTunedModel);
    }

    [Fact]
    public async Task Jobs_RunOneAtATimeInOrder()
    {
        var file = Upload(ArithmeticLines(10));
        var first = _runner.Create(new CreateJobRequest("strawberry-tiny", file, NEpochs: 1, BatchSize: 10));
        var second = _runner.Create(new CreateJobRequest("strawberry-tiny", file, NEpochs: 1, BatchSize: 10));
        await Finished(second.Id).Task.WaitAsync(Timeout);
        var order = _changes.Where(c => c.Status is JobStatus.Running or JobStatus.Succeeded).ToList();
        Assert.Equal([(first.Id, JobStatus.Running), (first.Id, JobStatus.Succeeded), (second.Id, JobStatus.Running), (second.Id, JobStatus.Succeeded)], order);
    }

    [Fact]
    public async Task Create_RunnerClaimsTheJobBeforeCreateReturns_CreationIsStillItsFirstEvent()
    {
        // A running job keeps the loop busy; the moment the new job's record is written, the first job is cancelled
        // and Create is held until the loop has claimed the new job and written its own first event.
        var running = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _runner.JobChanged += job =>
        {
            if (job.Status == JobStatus.Running)
            {
                running.TrySetResult();
            }
        };
        var blocker = _runner.Create(new CreateJobRequest("strawberry-tiny", Upload(ArithmeticLines(200)), NEpochs: 50, BatchSize: 4));
        await running.Task.WaitAsync(Timeout);

        using var claimed = new ManualResetEventSlim();
        var file = Upload(ArithmeticLines(10));
        _store.JobSaved += job =>
        {
            if (job.Id != blocker.Id && job.Status == JobStatus.ValidatingFiles && !claimed.IsSet)
            {
                _runner.Cancel(blocker.Id);
                claimed.Wait(Timeout);
            }
            else if (job.Id != blocker.Id && job.Status == JobStatus.Queued)
            {
                claimed.Set(); // the loop validated the file: its events are written
            }
        };
        var created = _runner.Create(new CreateJobRequest("strawberry-tiny", file, NEpochs: 1, BatchSize: 10));
        Assert.True(claimed.IsSet, "the runner did not pick the job up while Create was held");
        await Finished(created.Id).Task.WaitAsync(Timeout);

        var events = _store.ListEvents(created.Id);
        Assert.Equal("Created fine-tuning job: " + created.Id, events[^1].Message);
        Assert.Equal("Validating training file: " + file, events[^2].Message);
    }

    [Fact]
    public async Task Job_ExamplesLongerThanTheContext_CutsThePromptAndTrainsOnTheAnswer()
    {
        // The reflection system prompt alone is about 330 byte tokens, more than strawberry-tiny's 256-token context:
        // keeping each example's first 256 tokens cut every answer away and "trained" with a loss of 0.
        var system = "You are a world-class AI system, capable of complex reasoning and reflection. Reason through the query inside <thinking> tags, " +
            "and then provide your final response inside <output> tags. If you detect that you made a mistake in your reasoning at any point, " +
            "correct yourself inside <reflection> tags. Always think step by step before you answer the question.";
        var lines = ArithmeticReflectionData.Pairs(3, 12).Select(p => JsonSerializer.Serialize(new
        {
            messages = ArithmeticReflectionData.Example(p.A, p.B, withReflection: true).Skip(1)
                .Prepend(new ChatMessage("system", system)).Select(m => new { role = m.Role, content = m.Content }),
        }));
        var job = _runner.Create(new CreateJobRequest("strawberry-tiny", Upload(lines), NEpochs: 1, BatchSize: 12));

        var done = await Finished(job.Id).Task.WaitAsync(Timeout);
        Assert.Equal(JobStatus.Succeeded, done.Status);
        var events = _store.ListEvents(job.Id);
        var metrics = Assert.Single(events, e => e.Type == "metrics");
        Assert.True(metrics.Data!["train_loss"] > 1, $"train_loss {metrics.Data["train_loss"]}: the answers were not trained on");
        Assert.Contains(events, e => e.Level == "warn" &&
            e.Message == "12 of 12 training examples were longer than the 256-token context: the oldest part of the prompt was cut so that the answer is kept.");
    }

    [Fact]
    public async Task Job_NoExampleHasATrainedToken_FailsInsteadOfReportingALoss()
    {
        var lines = Enumerable.Range(0, 10).Select(i => JsonSerializer.Serialize(new
        {
            messages = new object[] { new { role = "user", content = $"{i}?" }, new { role = "assistant", content = $"{i}.", weight = 0 } },
        }));
        var job = _runner.Create(new CreateJobRequest("strawberry-tiny", Upload(lines), NEpochs: 1));

        var done = await Finished(job.Id).Task.WaitAsync(Timeout);
        Assert.Equal(JobStatus.Failed, done.Status);
        Assert.Equal(("no_trainable_tokens", "training_file"), (done.Error!.Code, done.Error.Param));
        Assert.StartsWith("None of the 10 training examples keeps a trained token", done.Error.Message);
        Assert.DoesNotContain(_store.ListEvents(job.Id), e => e.Type == "metrics");
        Assert.Null(done.FineTunedModel);
    }

    [Theory]
    [InlineData("gpt-5", null, null, "model")]
    [InlineData("strawberry-tiny", 0, null, "n_epochs")]
    [InlineData("strawberry-tiny", 51, null, "n_epochs")]
    [InlineData("strawberry-tiny", null, 257, "batch_size")]
    public void Create_OutOfBounds_RefusedWithParam(string model, int? epochs, int? batch, string param)
    {
        var file = Upload(ArithmeticLines(10));
        var e = Assert.Throws<EngineRequestException>(() => _runner.Create(new CreateJobRequest(model, file, NEpochs: epochs, BatchSize: batch)));
        Assert.Equal(param, e.Param);
        Assert.Empty(_store.ListJobs());
    }

    [Fact]
    public void Create_UnknownFile_Refused()
    {
        var e = Assert.Throws<EngineRequestException>(() => _runner.Create(new CreateJobRequest("strawberry-tiny", "file-nope")));
        Assert.Equal(("training_file", "file_not_found"), (e.Param, e.Code));
    }

    [Fact]
    public async Task Pause_RunningJob_ResumesExactlyWhereItStopped()
    {
        var file = Upload(ArithmeticLines(40));
        var request = new CreateJobRequest("strawberry-tiny", file, Seed: 5, NEpochs: 2, BatchSize: 4);
        var straight = _runner.Create(request);
        var whole = await Finished(straight.Id).Task.WaitAsync(Timeout);
        Assert.Equal(JobStatus.Succeeded, whole.Status);

        var paused = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        string? pausedId = null;
        _runner.JobChanged += job =>
        {
            if (job.Id == pausedId && job.Status == JobStatus.Paused)
            {
                paused.TrySetResult();
            }
        };
        void AtStep(string jobId, JobEvent e)
        {
            if (jobId == pausedId && e.Data?.GetValueOrDefault("step") == 7)
            {
                _runner.Pause(jobId); // on the training thread, between steps 7 and 8
            }
        }
        _store.EventAdded += AtStep;
        var interrupted = _runner.Create(request);
        pausedId = interrupted.Id;
        await paused.Task.WaitAsync(Timeout);
        _store.EventAdded -= AtStep;
        Assert.Equal(7, _store.GetResumeState(interrupted.Id)!.Value.Step);
        Assert.Contains(_store.ListEvents(interrupted.Id), e => e.Message == "Fine-tuning job paused after step 7.");

        _runner.Resume(interrupted.Id);
        var resumed = await Finished(interrupted.Id).Task.WaitAsync(Timeout);

        Assert.Equal(JobStatus.Succeeded, resumed.Status);
        var expected = StepLosses(straight.Id);
        var actual = StepLosses(interrupted.Id);
        Assert.Equal(expected.Keys, actual.Keys); // every step once: none repeated, none skipped
        foreach (var (step, loss) in expected)
        {
            Assert.True(Math.Abs(loss - actual[step]) < 1e-4, $"step {step}: {loss} straight, {actual[step]} after the pause");
        }
        Assert.Null(_store.GetResumeState(interrupted.Id)); // a finished job keeps no state
        var result = Assert.Single(resumed.ResultFiles);
        var csv = File.ReadAllLines(_store.FileContentPath(result));
        Assert.Equal("step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy", csv[0]);
        Assert.Equal(expected.Count + 1, csv.Length);
    }

    [Fact]
    public async Task Dpo_PreferencePairs_LossFallsFromLn2AndTheChosenAnswersWin()
    {
        // The preferred answer is the right sum; the other is off by one.
        var pairs = Enumerable.Range(0, 24).Select(i => JsonSerializer.Serialize(new
        {
            input = new { messages = new[] { new { role = "user", content = $"{i}+{i % 5}=" } } },
            preferred_output = new[] { new { role = "assistant", content = $"{i + i % 5}" } },
            non_preferred_output = new[] { new { role = "assistant", content = $"{i + i % 5 + 1}" } },
        }));
        var job = _runner.Create(new CreateJobRequest("strawberry-tiny", Upload(pairs), Seed: 4, NEpochs: 4, BatchSize: 8, Method: "dpo", Beta: 0.5));

        var done = await Finished(job.Id).Task.WaitAsync(Timeout);

        Assert.True(done.Status == JobStatus.Succeeded, done.Error?.Message);
        Assert.Equal(("dpo", 0.5), (done.Method, done.Hyperparameters.Beta));
        var steps = _store.ListEvents(job.Id).Where(e => e.Type == "metrics").Reverse().Select(e => e.Data!).ToList();
        Assert.Equal(12, steps.Count);
        // At the first step the model is its reference: every margin is 0 and the loss is exactly −log σ(0) = ln 2.
        Assert.Equal(Math.Log(2), steps[0]["train_loss"], 3);
        Assert.True(steps[^1]["train_loss"] < steps[0]["train_loss"] - 0.05, $"loss {steps[0]["train_loss"]} → {steps[^1]["train_loss"]}");
        Assert.True(steps[^1]["train_mean_token_accuracy"] > 0.5, $"the chosen answer won in {steps[^1]["train_mean_token_accuracy"]:P0} of the last batch's pairs");
    }

    [Theory]
    [InlineData("dpo", false, "The dpo method trains on preference pairs")]
    [InlineData("supervised", true, "they train with the dpo method")]
    public async Task Method_DataOfTheOtherKind_FailsSayingWhichMethodFits(string method, bool preference, string message)
    {
        var lines = preference
            ? Enumerable.Range(0, 10).Select(i => JsonSerializer.Serialize(new
            {
                input = new { messages = new[] { new { role = "user", content = $"{i}?" } } },
                preferred_output = new[] { new { role = "assistant", content = "yes" } },
                non_preferred_output = new[] { new { role = "assistant", content = "no" } },
            }))
            : ArithmeticLines(10);
        var job = _runner.Create(new CreateJobRequest("strawberry-tiny", Upload(lines), NEpochs: 1, Method: method));

        var done = await Finished(job.Id).Task.WaitAsync(Timeout);

        Assert.Equal(JobStatus.Failed, done.Status);
        Assert.Contains(message, done.Error!.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pause_QueuedJob_WaitsUntilResumed()
    {
        var blocker = _runner.Create(new CreateJobRequest("strawberry-tiny", Upload(ArithmeticLines(200)), NEpochs: 50, BatchSize: 4));
        var waiting = _runner.Create(new CreateJobRequest("strawberry-tiny", Upload(ArithmeticLines(10)), NEpochs: 1, BatchSize: 10));

        Assert.Equal(JobStatus.Paused, _runner.Pause(waiting.Id)!.Status);
        _runner.Cancel(blocker.Id);
        await Finished(blocker.Id).Task.WaitAsync(Timeout);

        Assert.Equal(JobStatus.Paused, _store.GetJob(waiting.Id)!.Status); // the runner passed it by
        _runner.Resume(waiting.Id);
        Assert.Equal(JobStatus.Succeeded, (await Finished(waiting.Id).Task.WaitAsync(Timeout)).Status);
        Assert.Throws<EngineRequestException>(() => _runner.Pause(waiting.Id));
    }

    [Fact]
    public async Task Start_JobLeftRunning_ResumesFromItsSavedStateAndSucceeds()
    {
        var directory = Directory.CreateTempSubdirectory("phi-engine-").FullName;
        try
        {
            var store = new EngineStore(directory);
            string jobId;
            var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using (var first = new JobRunner(store, TimeProvider.System, 2))
            {
                first.Start();
                using var content = new MemoryStream(Encoding.UTF8.GetBytes(string.Join("\n", ArithmeticLines(40)) + "\n"));
                var file = store.AddFile(content, "train.jsonl", "fine-tune", 1).Id;
                store.EventAdded += (_, e) =>
                {
                    if (e.Data?.GetValueOrDefault("step") == 5)
                    {
                        reached.TrySetResult();
                    }
                };
                jobId = first.Create(new CreateJobRequest("strawberry-tiny", file, Seed: 3, NEpochs: 10, BatchSize: 4)).Id;
                await reached.Task.WaitAsync(Timeout);
            } // the engine stops mid-job

            Assert.Equal(JobStatus.Running, store.GetJob(jobId)!.Status);
            var saved = store.GetResumeState(jobId)!.Value.Step;
            Assert.True(saved >= 5, $"saved at step {saved}");
            var done = new TaskCompletionSource<FineTuningJob>(TaskCreationOptions.RunContinuationsAsynchronously);
            using var second = new JobRunner(store, TimeProvider.System, 2);
            second.JobChanged += j => { if (JobStatus.IsFinal(j.Status)) { done.TrySetResult(j); } };
            second.Start();

            var after = await done.Task.WaitAsync(Timeout);
            Assert.Equal(JobStatus.Succeeded, after.Status);
            Assert.Contains(store.ListEvents(jobId), e => e.Message == $"The engine stopped while this job ran; it resumes from step {saved}.");
            var steps = store.ListEvents(jobId).Where(e => e.Type == "metrics").Select(e => (int)e.Data!["step"]).Order().ToList();
            Assert.Equal(Enumerable.Range(1, 100), steps); // each step once, across both runs (100 steps: far more than a stop takes)
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private Dictionary<int, double> StepLosses(string jobId) =>
        _store.ListEvents(jobId).Where(e => e.Type == "metrics").ToDictionary(e => (int)e.Data!["step"], e => e.Data!["train_loss"]);

    [Fact]
    public async Task Job_FileGoneBeforeTraining_FailsAndTheRunnerGoesOn()
    {
        var file = Upload(ArithmeticLines(10));
        var blocker = Upload(ArithmeticLines(200));
        var running = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var first = _runner.Create(new CreateJobRequest("strawberry-tiny", blocker, NEpochs: 50, BatchSize: 4));
        _runner.JobChanged += job =>
        {
            if (job.Id == first.Id && job.Status == JobStatus.Running)
            {
                running.TrySetResult();
            }
        };
        var doomed = _runner.Create(new CreateJobRequest("strawberry-tiny", file, NEpochs: 1));
        await running.Task.WaitAsync(Timeout);
        _store.DeleteFile(file); // gone while the job waits in line
        _runner.Cancel(first.Id);
        var failed = await Finished(doomed.Id).Task.WaitAsync(Timeout);
        Assert.Equal(JobStatus.Failed, failed.Status);
        Assert.Equal("training_failed", failed.Error!.Code);

        var next = _runner.Create(new CreateJobRequest("strawberry-tiny", Upload(ArithmeticLines(10)), NEpochs: 1, BatchSize: 10));
        Assert.Equal(JobStatus.Succeeded, (await Finished(next.Id).Task.WaitAsync(Timeout)).Status);
    }

    [Fact]
    public async Task Job_WithValidationFile_ReportsValidationMetrics()
    {
        var job = _runner.Create(new CreateJobRequest("strawberry-tiny", Upload(ArithmeticLines(16)), ValidationFile: Upload(ArithmeticLines(10, seed: 9)), NEpochs: 1, BatchSize: 8));
        Assert.Equal(JobStatus.Succeeded, (await Finished(job.Id).Task.WaitAsync(Timeout)).Status);
        var metrics = _store.ListEvents(job.Id).Where(e => e.Type == "metrics").ToList();
        Assert.Equal(2, metrics.Count);
        Assert.All(metrics, m => Assert.True(m.Data!["valid_loss"] > 0 && m.Data["valid_mean_token_accuracy"] >= 0));
        Assert.True(_store.ListCheckpoints(job.Id).Single().Metrics.ContainsKey("valid_loss"));
    }

    [Fact]
    public async Task Job_BadValidationFile_FailsNamingIt()
    {
        var bad = Upload(["{oops"]);
        var job = _runner.Create(new CreateJobRequest("strawberry-tiny", Upload(ArithmeticLines(12)), ValidationFile: bad));
        var done = await Finished(job.Id).Task.WaitAsync(Timeout);
        Assert.Equal(("invalid_validation_file", "validation_file"), (done.Error!.Code, done.Error.Param));
        Assert.Contains($"validation file {bad}", done.Error.Message);
    }

    [Fact]
    public async Task Jobs_TwoAllowed_RunAtOnce()
    {
        var directory = Directory.CreateTempSubdirectory("phi-engine-").FullName;
        try
        {
            var store = new EngineStore(directory);
            using var runner = new JobRunner(store, TimeProvider.System, threads: 1, maxConcurrentJobs: 2);
            var finished = new ConcurrentDictionary<string, TaskCompletionSource>();
            // The first job to run holds its own thread until the second runs too: with one slot it never would.
            using var secondRunning = new ManualResetEventSlim();
            var running = 0;
            var overlapped = false;
            runner.JobChanged += job =>
            {
                if (job.Status == JobStatus.Running)
                {
                    if (Interlocked.Increment(ref running) == 1)
                    {
                        overlapped = secondRunning.Wait(Timeout);
                    }
                    else
                    {
                        secondRunning.Set();
                    }
                }
                if (JobStatus.IsFinal(job.Status))
                {
                    finished.GetOrAdd(job.Id, _ => new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
                }
            };
            runner.Start();
            using var content = new MemoryStream(Encoding.UTF8.GetBytes(string.Join("\n", ArithmeticLines(40)) + "\n"));
            var file = store.AddFile(content, "t.jsonl", "fine-tune", 0).Id;
            var a = runner.Create(new CreateJobRequest("strawberry-tiny", file, NEpochs: 2, BatchSize: 4));
            var b = runner.Create(new CreateJobRequest("strawberry-tiny", file, NEpochs: 2, BatchSize: 4));
            foreach (var id in new[] { a.Id, b.Id })
            {
                await finished.GetOrAdd(id, _ => new(TaskCreationOptions.RunContinuationsAsynchronously)).Task.WaitAsync(Timeout);
            }
            Assert.True(overlapped, "the second job did not start while the first was running");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void FineTuningJob_HyperparametersResolvedOnlyBeforeTraining_AndStatusSurvivesTheStore()
    {
        var job = new FineTuningJob { Id = "ftjob-2", Model = "m", TrainingFile = "f", Seed = 1, Hyperparameters = new Hyperparameters(0, 0, 0), CreatedAt = 1 };
        job.MarkQueued();
        var resolved = job.ResolveHyperparameters(new Hyperparameters(3, 1, 1));
        Assert.Equal((JobStatus.Queued, 3), (resolved.Status, resolved.Hyperparameters.NEpochs));
        resolved.MarkRunning();
        Assert.Throws<InvalidOperationException>(() => resolved.ResolveHyperparameters(new Hyperparameters(1, 1, 1)));

        resolved.MarkFailed(new JobError("x", "y", null), 9);
        _store.SaveJob(resolved);
        var read = _store.GetJob("ftjob-2")!;
        Assert.Equal((JobStatus.Failed, 9L, "x"), (read.Status, read.FinishedAt!.Value, read.Error!.Code));
    }

    [Fact]
    public void FineTuningJob_IllegalMove_Throws()
    {
        var job = new FineTuningJob { Id = "ftjob-1", Model = "m", TrainingFile = "f", Seed = 1, Hyperparameters = new Hyperparameters(1, 1, 1), CreatedAt = 1 };
        job.MarkCancelled(2);
        Assert.Throws<InvalidOperationException>(job.MarkQueued);
        Assert.Throws<InvalidOperationException>(() => job.MarkFailed(new JobError("x", "y", null), 3));
    }

    public void Dispose()
    {
        _runner.Dispose();
        Directory.Delete(_directory, recursive: true);
    }
}

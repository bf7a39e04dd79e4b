using StrawberryPhi.LocalEngine.Model;
using TorchSharp;

namespace StrawberryPhi.LocalEngine.Tests;

public class ModelTests
{
    [Fact]
    public void GptModel_NamedSizes_HaveTheAdvertisedParameterCounts()
    {
        using var tiny = new GptModel(ModelSize.Tiny);
        using var small = new GptModel(ModelSize.Small);
        Assert.InRange(tiny.ParameterCount, 400_000, 600_000);
        Assert.InRange(small.ParameterCount, 2_500_000, 3_500_000);
    }

    [Fact]
    public void GptModel_SameBase_SameInitialWeights()
    {
        using var first = new GptModel(ModelSize.Tiny);
        using var second = new GptModel(ModelSize.Tiny);
        foreach (var (a, b) in first.parameters().Zip(second.parameters()))
        {
            Assert.True(a.eq(b).all().item<bool>());
        }
    }

    [Fact]
    public async Task GptModel_BuiltOnSeveralThreadsAtOnce_StillSameInitialWeights()
    {
        // Jobs and tests build models concurrently: one build must not draw from another's random stream.
        using var reference = new GptModel(ModelSize.Tiny);
        using var start = new Barrier(4);
        var builds = Enumerable.Range(0, 4).Select(_ => Task.Factory.StartNew(() =>
        {
            start.SignalAndWait(TimeSpan.FromSeconds(30));
            var same = true;
            for (var i = 0; i < 25; i++)
            {
                using var model = new GptModel(ModelSize.Tiny);
                same &= reference.parameters().Zip(model.parameters()).All(pair => pair.First.eq(pair.Second).all().item<bool>());
            }
            return same;
        }, TaskCreationOptions.LongRunning));
        Assert.All(await Task.WhenAll(builds), Assert.True);
    }

    [Fact]
    public void Generate_SameSeed_SameOutput_AndLimitGivesLength()
    {
        using var model = new GptModel(ModelSize.Tiny);
        var prompt = ChatEncoder.EncodePrompt(ArithmeticReflectionData.Prompt(12, 34), EngineVocabulary.Default);
        var options = new SamplingOptions { MaxTokens = 20, Temperature = 1.0, Seed = 7 };
        var first = Sampler.Generate(model, prompt, options);
        var second = Sampler.Generate(model, prompt, options);
        Assert.Equal(first.Tokens, second.Tokens);
        var other = Sampler.Generate(model, prompt, options with { Seed = 8 });
        Assert.NotEqual(first.Tokens, other.Tokens);
        Assert.Equal("length", first.FinishReason);
        Assert.Equal(20, first.Tokens.Length);
    }

    [Fact]
    public void Generate_WithCache_GreedyEqualsFullRecompute_AlsoPastTheContext()
    {
        using var model = new GptModel(ModelSize.Tiny);
        var prompt = ChatEncoder.EncodePrompt(ArithmeticReflectionData.Prompt(12, 34), EngineVocabulary.Default);
        var greedy = new SamplingOptions { MaxTokens = 40, Temperature = 0, Logprobs = true, TopLogprobs = 2 };
        var cached = Sampler.Generate(model, prompt, greedy);
        var full = Sampler.GenerateFull(model, prompt, greedy);
        Assert.Equal(full.Tokens, cached.Tokens);
        Assert.Equal(full.Logprobs!.Select(l => l.Logprob), cached.Logprobs!.Select(l => l.Logprob), (a, b) => Math.Abs(a - b) < 1e-4);

        // A prompt 10 tokens short of the context: the cache fills, then decoding goes on over a sliding window.
        var longPrompt = Enumerable.Range(0, ModelSize.Tiny.Context - 10).Select(i => 32 + i % 90).ToArray();
        var pastContext = new SamplingOptions { MaxTokens = 25, Temperature = 0 };
        Assert.Equal(Sampler.GenerateFull(model, longPrompt, pastContext).Tokens, Sampler.Generate(model, longPrompt, pastContext).Tokens);
    }

    [Fact]
    public void BatchDecoder_SequencesJoiningAndLeaving_EachGetsWhatItWouldAlone()
    {
        using var model = new GptModel(ModelSize.Tiny);
        var prompts = new[] { (3, 4), (12, 34), (56, 7), (80, 19), (5, 55) }
            .Select(p => ChatEncoder.EncodePrompt(ArithmeticReflectionData.Prompt(p.Item1, p.Item2), EngineVocabulary.Default)).ToArray();
        // Different lengths, greedy and seeded sampling, a penalty: each sequence's state is its own.
        var options = prompts.Select((_, i) => new SamplingOptions
        {
            MaxTokens = 6 + 7 * i, Temperature = i % 2 == 0 ? 0 : 0.9, Seed = 100 + i, FrequencyPenalty = i == 3 ? 0.5 : 0,
        }).ToArray();
        var alone = prompts.Select((p, i) => Sampler.GenerateFull(model, p, options[i]).Tokens).ToArray();

        using var decoder = new BatchDecoder(model, 3);
        var generations = prompts.Select((p, i) => new Generation(p, options[i], EngineVocabulary.Default, null, default)).ToArray();
        var next = 0;
        while (next < generations.Length || decoder.Count > 0)
        {
            // Fill free slots as they open, the way the scheduler does: later sequences join a batch under way.
            while (next < generations.Length && decoder.HasRoom)
            {
                decoder.Add(generations[next++]);
            }
            decoder.Step();
        }
        for (var i = 0; i < generations.Length; i++)
        {
            Assert.Equal(alone[i], generations[i].Result().Tokens);
            generations[i].Dispose();
        }
    }

    [Fact]
    public async Task Scheduler_ModelDeletedMidGeneration_ThatRequestFails_OthersGoOn()
    {
        using var doomed = new GptModel(ModelSize.Tiny);
        using var kept = new GptModel(ModelSize.Tiny);
        var gate = new System.Threading.Lock();
        using var scheduler = new StrawberryPhi.LocalEngine.Engine.InferenceScheduler(4, gate);
        var prompt = ChatEncoder.EncodePrompt(ArithmeticReflectionData.Prompt(1, 2), EngineVocabulary.Default);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var endless = scheduler.GenerateAsync(doomed, prompt, new SamplingOptions { MaxTokens = 1_000_000, Temperature = 1, Seed = 1 }, _ => started.TrySetResult(), default);
        await started.Task.WaitAsync(TimeSpan.FromSeconds(60));
        lock (gate)
        {
            scheduler.Abandon(doomed);
        }
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => endless.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("deleted", error.Message, StringComparison.Ordinal);
        var other = await scheduler.GenerateAsync(kept, prompt, new SamplingOptions { MaxTokens = 5, Temperature = 0 }, null, default).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(Sampler.GenerateFull(kept, prompt, new SamplingOptions { MaxTokens = 5, Temperature = 0 }).Tokens, other.Tokens);
    }

    [Fact]
    public void Train_SameSeed_SameLosses_AndCancelStops()
    {
        var data = ArithmeticReflectionData.Pairs(1, 32).Select(p =>
            ChatEncoder.EncodeForTraining(ArithmeticReflectionData.Example(p.A, p.B, withReflection: true), EngineVocabulary.Default)).ToList();
        var options = new TrainingOptions { Epochs = 1, BatchSize = 8, Seed = 3, Threads = 2 }; // the thread count is global in libtorch: the same as the other tests use
        List<double> Run()
        {
            using var model = new GptModel(ModelSize.Tiny);
            var losses = new List<double>();
            Trainer.Train(model, data, options, step => losses.Add(step.TrainLoss));
            return losses;
        }
        var first = Run();
        Assert.Equal(4, first.Count);
        Assert.Equal(first, Run());

        using var cancelled = new CancellationTokenSource();
        using var model = new GptModel(ModelSize.Tiny);
        var steps = 0;
        Assert.Throws<OperationCanceledException>(() => Trainer.Train(model, data, options, _ =>
        {
            if (++steps == 2)
            {
                cancelled.Cancel();
            }
        }, cancellationToken: cancelled.Token));
        Assert.Equal(2, steps);
    }
}

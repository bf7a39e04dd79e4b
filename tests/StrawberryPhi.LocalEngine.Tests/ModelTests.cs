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

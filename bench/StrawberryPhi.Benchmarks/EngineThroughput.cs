using System.Diagnostics;
using StrawberryPhi.LocalEngine.Model;

namespace StrawberryPhi.Benchmarks;

/// <summary>Training and inference tokens per second of each local base size on this machine (all cores).</summary>
internal static class EngineThroughput
{
    public static void Run(double seconds)
    {
        foreach (var size in ModelSize.All)
        {
            using var model = new GptModel(size);
            // Full-context examples of random bytes: every position is a trained token.
            var random = new Random(1);
            var examples = Enumerable.Range(0, 64).Select(_ =>
            {
                var tokens = Enumerable.Range(0, size.Context + 1).Select(_ => random.Next(256)).ToArray();
                return new EncodedExample(tokens, [.. tokens.Select(_ => true)]);
            }).ToList();
            var options = new TrainingOptions { Epochs = 1, BatchSize = 8 };
            Trainer.Train(model, examples.Take(8).ToList(), options); // warm-up
            var stopwatch = Stopwatch.StartNew();
            var steps = 0;
            while (stopwatch.Elapsed.TotalSeconds < seconds)
            {
                Trainer.Train(model, examples, options, _ => steps++);
            }
            var trainingRate = steps * options.BatchSize * size.Context / stopwatch.Elapsed.TotalSeconds;

            var prompt = ChatEncoder.EncodePrompt([new("user", "What is 12+34?")], EngineVocabulary.Default);
            Sampler.Generate(model, prompt, new SamplingOptions { MaxTokens = 8, Temperature = 0 }); // warm-up
            stopwatch.Restart();
            var generated = 0;
            while (stopwatch.Elapsed.TotalSeconds < seconds / 2)
            {
                generated += Sampler.Generate(model, prompt, new SamplingOptions { MaxTokens = 128, Temperature = 1, Seed = generated }).Tokens.Length;
            }
            var inferenceRate = generated / stopwatch.Elapsed.TotalSeconds;
            // Cancel latency: a cancel requested mid-step (batch 16, full-context sequences) until training stops.
            using var cancel = new CancellationTokenSource();
            var stopped = Stopwatch.StartNew();
            try
            {
                Trainer.Train(model, examples, options with { BatchSize = 16 }, step =>
                {
                    if (step.Step == 1)
                    {
                        _ = Task.Run(async () =>
                        {
                            await Task.Delay(TimeSpan.FromMilliseconds(200));
                            stopped.Restart();
                            await cancel.CancelAsync();
                        });
                    }
                }, cancellationToken: cancel.Token);
            }
            catch (OperationCanceledException)
            {
                stopped.Stop();
            }
            Console.WriteLine($"{size.Name}: {model.ParameterCount / 1e6:F2}M parameters, context {size.Context}; training {trainingRate:N0} tokens/s; inference {inferenceRate:N0} tokens/s (no KV cache, 128-token replies); cancel took {stopped.Elapsed.TotalMilliseconds:N0} ms");
        }
    }
}

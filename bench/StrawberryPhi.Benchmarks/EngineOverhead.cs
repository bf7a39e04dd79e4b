using System.Diagnostics;
using System.Text;
using System.Text.Json;
using StrawberryPhi.LocalEngine.Engine;
using StrawberryPhi.LocalEngine.Model;

namespace StrawberryPhi.Benchmarks;

/// <summary>
/// The engine's overhead: a whole job (upload, validation, reading, events per step, a checkpoint per epoch, the
/// final model) against the bare training loop on the same examples, model and hyperparameters.
/// </summary>
internal static class EngineOverhead
{
    public static async Task RunAsync(int examples, int epochs, int repeats)
    {
        var random = new Random(3);
        var lines = Enumerable.Range(0, examples).Select(_ =>
        {
            var (a, b) = (random.Next(10, 100), random.Next(10, 100));
            return JsonSerializer.Serialize(new
            {
                messages = new object[]
                {
                    new { role = "system", content = "Reason in <thinking>, answer in <output>." },
                    new { role = "user", content = $"{a}+{b}=?" },
                    new { role = "assistant", content = $"<thinking>{a % 10}+{b % 10}={a % 10 + b % 10}. So {a + b}.</thinking><output>{a + b}</output>" },
                },
            });
        }).ToList();
        var encoded = lines.Select(l =>
        {
            using var document = JsonDocument.Parse(l);
            return ChatEncoder.EncodeForTraining(document.RootElement.GetProperty("messages").EnumerateArray()
                .Select(m => new ChatMessage(m.GetProperty("role").GetString()!, m.GetProperty("content").GetString()!)).ToList(), EngineVocabulary.Default);
        }).ToList();
        var options = new TrainingOptions { Epochs = epochs, BatchSize = 16, Seed = 1, Threads = Environment.ProcessorCount };

        double bare = double.MaxValue, engine = double.MaxValue;
        for (var r = 0; r <= repeats; r++)
        {
            using (var model = new GptModel(ModelSize.Tiny))
            {
                var stopwatch = Stopwatch.StartNew();
                Trainer.Train(model, encoded, options);
                bare = r == 0 ? bare : Math.Min(bare, stopwatch.Elapsed.TotalSeconds);
            }

            var directory = Directory.CreateTempSubdirectory("phi-overhead-").FullName;
            try
            {
                var store = new EngineStore(directory);
                using var runner = new JobRunner(store, TimeProvider.System, Environment.ProcessorCount);
                var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                runner.JobChanged += job =>
                {
                    if (JobStatus.IsFinal(job.Status))
                    {
                        done.TrySetResult();
                    }
                };
                runner.Start();
                var stopwatch = Stopwatch.StartNew();
                using var content = new MemoryStream(Encoding.UTF8.GetBytes(string.Join("\n", lines) + "\n"));
                var file = store.AddFile(content, "train.jsonl", "fine-tune", 0);
                runner.Create(new CreateJobRequest("strawberry-tiny", file.Id, Seed: 1, NEpochs: epochs, BatchSize: 16));
                await done.Task.WaitAsync(TimeSpan.FromMinutes(10));
                engine = r == 0 ? engine : Math.Min(engine, stopwatch.Elapsed.TotalSeconds);
            }
            finally
            {
                Directory.Delete(directory, recursive: true);
            }
        }
        Console.WriteLine($"{examples} examples × {epochs} epochs, batch 16, strawberry-tiny: bare loop {bare:F2} s, engine job {engine:F2} s, overhead {(engine - bare) / bare:P1} (best of {repeats})");
    }
}

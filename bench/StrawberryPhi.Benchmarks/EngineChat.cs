using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using StrawberryPhi.LocalEngine.Api;

namespace StrawberryPhi.Benchmarks;

/// <summary>
/// Chat completion throughput of the engine over HTTP, side by side: the first generator (one request at a time,
/// the whole context recomputed per token) and the batched one with a key-value cache, on the same requests.
/// </summary>
internal static class EngineChat
{
    public static async Task RunAsync(string model, int requests, int concurrency, int maxTokens)
    {
        Console.WriteLine($"{requests} chat completions on {model}, {concurrency} at a time, up to {maxTokens} tokens each, temperature 1 (seeded); {Environment.ProcessorCount} cores");
        var answers = new Dictionary<int, string[]>();
        foreach (var maxBatch in new[] { 0, 8 })
        {
            var (seconds, tokens, latencies, texts) = await MeasureAsync(model, requests, concurrency, maxTokens, maxBatch);
            answers[maxBatch] = texts;
            latencies.Sort();
            Console.WriteLine($"{(maxBatch == 0 ? "before (no cache, one at a time)" : $"after (KV cache, batches of up to {maxBatch})"),-40} {tokens / seconds,8:N0} tokens/s  {tokens:N0} tokens in {seconds:F1} s  latency p50 {latencies[latencies.Count / 2]:F2} s, p95 {latencies[(int)(latencies.Count * 0.95)]:F2} s");
        }
        var same = answers[0].Zip(answers[8]).Count(p => p.First == p.Second);
        Console.WriteLine($"same seeded answers before and after: {same} of {requests}");
    }

    private static async Task<(double Seconds, long Tokens, List<double> Latencies, string[] Texts)> MeasureAsync(string model, int requests, int concurrency, int maxTokens, int maxBatch)
    {
        var directory = Directory.CreateTempSubdirectory("phi-chat-bench-").FullName;
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Services.AddLocalEngine(o =>
        {
            o.DataDirectory = directory;
            o.Threads = Environment.ProcessorCount;
            o.MaxBatch = maxBatch;
        });
        await using var app = builder.Build();
        app.MapLocalEngine("/v1");
        await app.StartAsync();
        using var http = new HttpClient { BaseAddress = new Uri(app.Urls.First() + "/"), Timeout = TimeSpan.FromMinutes(30) };
        async Task<(long Tokens, double Seconds, string Text)> Ask(int i)
        {
            var started = Stopwatch.StartNew();
            using var response = await http.PostAsJsonAsync("v1/chat/completions", new
            {
                model,
                messages = new[] { new { role = "user", content = $"What is {i}+{i * 7 % 90}? Think, then answer." } },
                max_completion_tokens = maxTokens,
                temperature = 1,
                seed = i,
            });
            response.EnsureSuccessStatusCode();
            using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            return (body.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt64(), started.Elapsed.TotalSeconds,
                body.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!);
        }
        await Ask(-1); // loads the model
        var results = new (long Tokens, double Seconds, string Text)[requests];
        var stopwatch = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, requests), new ParallelOptions { MaxDegreeOfParallelism = concurrency },
            async (i, _) => results[i] = await Ask(i));
        var seconds = stopwatch.Elapsed.TotalSeconds;
        await app.StopAsync();
        Directory.Delete(directory, recursive: true);
        return (seconds, results.Sum(r => r.Tokens), [.. results.Select(r => r.Seconds)], [.. results.Select(r => r.Text)]);
    }
}

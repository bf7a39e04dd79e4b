using System.Diagnostics;
using System.Text.Json;
using Microsoft.ML.Tokenizers;
using StrawberryPhi.Core.Tokens;

namespace StrawberryPhi.Benchmarks;

/// <summary>
/// The "tokenizer alone" ceiling: every string value of every message, already in memory, counted on N threads.
/// Reports Microsoft.ML.Tokenizers' own CountTokens (one instance per thread) and our TokenCounter, so the
/// before/after of docs/adr/0002 is measured on the same strings.
/// </summary>
internal static class TokenizerThroughput
{
    public static void Run(string path, int threads, int repeats)
    {
        var strings = new List<string>();
        foreach (var line in File.ReadLines(path))
        {
            using var document = JsonDocument.Parse(line);
            foreach (var message in document.RootElement.GetProperty("messages").EnumerateArray())
            {
                foreach (var property in message.EnumerateObject())
                {
                    if (property.Value.ValueKind == JsonValueKind.String)
                    {
                        strings.Add(property.Value.GetString()!);
                    }
                }
            }
        }
        var chars = strings.Sum(s => (long)s.Length);
        Console.WriteLine($"{strings.Count:N0} strings, {chars / 1e6:F1} M chars, GC server={System.Runtime.GCSettings.IsServerGC} concurrent={AppContext.GetData("System.GC.Concurrent")}");

        // Every run starts with fresh instances (empty word caches), as a validation run does. Ours first: the
        // library's runs allocate a gigabyte, and the heap they leave behind skews whatever is measured next.
        for (var t = 1; t <= threads; t++)
        {
            Measure($"TokenCounter,        {t} thread(s)", strings, t, () =>
            {
                var ours = Enumerable.Range(0, t).Select(_ => new TokenCounter(TokenEncoding.O200kBase)).ToArray();
                return (k, s) => ours[k].Count(s);
            }, repeats);
        }
        for (var t = 1; t <= threads; t++)
        {
            Measure($"library CountTokens, {t} thread(s)", strings, t, () =>
            {
                var library = Enumerable.Range(0, t).Select(_ => TiktokenTokenizer.CreateForEncoding("o200k_base")).ToArray();
                return (k, s) => library[k].CountTokens(s);
            }, repeats);
        }
    }

    private static void Measure(string name, List<string> strings, int threads, Func<Func<int, string, int>> create, int repeats)
    {
        var best = double.MaxValue;
        long total = 0;
        var gcBefore = GC.CollectionCount(0);
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        for (var r = 0; r <= repeats; r++)
        {
            var count = create();
            var stopwatch = Stopwatch.StartNew();
            total = 0;
            var threadList = Enumerable.Range(0, threads).Select(k => new Thread(() =>
            {
                // Contiguous shares: neighbouring strings share cache lines, so striding would make threads touch the same lines.
                long local = 0;
                var from = (int)((long)strings.Count * k / threads);
                var to = (int)((long)strings.Count * (k + 1) / threads);
                for (var i = from; i < to; i++)
                {
                    local += count(k, strings[i]);
                }
                Interlocked.Add(ref total, local);
            })).ToList();
            threadList.ForEach(x => x.Start());
            threadList.ForEach(x => x.Join());
            if (r > 0)
            {
                best = Math.Min(best, stopwatch.Elapsed.TotalSeconds); // the first run is warm-up
            }
        }
        var allocated = (GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore) / (repeats + 1);
        Console.WriteLine($"{name}: {best:F3} s, {total:N0} tokens, {total / best / 1e6:F2} M tokens/s, {allocated / 1e6:F0} MB allocated per run, {(GC.CollectionCount(0) - gcBefore) / (repeats + 1)} gen0 GCs per run");
    }
}

using System.Diagnostics;
using StrawberryPhi.Core.Validation;

namespace StrawberryPhi.Benchmarks;

/// <summary>Warm, in-process validation throughput by thread count (start-up excluded; see bench/run.sh for end to end).</summary>
internal static class ValidationThroughput
{
    public static void Run(string path, int threads, int repeats)
    {
        var bytes = new FileInfo(path).Length;
        for (var t = 1; t <= threads; t++)
        {
            var best = double.MaxValue;
            var gc = GC.CollectionCount(0);
            for (var r = 0; r <= repeats; r++)
            {
                var stopwatch = Stopwatch.StartNew();
                var report = DatasetValidator.ValidateFile(path, new ValidationOptions { Threads = t });
                if (r > 0)
                {
                    best = Math.Min(best, stopwatch.Elapsed.TotalSeconds);
                }
                if (r == repeats)
                {
                    Console.WriteLine($"validate, {t} thread(s): {best:F3} s, {bytes / best / 1e6:F1} MB/s, {report.Tokens.Total / best / 1e6:F2} M tokens/s, {(GC.CollectionCount(0) - gc) / (repeats + 1)} gen0 GCs per run");
                }
            }
        }
    }
}

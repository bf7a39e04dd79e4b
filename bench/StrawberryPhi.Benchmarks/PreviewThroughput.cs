using System.Diagnostics;
using System.Text.Json;
using StrawberryPhi.Core.Datasets;

namespace StrawberryPhi.Benchmarks;

/// <summary>
/// The studio's preview on a large file: building the line index, loading it, reading random pages by offset, and
/// searching. The page read is what every preview click costs once the index exists.
/// </summary>
internal static class PreviewThroughput
{
    public static void Run(string path, string rareTerm, string commonTerm)
    {
        var megabytes = new FileInfo(path).Length / (1024.0 * 1024.0);
        var indexPath = Path.Combine(Path.GetTempPath(), $"phi-bench-{Guid.NewGuid():N}.lines");
        try
        {
            var stopwatch = Stopwatch.StartNew();
            var index = LineIndex.Build(path);
            var build = stopwatch.Elapsed;
            Console.WriteLine($"file: {megabytes:N0} MB, {index.Lines:N0} lines");
            Console.WriteLine($"index build (one pass): {build.TotalMilliseconds:N0} ms ({megabytes / build.TotalSeconds:N0} MB/s)");

            stopwatch.Restart();
            index.Save(indexPath);
            Console.WriteLine($"index save: {stopwatch.ElapsedMilliseconds:N0} ms ({new FileInfo(indexPath).Length / 1024.0 / 1024.0:N1} MB on disk)");
            stopwatch.Restart();
            index = LineIndex.OpenOrBuild(path, indexPath);
            Console.WriteLine($"index load (what a preview after a restart pays): {stopwatch.Elapsed.TotalMilliseconds:N1} ms");

            var random = new Random(1);
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 12, FileOptions.RandomAccess);
            var pages = new List<double>();
            for (var i = 0; i < 200; i++)
            {
                var first = random.NextInt64(1, Math.Max(2, index.Lines - 20));
                stopwatch.Restart();
                foreach (var line in index.Read(file, first, 20))
                {
                    using var json = JsonDocument.Parse(line);
                }
                pages.Add(stopwatch.Elapsed.TotalMilliseconds);
            }
            pages.Sort();
            Console.WriteLine($"random page of 20 lines, read + parsed (200 pages): median {pages[100]:N2} ms, p95 {pages[190]:N2} ms, max {pages[^1]:N2} ms");

            foreach (var term in new[] { rareTerm, commonTerm })
            {
                stopwatch.Restart();
                var matches = LineSearch.Find(path, term, 100_000);
                Console.WriteLine($"search \"{term}\": {matches.Count:N0} matching lines{(matches.Count >= 100_000 ? " (capped)" : "")} in {stopwatch.ElapsedMilliseconds:N0} ms ({megabytes / stopwatch.Elapsed.TotalSeconds:N0} MB/s)");
            }
        }
        finally
        {
            File.Delete(indexPath);
        }
    }
}

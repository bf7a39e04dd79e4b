using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;

namespace StrawberryPhi.Benchmarks;

/// <summary>
/// What the studio's gateway (/api/v1) adds to a chat completion over calling the connection directly: the same
/// one-token request to the embedded local engine, alternately straight to it (/local/v1) and through the gateway
/// ("Local engine/strawberry-tiny"), in one run, as p50/p95 and the difference of the medians.
/// </summary>
public static class GatewayOverhead
{
    public static async Task RunAsync(int requests)
    {
        var directory = Directory.CreateTempSubdirectory("phi-bench-gateway-").FullName;
        try
        {
            await using var studio = new JobsScale.Studio(directory);
            studio.Start();
            using var http = new HttpClient { BaseAddress = studio.BaseAddress };
            object Body(string model, bool stream) => new { model, messages = new[] { new { role = "user", content = "1+1=" } }, max_completion_tokens = 1, temperature = 0, stream };
            async Task<double> Time(string path, object body)
            {
                var started = Stopwatch.GetTimestamp();
                using var response = await http.PostAsJsonAsync(path, body);
                response.EnsureSuccessStatusCode();
                await response.Content.ReadAsByteArrayAsync();
                return Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            }
            foreach (var stream in new[] { false, true })
            {
                var direct = new List<double>();
                var gateway = new List<double>();
                for (var i = 0; i < requests + 20; i++)
                {
                    // Alternated, so drift (GC, the other core's load) touches both alike; the first 20 of each warm up.
                    var d = await Time("local/v1/chat/completions", Body("strawberry-tiny", stream));
                    var g = await Time("api/v1/chat/completions", Body("Local engine/strawberry-tiny", stream));
                    if (i >= 20)
                    {
                        direct.Add(d);
                        gateway.Add(g);
                    }
                }
                var label = stream ? "streamed" : "whole";
                JobsScale.Report($"direct to the engine ({label})", direct);
                JobsScale.Report($"through /api/v1 ({label})", gateway);
                var added = gateway.Order().ElementAt(gateway.Count / 2) - direct.Order().ElementAt(direct.Count / 2);
                Console.WriteLine($"gateway adds {added:N2} ms at the median ({label})");
            }
            using var models = JsonDocument.Parse(await http.GetStringAsync("api/v1/models"));
            Console.WriteLine($"GET /api/v1/models lists {models.RootElement.GetProperty("data").GetArrayLength()} models");
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }
}

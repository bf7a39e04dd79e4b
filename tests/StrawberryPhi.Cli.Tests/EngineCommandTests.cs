using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using StrawberryPhi.Core.Tests;

namespace StrawberryPhi.Cli.Tests;

public class EngineCommandTests
{
    [Fact]
    public async Task Serve_Process_AnswersTheOpenAiApiOnLoopback()
    {
        using var dir = new TempDirectory();
        var info = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "phi"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in new[] { "engine", "serve", "--urls", "http://127.0.0.1:0", "--data-dir", dir.Path, "--threads", "1" })
        {
            info.ArgumentList.Add(arg);
        }
        info.Environment.Remove("PHI_ENGINE_API_KEY");
        using var process = Process.Start(info)!;
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
            var line = await process.StandardOutput.ReadLineAsync(timeout.Token);
            Assert.NotNull(line);
            Assert.StartsWith("Local engine listening on http://127.0.0.1:", line);
            var url = line.Split(' ')[4];
            Assert.EndsWith("/v1", url);

            using var http = new HttpClient();
            var models = await http.GetFromJsonAsync<JsonElement>($"{url}/models", timeout.Token);
            Assert.Contains(models.GetProperty("data").EnumerateArray(), m => m.GetProperty("id").GetString() == "strawberry-tiny");
            Assert.True(Directory.Exists(Path.Combine(dir.Path, "jobs")));

            // Without a key it trusts loopback: a rebound name (DNS rebinding) is not answered, and a sandboxed frame
            // (Origin: null) or another site may not upload.
            using var rebound = new HttpRequestMessage(HttpMethod.Get, $"{url}/models");
            rebound.Headers.Host = "evil.example:" + new Uri(url).Port;
            using var reboundResponse = await http.SendAsync(rebound, timeout.Token);
            Assert.Equal(System.Net.HttpStatusCode.BadRequest, reboundResponse.StatusCode);
            var error = await reboundResponse.Content.ReadFromJsonAsync<JsonElement>(timeout.Token);
            Assert.Equal("host_not_allowed", error.GetProperty("error").GetProperty("code").GetString());
            foreach (var origin in new[] { "null", "http://evil.example" })
            {
                using var form = new MultipartFormDataContent { { new StringContent("{}"), "file", "x.jsonl" }, { new StringContent("fine-tune"), "purpose" } };
                using var upload = new HttpRequestMessage(HttpMethod.Post, $"{url}/files") { Content = form };
                upload.Headers.Add("Origin", origin);
                using var uploadResponse = await http.SendAsync(upload, timeout.Token);
                Assert.Equal(System.Net.HttpStatusCode.Forbidden, uploadResponse.StatusCode);
            }
            Assert.Empty(Directory.GetFiles(Path.Combine(dir.Path, "files")));
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    [Fact]
    public async Task Serve_NonLoopbackWithoutKey_Refused()
    {
        var result = await PhiRunner.RunAsync("engine", "serve", "--urls", "http://0.0.0.0:5199");
        Assert.Equal(ExitCodes.CannotRun, result.ExitCode);
        Assert.Equal("phi: refusing to serve on 0.0.0.0, which is not a loopback address, without an API key: set PHI_ENGINE_API_KEY.\n", result.Error);
    }

    [Fact]
    public async Task Serve_BadUrl_Refused()
    {
        var result = await PhiRunner.RunAsync("engine", "serve", "--urls", "ftp://x");
        Assert.Equal(ExitCodes.CannotRun, result.ExitCode);
        Assert.StartsWith("phi: --urls must be an http URL", result.Error);
    }
}

using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace StrawberryPhi.Web.Tests.Integration;

public sealed class StartTests(StudioHost first) : IClassFixture<StudioHost>
{
    [Fact]
    public async Task SecondStudio_OnTheSameDataDirectory_StopsBeforeTouchingIt()
    {
        // The first studio is receiving a file: its staging folder holds the part received so far.
        var staging = Path.Combine(first.DataDirectory, "datasets", "staging", $"{Guid.NewGuid():N}.jsonl");
        await File.WriteAllTextAsync(staging, "half a file");

        await using var second = new SecondStudioHost(first.DataDirectory);
        await Assert.ThrowsAnyAsync<Exception>(() => second.InitializeAsync());

        Assert.Contains(second.Logs, line => line.StartsWith("Critical", StringComparison.Ordinal) &&
            line.Contains($"Another Strawberry Phi studio is using the data directory {first.DataDirectory}", StringComparison.Ordinal));
        Assert.True(File.Exists(staging), "the second studio cleared the first one's staging folder");
        using var api = first.Api();
        using var response = await api.GetAsync(new Uri("api/providers", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task SecondStudioProcess_OnTheSameDataDirectory_SaysWhyAndExitsWithOne()
    {
        var (code, said) = await RunStudioAsync("--urls", "http://127.0.0.1:0", "--DataDirectory", first.DataDirectory);

        Assert.Equal(1, code);
        Assert.Contains($"The studio cannot start: Another Strawberry Phi studio is using the data directory {first.DataDirectory}", said, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PortInUse_ExitsWithOneSentenceAndCodeOne()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        var data = Directory.CreateTempSubdirectory("phi-port-").FullName;
        try
        {
            var (code, said) = await RunStudioAsync("--urls", $"http://127.0.0.1:{port}", "--DataDirectory", data);

            Assert.Equal(1, code);
            Assert.Contains($"The studio cannot start: http://127.0.0.1:{port} is already in use", said, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    [Fact]
    public async Task ListeningBeyondLoopback_Process_SaysWhyAndExitsWithOne()
    {
        var data = Directory.CreateTempSubdirectory("phi-any-").FullName;
        try
        {
            var (code, said) = await RunStudioAsync("--urls", "http://0.0.0.0:0", "--DataDirectory", data);

            Assert.Equal(1, code);
            Assert.Contains("The studio cannot start: it has no sign-in yet, so it only listens on loopback addresses", said, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    /// <summary>Runs the studio as a user does (its own process, Production), and returns its exit code and output.</summary>
    private static async Task<(int Code, string Output)> RunStudioAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "StrawberryPhi.Web.dll"));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        using var studio = Process.Start(start)!;
        var output = studio.StandardOutput.ReadToEndAsync();
        var errors = studio.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(StudioHost.Timeout);
        try
        {
            await studio.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            studio.Kill(entireProcessTree: true);
            throw;
        }
        return (studio.ExitCode, await output + await errors);
    }
}

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
    public async Task PortInUse_ExitsWithOneSentenceAndCodeOne()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        var data = Directory.CreateTempSubdirectory("phi-port-").FullName;
        try
        {
            var start = new ProcessStartInfo(Environment.ProcessPath!)
            {
                ArgumentList = { Path.Combine(AppContext.BaseDirectory, "StrawberryPhi.Web.dll"), "--urls", $"http://127.0.0.1:{port}", "--DataDirectory", data },
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = AppContext.BaseDirectory,
            };
            start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
            using var studio = Process.Start(start)!;
            var output = studio.StandardOutput.ReadToEndAsync();
            var errors = studio.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(StudioHost.Timeout);
            await studio.WaitForExitAsync(timeout.Token);

            var said = await output + await errors;
            Assert.Equal(1, studio.ExitCode);
            Assert.Contains($"The studio cannot start: http://127.0.0.1:{port} is already in use", said, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }
}

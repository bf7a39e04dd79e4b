using System.Diagnostics;

namespace StrawberryPhi.Cli.Tests;

public sealed record PhiResult(int ExitCode, string Output, string Error);

/// <summary>Runs <c>phi</c> in-process with captured output and a fixed clock, or as a real process.</summary>
public static class PhiRunner
{
    public static readonly DateTimeOffset Today = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);

    public static async Task<PhiResult> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var code = await PhiApp.RunAsync(args, output, error, new FixedTime(Today), timeout.Token);
        return new PhiResult(code, output.ToString(), error.ToString());
    }

    /// <summary>Runs the built phi executable, to see exactly what a user's shell sees.</summary>
    public static async Task<PhiResult> RunProcessAsync(params string[] args)
    {
        var info = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "phi"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        using var process = Process.Start(info)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var error = process.StandardError.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        return new PhiResult(process.ExitCode, await output, await error);
    }

    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}

extern alias phi;

using phi::StrawberryPhi.Cli;

namespace StrawberryPhi.Web.Tests.Integration;

/// <summary>Runs <c>phi</c> in-process with its output and error captured, as a user's script sees them.</summary>
internal static class PhiRunner
{
    public static async Task<(int Code, string Output, string Error)> Phi(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        using var timeout = new CancellationTokenSource(StudioHost.Timeout);
        var code = await PhiApp.RunAsync(args, output, error, TimeProvider.System, timeout.Token);
        return (code, output.ToString(), error.ToString());
    }
}

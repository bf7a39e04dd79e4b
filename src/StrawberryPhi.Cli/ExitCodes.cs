namespace StrawberryPhi.Cli;

/// <summary>The exit codes scripts rely on.</summary>
public static class ExitCodes
{
    /// <summary>The data has no errors (warnings allowed), or the command did its work.</summary>
    public const int Ok = 0;

    /// <summary>The data has errors.</summary>
    public const int DataErrors = 1;

    /// <summary>The command could not run: bad arguments, a missing or unreadable file.</summary>
    public const int CannotRun = 2;
}

/// <summary>The command cannot run; the message is the one line printed to stderr.</summary>
public sealed class CommandFailedException(string message) : Exception(message);

using Spectre.Console;

namespace StrawberryPhi.Cli;

/// <summary>What every command writes to and reads the time from; tests pass their own writers and clock.</summary>
public sealed class CliContext
{
    public CliContext(TextWriter output, TextWriter error, TimeProvider time, bool interactive)
    {
        Output = output;
        Error = error;
        Time = time;
        Interactive = interactive;
        Console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = interactive ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = interactive ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = interactive ? InteractionSupport.Yes : InteractionSupport.No,
        });
        if (!interactive)
        {
            // Redirected output is read by scripts and grep: do not wrap lines at an imaginary terminal edge.
            Console.Profile.Width = 1000;
        }
    }

    public TextWriter Output { get; }

    public TextWriter Error { get; }

    public TimeProvider Time { get; }

    /// <summary>Whether stdout is a terminal: colours and progress bars only then.</summary>
    public bool Interactive { get; }

    public IAnsiConsole Console { get; }

    public DateOnly Today => DateOnly.FromDateTime(Time.GetUtcNow().UtcDateTime);
}

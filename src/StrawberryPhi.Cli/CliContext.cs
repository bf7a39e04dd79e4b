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
        // Created on first use: JSON output never needs it, and it costs start-up time.
        _console = new Lazy<IAnsiConsole>(() =>
        {
            var console = AnsiConsole.Create(new AnsiConsoleSettings
            {
                Out = new AnsiConsoleOutput(output),
                Ansi = interactive ? AnsiSupport.Detect : AnsiSupport.No,
                ColorSystem = interactive ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
                Interactive = interactive ? InteractionSupport.Yes : InteractionSupport.No,
            });
            if (!interactive)
            {
                // Redirected output is read by scripts and grep: do not wrap lines at an imaginary terminal edge.
                console.Profile.Width = 1000;
            }
            return console;
        });
    }

    private readonly Lazy<IAnsiConsole> _console;

    public TextWriter Output { get; }

    public TextWriter Error { get; }

    public TimeProvider Time { get; }

    /// <summary>Whether stdout is a terminal: colours and progress bars only then.</summary>
    public bool Interactive { get; }

    public IAnsiConsole Console => _console.Value;

    public DateOnly Today => DateOnly.FromDateTime(Time.GetUtcNow().UtcDateTime);
}

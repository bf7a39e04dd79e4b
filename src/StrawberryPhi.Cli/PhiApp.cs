using System.CommandLine;
using StrawberryPhi.Cli.Commands;

namespace StrawberryPhi.Cli;

/// <summary>The <c>phi</c> command line: parses, runs one command, and maps every failure to an exit code and one line.</summary>
public static class PhiApp
{
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, TimeProvider time, CancellationToken cancellationToken = default)
    {
        var interactive = ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected;
        var context = new CliContext(output, error, time, interactive);
        var root = BuildRoot(context);
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            var message = string.Join(' ', parse.Errors[0].Message.Split(['\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            await error.WriteLineAsync($"phi: {message} (phi --help shows usage)");
            return ExitCodes.CannotRun;
        }
        try
        {
            return await parse.InvokeAsync(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false }, cancellationToken);
        }
        catch (CommandFailedException e)
        {
            await error.WriteLineAsync($"phi: {e.Message}");
        }
        catch (OperationCanceledException)
        {
            await error.WriteLineAsync("phi: cancelled");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            await error.WriteLineAsync($"phi: {e.Message}");
        }
        catch (Exception e)
        {
            // No stack trace for users; the type tells a developer where to look.
            await error.WriteLineAsync($"phi: internal error ({e.GetType().Name}): {e.Message}");
        }
        return ExitCodes.CannotRun;
    }

    internal static RootCommand BuildRoot(CliContext context)
    {
        var root = new RootCommand("Strawberry Phi: validate, measure and convert fine-tuning datasets; run the local engine; drive fine-tuning jobs through a studio.");
        foreach (var command in new Command[]
        {
            ValidateCommand.Create(context, "validate", "Check a dataset the way the provider will (and more), with token counts and a cost estimate."),
            ValidateCommand.Create(context, "stats", "Token statistics, reflection statistics and a training estimate for a dataset."),
            ConvertCommand.Create(context),
            SplitCommand.Create(context),
            DedupeCommand.Create(context),
            CleanCommand.Create(context),
            SampleCommand.Create(context),
            ModelsCommand.Create(context),
            EngineCommand.Create(context),
            JobsCommand.Create(context),
            EvalCommand.Create(context),
            ChatCommands.Chat(context),
            ChatCommands.Compare(context),
            ImportCommand.Create(context),
            ImportCommand.Inventory(context),
            ImportCommand.Golden(context),
            BundleCommand.Create(context),
        })
        {
            root.Add(command);
        }
        return root;
    }
}

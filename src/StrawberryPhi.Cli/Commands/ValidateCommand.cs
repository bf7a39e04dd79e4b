using System.CommandLine;
using System.Text.Json;
using Spectre.Console;
using StrawberryPhi.Cli.Output;
using StrawberryPhi.Core;
using StrawberryPhi.Core.Catalog;
using StrawberryPhi.Core.Validation;

namespace StrawberryPhi.Cli.Commands;

/// <summary><c>phi validate</c> and <c>phi stats</c>: one pass over the file, two ways of showing it.</summary>
internal static class ValidateCommand
{
    private const long ProgressThresholdBytes = 16L << 20;

    public static Command Create(CliContext context, string name, string description)
    {
        var file = CommonOptions.FileArgument("The JSONL dataset (chat or preference).");
        var model = CommonOptions.Model();
        var format = CommonOptions.Format();
        var reflection = new Option<bool>("--reflection") { Description = "Also check the reflection format (<thinking>, <reflection>, <output>)." };
        var tags = new Option<string>("--tags")
        {
            Description = "Reflection tag names, comma separated (thinking,reflection,output).",
            DefaultValueFactory = _ => "thinking,reflection,output",
        };
        var maxPerCode = new Option<int>("--max-per-code")
        {
            Description = "How many issues of each code to list (all are counted).",
            DefaultValueFactory = _ => 20,
        };
        var threads = new Option<int>("--threads")
        {
            Description = "Worker threads (default: one per core).",
            DefaultValueFactory = _ => Environment.ProcessorCount,
        };

        var command = new Command(name, description) { file, model, format, reflection, tags, maxPerCode, threads };
        command.SetAction((parse, cancellationToken) =>
        {
            var path = CommonOptions.ExistingFile(parse.GetValue(file)!);
            var target = CommonOptions.ResolveModel(parse.GetValue(model)!);
            var reflectionTags = CommonOptions.ParseTags(parse.GetValue(tags)!);
            if (parse.GetValue(maxPerCode) < 0 || parse.GetValue(threads) < 1)
            {
                throw new CommandFailedException("--max-per-code must be 0 or more and --threads 1 or more.");
            }
            // The vocabulary loads while the file is opened and its format detected.
            Core.Tokens.TokenEncoding.FromName(target.Encoding).Preload();
            var options = DatasetValidator.OptionsFor(target) with
            {
                Reflection = parse.GetValue(reflection),
                Tags = reflectionTags,
                MaxIssuesPerCode = parse.GetValue(maxPerCode),
                Threads = parse.GetValue(threads),
            };
            var estimate = new EstimateTarget(ModelCatalog.Default, target, context.Today);
            var json = parse.GetValue(format) == "json";

            var report = Validate(context, path, options, estimate, showProgress: !json, cancellationToken);
            if (json)
            {
                context.Output.WriteLine(JsonSerializer.Serialize(report, CoreJson.Options));
            }
            else
            {
                ReportRenderer.Render(context.Console, report, listIssues: name == "validate", options.MaxIssuesPerCode);
            }
            return Task.FromResult(report.HasErrors ? ExitCodes.DataErrors : ExitCodes.Ok);
        });
        return command;
    }

    private static ValidationReport Validate(
        CliContext context, string path, ValidationOptions options, EstimateTarget estimate, bool showProgress, CancellationToken cancellationToken)
    {
        var length = new FileInfo(path).Length;
        if (!showProgress || !context.Interactive || length < ProgressThresholdBytes)
        {
            return DatasetValidator.ValidateFile(path, options, estimate, progress: null, cancellationToken: cancellationToken);
        }
        ValidationReport? report = null;
        context.Console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new TransferSpeedColumn(), new RemainingTimeColumn())
            .Start(progressContext =>
            {
                var task = progressContext.AddTask(Path.GetFileName(path), maxValue: length);
                report = DatasetValidator.ValidateFile(path, options, estimate, new BytesProgress(task), cancellationToken: cancellationToken);
                task.Value = length;
            });
        return report!;
    }

    /// <summary>Reports straight to the progress task from the validating thread (Progress&lt;T&gt; would post to a context).</summary>
    private sealed class BytesProgress(ProgressTask task) : IProgress<long>
    {
        public void Report(long value) => task.Value = value;
    }
}

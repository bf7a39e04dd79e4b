using System.CommandLine;
using System.Text.Json;
using Spectre.Console;
using StrawberryPhi.Core;
using StrawberryPhi.Core.Datasets;
using StrawberryPhi.Core.Import;
using StrawberryPhi.Core.Reflection;
using StrawberryPhi.Core.Text;
using StrawberryPhi.Core.Transform;
using StrawberryPhi.Core.Validation;

namespace StrawberryPhi.Cli.Commands;

/// <summary><c>phi convert</c>: import CSV, Alpaca, ShareGPT or Parquet to chat JSONL, and/or convert to reflection form.</summary>
internal static class ConvertCommand
{
    private static readonly Dictionary<string, DatasetFormat> Formats = new(StringComparer.OrdinalIgnoreCase)
    {
        ["auto"] = DatasetFormat.Unknown,
        ["chat"] = DatasetFormat.ChatJsonl,
        ["preference"] = DatasetFormat.PreferenceJsonl,
        ["csv"] = DatasetFormat.Csv,
        ["alpaca"] = DatasetFormat.AlpacaJson,
        ["alpaca-jsonl"] = DatasetFormat.AlpacaJsonl,
        ["sharegpt"] = DatasetFormat.ShareGptJson,
        ["sharegpt-jsonl"] = DatasetFormat.ShareGptJsonl,
        ["parquet"] = DatasetFormat.Parquet,
    };

    public static Command Create(CliContext context)
    {
        var file = CommonOptions.FileArgument("The source: chat or preference JSONL, CSV, Alpaca, ShareGPT (JSON or JSONL) or Parquet.");
        var output = CommonOptions.Output(required: true);
        var from = new Option<string>("--from")
        {
            Description = $"Source format: {string.Join(", ", Formats.Keys)}.",
            DefaultValueFactory = _ => "auto",
        }.AcceptOnlyFromAmong([.. Formats.Keys]);
        var map = new Option<string?>("--map") { Description = "Column mapping for CSV and Parquet, e.g. prompt=question,response=answer,system=sys." };
        var reflection = new Option<bool>("--reflection") { Description = "Convert to reflection form: add the reflection system prompt." };
        var systemPrompt = new Option<string?>("--system-prompt") { Description = "The reflection system prompt (default: Reflection-70B's)." };
        var systemMode = new Option<string>("--system-mode")
        {
            Description = "With an existing system prompt: prepend the reflection prompt, replace it, or keep it (add-if-missing).",
            DefaultValueFactory = _ => "prepend",
        }.AcceptOnlyFromAmong("prepend", "replace", "add-if-missing");
        var wrapOutput = new Option<bool>("--wrap-output") { Description = "Wrap plain assistant answers as <output>…</output> (no reasoning is invented)." };
        var tags = new Option<string>("--tags") { Description = "Reflection tag names.", DefaultValueFactory = _ => "thinking,reflection,output" };
        var format = CommonOptions.Format();

        var command = new Command("convert", "Import a dataset to chat JSONL, optionally converting it to reflection form. The input is never modified.")
        {
            file, output, from, map, reflection, systemPrompt, systemMode, wrapOutput, tags, format,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var input = CommonOptions.ExistingFile(parse.GetValue(file)!);
            var target = CommonOptions.OutputFile(parse.GetValue(output)!, input);
            var reflectionTags = CommonOptions.ParseTags(parse.GetValue(tags)!);
            ColumnMapping mapping;
            try
            {
                mapping = parse.GetValue(map) is { } text ? ColumnMapping.Parse(text) : ColumnMapping.Auto;
            }
            catch (FormatException e)
            {
                throw new CommandFailedException(e.Message);
            }
            var wantsReflection = parse.GetValue(reflection) || parse.GetValue(wrapOutput);
            ReflectionConversion? conversion = wantsReflection
                ? new ReflectionConversion(
                    parse.GetValue(systemPrompt) ?? reflectionTags.Apply(ReflectionTags.DefaultSystemPrompt),
                    parse.GetValue(systemMode) switch { "replace" => SystemPromptMode.Replace, "add-if-missing" => SystemPromptMode.AddIfMissing, _ => SystemPromptMode.Prepend },
                    parse.GetValue(wrapOutput),
                    reflectionTags)
                : null;

            ConversionResult result;
            try
            {
                result = await DatasetConverter.ConvertAsync(input, target, Formats[parse.GetValue(from)!], mapping, conversion, cancellationToken: cancellationToken);
            }
            catch (ImportException e)
            {
                // Core says what is wrong in words every face can use; here the way to choose columns is a flag.
                throw new CommandFailedException(e.Message.Contains("column", StringComparison.Ordinal) && parse.GetValue(map) is null
                    ? $"{e.Message} Name the columns with --map prompt=COLUMN,response=COLUMN[,system=COLUMN]."
                    : e.Message);
            }

            if (parse.GetValue(format) == "json")
            {
                context.Output.WriteLine(JsonSerializer.Serialize(new { input, output = target, result.Source, result.Written, result.Changed, result.Skipped, result.Issues, result.Reflection }, CoreJson.Options));
            }
            else
            {
                context.Console.MarkupLine($"Read {Markup.Escape(result.Source)}; wrote [bold]{Plural.Of(result.Written, "example")}[/] to {Markup.Escape(target)}.");
                if (result.Reflection is { } tally)
                {
                    context.Console.MarkupLine(Markup.Escape(tally.Describe(reflectionTags)));
                }
                if (result.Skipped > 0)
                {
                    context.Console.MarkupLine($"[red]Skipped {Plural.Of(result.Skipped, "record")} with errors:[/]");
                    foreach (var issue in result.Issues)
                    {
                        var where = issue.Line > 0 ? $"line {issue.Line}" : issue.Path;
                        context.Console.MarkupLine($"  {Markup.Escape(where)}: {Markup.Escape(issue.Message)}");
                    }
                }
                // The path as the user wrote it works from where they are; the bare file name would not from elsewhere.
                context.Console.MarkupLine($"[dim]Next: phi validate {Markup.Escape(CommonOptions.Quoted(parse.GetValue(output)!))}{(conversion is null ? "" : " --reflection")}[/]");
            }
            return result.Skipped > 0 ? ExitCodes.DataErrors : ExitCodes.Ok;
        });
        return command;
    }
}

/// <summary><c>phi split</c>: a seeded train/validation split.</summary>
internal static class SplitCommand
{
    public static Command Create(CliContext context)
    {
        var file = CommonOptions.FileArgument();
        var validation = new Option<double>("--validation")
        {
            Description = "Share of examples for validation, between 0 and 1.",
            DefaultValueFactory = _ => 0.1,
        };
        var seed = CommonOptions.Seed();
        var trainOut = new Option<string?>("--train-output") { Description = "Training file (default: FILE.train.jsonl)." };
        var validationOut = new Option<string?>("--validation-output") { Description = "Validation file (default: FILE.validation.jsonl)." };
        var command = new Command("split", "Split a JSONL dataset into training and validation files, with a seed. The input is never modified.")
        {
            file, validation, seed, trainOut, validationOut,
        };
        command.SetAction(parse =>
        {
            var input = CommonOptions.ExistingFile(parse.GetValue(file)!);
            var share = parse.GetValue(validation);
            if (share is <= 0 or >= 1)
            {
                throw new CommandFailedException($"--validation must be between 0 and 1 (exclusive); got {share}.");
            }
            var stem = Path.Combine(Path.GetDirectoryName(input)!, Path.GetFileNameWithoutExtension(input));
            var train = CommonOptions.OutputFile(parse.GetValue(trainOut) ?? stem + ".train.jsonl", input);
            var valid = CommonOptions.OutputFile(parse.GetValue(validationOut) ?? stem + ".validation.jsonl", input, train);
            var result = LineSelection.Split(input, train, valid, share, parse.GetValue(seed));
            context.Console.MarkupLine($"Wrote {Plural.Of(result.Train, "training example")} to {Markup.Escape(train)} and {Plural.Of(result.Validation, "validation example")} to {Markup.Escape(valid)} (seed {parse.GetValue(seed)}).");
            return ExitCodes.Ok;
        });
        return command;
    }
}

/// <summary><c>phi dedupe</c>: drop examples that repeat an earlier one.</summary>
internal static class DedupeCommand
{
    public static Command Create(CliContext context)
    {
        var file = CommonOptions.FileArgument();
        var output = CommonOptions.Output(required: true);
        var command = new Command("dedupe", "Remove examples that say the same as an earlier one (whitespace aside), keeping the first. The input is never modified.")
        {
            file, output,
        };
        command.SetAction(parse =>
        {
            var input = CommonOptions.ExistingFile(parse.GetValue(file)!);
            var target = CommonOptions.OutputFile(parse.GetValue(output)!, input);
            var result = LineSelection.Dedupe(input, target);
            context.Console.MarkupLine($"Kept {Plural.Of(result.Kept, "example")} and removed {Plural.Of(result.Removed, "duplicate")}; wrote {Markup.Escape(target)}.");
            foreach (var (line, first) in result.Examples.Take(10))
            {
                context.Console.MarkupLine($"  line {line} repeats line {first}");
            }
            return ExitCodes.Ok;
        });
        return command;
    }
}

/// <summary><c>phi sample</c>: a seeded random subset, in file order.</summary>
internal static class SampleCommand
{
    public static Command Create(CliContext context)
    {
        var file = CommonOptions.FileArgument();
        var output = CommonOptions.Output(required: true);
        var count = new Option<long>("--count", "-n") { Description = "How many examples to keep.", Required = true };
        var seed = CommonOptions.Seed();
        var command = new Command("sample", "Keep a seeded random subset of the examples, in their original order. The input is never modified.")
        {
            file, output, count, seed,
        };
        command.SetAction(parse =>
        {
            var input = CommonOptions.ExistingFile(parse.GetValue(file)!);
            var target = CommonOptions.OutputFile(parse.GetValue(output)!, input);
            if (parse.GetValue(count) < 1)
            {
                throw new CommandFailedException("--count must be 1 or more.");
            }
            var written = LineSelection.Sample(input, target, parse.GetValue(count), parse.GetValue(seed));
            context.Console.MarkupLine($"Wrote {Plural.Of(written, "example")} to {Markup.Escape(target)} (seed {parse.GetValue(seed)}).");
            return ExitCodes.Ok;
        });
        return command;
    }
}

/// <summary><c>phi clean</c>: keep the examples the provider would accept, and say which lines went and why.</summary>
internal static class CleanCommand
{
    public static Command Create(CliContext context)
    {
        var file = CommonOptions.FileArgument("A chat or preference JSONL file.");
        var output = CommonOptions.Output(required: true);
        var model = CommonOptions.Model();
        var format = CommonOptions.Format();
        var command = new Command("clean", "Write only the examples without errors (the checks of phi validate; reflection checks aside), listing each dropped line with its error. The input is never modified.")
        {
            file, output, model, format,
        };
        command.SetAction((parse, cancellationToken) =>
        {
            var input = CommonOptions.ExistingFile(parse.GetValue(file)!);
            var target = CommonOptions.OutputFile(parse.GetValue(output)!, input);
            var options = DatasetValidator.OptionsFor(CommonOptions.ResolveModel(parse.GetValue(model)!));
            var result = LineSelection.Clean(input, target, options, cancellationToken: cancellationToken);
            if (parse.GetValue(format) == "json")
            {
                context.Output.WriteLine(JsonSerializer.Serialize(new { input, output = target, result.Kept, result.Dropped, dropped_by_code = result.DroppedByCode, first_dropped = result.FirstDropped }, CoreJson.Options));
                return Task.FromResult(ExitCodes.Ok);
            }
            context.Console.MarkupLine($"Kept {Plural.Of(result.Kept, "example")} and dropped {Plural.Of(result.Dropped, "example")} with errors; wrote {Markup.Escape(target)}.");
            foreach (var (code, count) in result.DroppedByCode)
            {
                context.Console.MarkupLine($"  {count:N0} × {Markup.Escape(code)}");
            }
            foreach (var issue in result.FirstDropped.Take(20))
            {
                context.Console.MarkupLine($"  line {issue.Line}, {Markup.Escape(issue.Path)}: {Markup.Escape(issue.Message)} ({Markup.Escape(issue.Code)})");
            }
            if (result.Dropped > 20)
            {
                context.Console.MarkupLine($"  [dim]… and {Plural.Of(result.Dropped - 20, "more line")} (--format json lists the first 100)[/]");
            }
            context.Console.MarkupLine($"[dim]Next: phi validate {Markup.Escape(CommonOptions.Quoted(parse.GetValue(output)!))}[/]");
            return Task.FromResult(ExitCodes.Ok);
        });
        return command;
    }
}

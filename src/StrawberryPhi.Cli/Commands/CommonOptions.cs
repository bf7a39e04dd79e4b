using System.CommandLine;
using StrawberryPhi.Core.Catalog;

namespace StrawberryPhi.Cli.Commands;

/// <summary>Options and argument checks that several commands share.</summary>
internal static class CommonOptions
{
    public const string DefaultModel = ModelCatalog.DefaultTargetModel;

    public static Argument<string> FileArgument(string description = "The dataset file.") => new("file") { Description = description };

    public static Option<string> Model() => new("--model", "-m")
    {
        Description = $"Target model (id or alias, see phi models); sets the encoding, token limit and price. Default: {DefaultModel}.",
        DefaultValueFactory = _ => DefaultModel,
    };

    public static Option<string> Format() => new Option<string>("--format")
    {
        Description = "Output: text for people, json for scripts.",
        DefaultValueFactory = _ => "text",
    }.AcceptOnlyFromAmong("text", "json");

    public static Option<string> Output(bool required) => new("--output", "-o")
    {
        Description = "Where to write the result (written to a temporary file first, then moved into place).",
        Required = required,
    };

    public static Option<int> Seed() => new("--seed")
    {
        Description = "Seed for the random choice; the same seed gives the same result.",
        DefaultValueFactory = _ => 42,
    };

    /// <summary>The full path of an existing, readable file, or a one-line reason why not.</summary>
    public static string ExistingFile(string path)
    {
        var full = Path.GetFullPath(path);
        if (Directory.Exists(full))
        {
            throw new CommandFailedException($"{path} is a directory, not a file.");
        }
        if (!File.Exists(full))
        {
            throw new CommandFailedException($"{path}: no such file.");
        }
        try
        {
            using var probe = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1);
        }
        catch (UnauthorizedAccessException)
        {
            throw new CommandFailedException($"{path}: permission denied.");
        }
        catch (IOException e)
        {
            throw new CommandFailedException($"{path}: cannot be read ({e.Message}).");
        }
        return full;
    }

    /// <summary>The full path of an output file that must not be the input.</summary>
    public static string OutputFile(string path, params string[] inputs)
    {
        var full = Path.GetFullPath(path);
        if (inputs.Any(input => string.Equals(Path.GetFullPath(input), full, StringComparison.Ordinal)))
        {
            throw new CommandFailedException($"{path} is the input file; write the output elsewhere (inputs are never modified).");
        }
        if (Directory.Exists(full))
        {
            throw new CommandFailedException($"{path} is a directory; give a file name.");
        }
        var directory = Path.GetDirectoryName(full);
        if (directory is not null && !Directory.Exists(directory))
        {
            throw new CommandFailedException($"{path}: the directory {directory} does not exist.");
        }
        return full;
    }

    /// <summary>The --tags value as reflection tags, or the one-line reason why not.</summary>
    public static Core.Reflection.ReflectionTags ParseTags(string text)
    {
        try
        {
            return Core.Reflection.ReflectionTags.Parse(text);
        }
        catch (FormatException e)
        {
            throw new CommandFailedException(e.Message);
        }
    }

    public static CatalogModel ResolveModel(string name)
    {
        var catalog = ModelCatalog.Default;
        return catalog.Find(name) ?? throw new CommandFailedException(
            $"unknown model \"{name}\"; known: {string.Join(", ", catalog.Models.Select(m => m.Id))}.");
    }

    /// <summary>A path as a shell takes it back: quoted when it holds spaces or quotes.</summary>
    public static string Quoted(string path) =>
        path.Any(c => char.IsWhiteSpace(c) || c is '\'' or '"' or '$' or '&' or ';' or '(' or ')') ? $"'{path.Replace("'", "'\\''", StringComparison.Ordinal)}'" : path;
}

namespace StrawberryPhi.Core.Import;

/// <summary>Which source columns hold the prompt, the response and (optionally) the system prompt.</summary>
public sealed record ColumnMapping(string? Prompt = null, string? Response = null, string? System = null)
{
    private static readonly string[] PromptNames = ["prompt", "question", "instruction", "input", "query", "user"];
    private static readonly string[] ResponseNames = ["response", "answer", "output", "completion", "assistant", "target"];
    private static readonly string[] SystemNames = ["system", "system_prompt", "systemprompt"];

    public static ColumnMapping Auto { get; } = new();

    /// <summary>Parses "prompt=question,response=answer,system=sys".</summary>
    public static ColumnMapping Parse(string text)
    {
        var mapping = new ColumnMapping();
        foreach (var pair in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = pair.Split('=', 2, StringSplitOptions.TrimEntries);
            if (parts.Length != 2 || parts[1].Length == 0)
            {
                throw new FormatException($"\"{pair}\" is not ROLE=COLUMN; expected something like prompt=question,response=answer,system=sys.");
            }
            mapping = parts[0].ToLowerInvariant() switch
            {
                "prompt" or "user" => mapping with { Prompt = parts[1] },
                "response" or "assistant" => mapping with { Response = parts[1] },
                "system" => mapping with { System = parts[1] },
                _ => throw new FormatException($"Unknown role \"{parts[0]}\" in the column mapping; use prompt, response or system."),
            };
        }
        return mapping;
    }

    /// <summary>Resolves the mapping against the source's column names, guessing the ones not given.</summary>
    /// <exception cref="ImportException">A named column is missing, or prompt/response cannot be guessed.</exception>
    public ResolvedColumns Resolve(IReadOnlyList<string> columns)
    {
        int Find(string? name, string[] guesses, string role, bool required)
        {
            if (name is not null)
            {
                var index = IndexOf(columns, name);
                return index >= 0 ? index : throw new ImportException(
                    $"The {role} column \"{name}\" does not exist; the columns are: {string.Join(", ", columns)}.");
            }
            foreach (var guess in guesses)
            {
                var index = IndexOf(columns, guess);
                if (index >= 0)
                {
                    return index;
                }
            }
            return required
                ? throw new ImportException($"Cannot tell which column holds the {role}; the columns are: {string.Join(", ", columns)}. Choose the {role} column.")
                : -1;
        }

        var prompt = Find(Prompt, PromptNames, "prompt", required: true);
        var response = Find(Response, ResponseNames, "response", required: true);
        var system = Find(System, SystemNames, "system", required: false);
        if (prompt == response)
        {
            throw new ImportException($"The prompt and the response are both column \"{columns[prompt]}\"; choose a different column for each.");
        }
        if (system >= 0 && (system == prompt || system == response))
        {
            throw new ImportException($"The system prompt and the {(system == prompt ? "prompt" : "response")} are both column \"{columns[system]}\"; choose a different column for each.");
        }
        return new ResolvedColumns(prompt, response, system, columns);
    }

    private static int IndexOf(IReadOnlyList<string> columns, string name)
    {
        for (var i = 0; i < columns.Count; i++)
        {
            if (string.Equals(columns[i].Trim(), name, StringComparison.OrdinalIgnoreCase))
            {
                return i;
            }
        }
        return -1;
    }
}

/// <summary>Column indexes of a mapping (System is -1 when there is none).</summary>
public sealed record ResolvedColumns(int Prompt, int Response, int System, IReadOnlyList<string> Columns)
{
    public string Describe() =>
        $"prompt={Columns[Prompt]}, response={Columns[Response]}" + (System >= 0 ? $", system={Columns[System]}" : "");
}

/// <summary>The source cannot be imported at all (as opposed to one bad record, which becomes an issue).</summary>
public sealed class ImportException(string message) : Exception(message);

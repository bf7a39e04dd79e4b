using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using StrawberryPhi.Core.Reflection;
using StrawberryPhi.Core.Validation;

namespace StrawberryPhi.Core.Evaluation;

/// <summary>A grade: whether the answer passes, what was compared (the answer as extracted), and why, in words.</summary>
public sealed record Grade(bool Pass, string Extracted, string Reason);

/// <summary>Where an answer is read from before it is graded.</summary>
public static class Answers
{
    /// <summary>The final answer: the inside of the <c>&lt;output&gt;</c> block when there is one, else the whole text (trimmed).</summary>
    public static string Final(string text)
    {
        var parse = ReflectionParser.Parse(text, ReflectionTags.Default);
        return (parse.Output is { } output ? output.Of(text).ToString() : text).Trim();
    }

    /// <summary>
    /// The first answer of a reflection trace: what the model had said before it first reflected, i.e. the thinking
    /// up to the first <c>&lt;reflection&gt;</c> (graders then read the answer from it: numeric takes its last number).
    /// Null when the text has no reflection: then there was no second thought, and the final answer is also the first.
    /// </summary>
    public static string? First(string text)
    {
        var parse = ReflectionParser.Parse(text, ReflectionTags.Default);
        if (parse.Reflections.Count == 0)
        {
            return null;
        }
        var open = text.IndexOf("<" + ReflectionTags.Default.Reflection + ">", StringComparison.Ordinal);
        var start = parse.Thinking is { } thinking && thinking.Start <= open ? thinking.Start : 0;
        return text[start..open].Trim();
    }

    /// <summary>A reference as written, or GSM8K's form (a solution ending in a line <c>#### 42</c>): the part after the last <c>####</c>.</summary>
    public static string Reference(string text)
    {
        var marker = text.LastIndexOf("####", StringComparison.Ordinal);
        return (marker >= 0 ? text[(marker + 4)..] : text).Trim();
    }
}

/// <summary>
/// Graders that compare an answer with a reference without a model: exact, normalized, numeric, contains, regex and
/// valid JSON. Answers are read from <c>&lt;output&gt;</c> when present (<see cref="Answers.Final"/>), references in
/// GSM8K's form are understood (<see cref="Answers.Reference"/>). The same graders serve evaluation runs and
/// <c>phi eval grade</c>, so an answer produced elsewhere is graded exactly as the studio grades its own.
/// </summary>
public static partial class Graders
{
    public static IReadOnlyList<string> Names { get; } = ["exact", "normalized", "numeric", "contains", "regex", "json"];

    /// <param name="tolerance">For numeric: the largest absolute difference that still passes.</param>
    public static Grade Grade(string grader, string answer, string reference, double tolerance = 1e-6)
    {
        var extracted = Answers.Final(answer);
        var expected = Answers.Reference(reference);
        return grader switch
        {
            "exact" => extracted == expected
                ? new(true, extracted, "identical")
                : new(false, extracted, $"\"{Short(extracted)}\" is not \"{Short(expected)}\""),
            "normalized" => Normalize(extracted) == Normalize(expected)
                ? new(true, extracted, "identical once case, spaces and final punctuation are set aside")
                : new(false, extracted, $"\"{Short(Normalize(extracted))}\" is not \"{Short(Normalize(expected))}\" (normalized)"),
            "numeric" => Numeric(extracted, expected, tolerance),
            "contains" => extracted.Contains(expected, StringComparison.OrdinalIgnoreCase)
                ? new(true, extracted, $"contains \"{Short(expected)}\"")
                : new(false, extracted, $"does not contain \"{Short(expected)}\""),
            "regex" => Regex(extracted, expected),
            "json" => Json(extracted),
            _ => throw new ArgumentException($"There is no grader \"{grader}\"; the graders are {string.Join(", ", Names)}.", nameof(grader)),
        };
    }

    /// <summary>Lower case, whitespace collapsed, surrounding quotes and final punctuation removed.</summary>
    public static string Normalize(string text)
    {
        var collapsed = WhiteSpace().Replace(text.Trim().ToLowerInvariant(), " ");
        return collapsed.Trim().Trim('"', '\'', '`').TrimEnd('.', '!', '?', ';', ':', ',').Trim();
    }

    /// <summary>
    /// The last number in a text, read the way people write them: thousands separators (1,234), a currency sign
    /// ($, €, £), a percent sign, a unit after it (12 km), a minus sign (- or −), decimals. Null when there is none.
    /// </summary>
    public static double? LastNumber(string text)
    {
        var matches = Number().Matches(text.Replace('−', '-'));
        if (matches.Count == 0)
        {
            return null;
        }
        var match = matches[^1];
        var digits = match.Groups["digits"].Value.Replace(",", "", StringComparison.Ordinal);
        if (!double.TryParse(digits, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value))
        {
            return null;
        }
        return match.Groups["sign"].Success ? -value : value;
    }

    private static Grade Numeric(string extracted, string expected, double tolerance)
    {
        if (LastNumber(expected) is not { } want)
        {
            return new(false, extracted, $"the reference \"{Short(expected)}\" holds no number");
        }
        if (LastNumber(extracted) is not { } got)
        {
            return new(false, extracted, "the answer holds no number");
        }
        var text = got.ToString("R", CultureInfo.InvariantCulture);
        return Math.Abs(got - want) <= tolerance
            ? new(true, text, $"{text} = {want.ToString("R", CultureInfo.InvariantCulture)}")
            : new(false, text, $"{text} ≠ {want.ToString("R", CultureInfo.InvariantCulture)}");
    }

    private static Grade Regex(string extracted, string pattern)
    {
        try
        {
            var matched = System.Text.RegularExpressions.Regex.IsMatch(extracted, pattern, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
            return new(matched, extracted, matched ? $"matches /{pattern}/" : $"does not match /{pattern}/");
        }
        catch (ArgumentException e)
        {
            return new(false, extracted, $"the reference is not a valid regular expression: {e.Message}");
        }
        catch (RegexMatchTimeoutException)
        {
            return new(false, extracted, $"matching /{pattern}/ took longer than a second");
        }
    }

    private static Grade Json(string extracted)
    {
        try
        {
            using var document = JsonDocument.Parse(extracted);
            return new(true, extracted, $"valid JSON ({document.RootElement.ValueKind.ToString().ToLowerInvariant()})");
        }
        catch (JsonException e)
        {
            return new(false, extracted, $"not valid JSON: {JsonProblem.Describe(e)}");
        }
    }

    private static string Short(string text) => text.Length <= 80 ? text : new StringBuilder(text, 0, 77, 80).Append('…').ToString();

    [GeneratedRegex(@"\s+")]
    private static partial System.Text.RegularExpressions.Regex WhiteSpace();

    [GeneratedRegex(@"(?<sign>-)?\s?[$€£]?\s?(?<digits>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)")]
    private static partial System.Text.RegularExpressions.Regex Number();
}

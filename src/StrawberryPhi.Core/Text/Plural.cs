namespace StrawberryPhi.Core.Text;

/// <summary>
/// A count with its noun, in the one form every face uses: "1 error", "2 errors", "1,204 examples". Nouns whose
/// plural is not the singular plus "s" name it.
/// </summary>
public static class Plural
{
    public static string Of(long count, string singular, string? plural = null) =>
        $"{count:N0} {Noun(count, singular, plural)}";

    /// <summary>The noun alone, for text that writes its count elsewhere.</summary>
    public static string Noun(long count, string singular, string? plural = null) =>
        count == 1 ? singular : plural ?? singular + "s";

    /// <summary>"was" or "were", to agree with a count.</summary>
    public static string Was(long count) => count == 1 ? "was" : "were";
}

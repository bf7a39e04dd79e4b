namespace StrawberryPhi.Web;

/// <summary>Small rules for text that users type into forms and API bodies.</summary>
internal static class Input
{
    /// <summary>The text trimmed, or null when nothing but whitespace was given (an optional field left empty).</summary>
    public static string? Blank(string? text) => string.IsNullOrWhiteSpace(text) ? null : text.Trim();
}

using System.Text.Json;

namespace StrawberryPhi.Core.Validation;

/// <summary>A JSON syntax error in our words, the same wherever a line is read (the report, the preview, the line dialog).</summary>
public static class JsonProblem
{
    public static string Describe(JsonException e)
    {
        // System.Text.Json appends " LineNumber: 0 | BytePositionInLine: 12." which is said here as a byte.
        var message = e.Message;
        var cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        var reason = (cut > 0 ? message[..cut] : message).TrimEnd('.', ' ') + ".";
        return $"Not valid JSON (at byte {(e.BytePositionInLine ?? 0) + 1}): {reason}";
    }
}

using System.Text.Json.Serialization;

namespace StrawberryPhi.Core.Validation;

[JsonConverter(typeof(JsonStringEnumConverter<Severity>))]
public enum Severity
{
    [JsonStringEnumMemberName("info")] Info,
    [JsonStringEnumMemberName("warning")] Warning,
    [JsonStringEnumMemberName("error")] Error,
}

/// <summary>One finding about a dataset. <see cref="Line"/> is the 1-based line of the file (0 for the file as a whole).</summary>
public sealed record Issue(long Line, string Path, Severity Severity, string Code, string Message);

namespace StrawberryPhi.Web;

public enum StudioError
{
    /// <summary>The input is wrong; the message says which field and why (400).</summary>
    Invalid,

    NotFound,

    /// <summary>The request conflicts with the current state (409).</summary>
    Conflict,

    /// <summary>An upload is over the configured limit (413).</summary>
    TooLarge,

    /// <summary>The provider failed; the message is the provider's reason in words (502).</summary>
    Provider,
}

/// <summary>An expected failure with a message for the user; the API maps it to ProblemDetails, pages show it.</summary>
public sealed class StudioException(StudioError error, string message, string? field = null) : Exception(message)
{
    public StudioError Error { get; } = error;

    /// <summary>The input field the message is about, when there is one.</summary>
    public string? Field { get; } = field;

    public int StatusCode => Error switch
    {
        StudioError.Invalid => StatusCodes.Status400BadRequest,
        StudioError.NotFound => StatusCodes.Status404NotFound,
        StudioError.Conflict => StatusCodes.Status409Conflict,
        StudioError.TooLarge => StatusCodes.Status413PayloadTooLarge,
        _ => StatusCodes.Status502BadGateway,
    };

    public static StudioException Invalid(string field, string message) => new(StudioError.Invalid, message, field);

    public static StudioException NotFound(string what) => new(StudioError.NotFound, $"{what} does not exist (it may have been removed).");
}

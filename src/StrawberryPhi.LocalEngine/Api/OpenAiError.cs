using Microsoft.AspNetCore.Http;

namespace StrawberryPhi.LocalEngine.Api;

/// <summary>Errors in OpenAI's shape: {"error": {"type", "message", "param", "code"}}.</summary>
public static class OpenAiError
{
    public static IResult BadRequest(string message, string? param, string code = "invalid_value") =>
        Result(StatusCodes.Status400BadRequest, "invalid_request_error", message, param, code);

    public static IResult NotFound(string message, string? param, string code) =>
        Result(StatusCodes.Status404NotFound, "invalid_request_error", message, param, code);

    public static IResult Unauthorized() =>
        Result(StatusCodes.Status401Unauthorized, "invalid_request_error", "Missing or incorrect API key for the local engine.", null, "invalid_api_key");

    public static IResult Result(int status, string type, string message, string? param, string code) =>
        Results.Json(new { error = new { type, message, param, code } }, statusCode: status);
}

/// <summary>A request that breaks the API's rules; the handlers turn it into a 400.</summary>
public sealed class BadRequestException(string message, string? param, string code = "invalid_value") : Exception(message)
{
    public string? Param { get; } = param;
    public string Code { get; } = code;
}

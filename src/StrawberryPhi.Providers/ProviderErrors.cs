using System.ClientModel;
using System.Text.Json;

namespace StrawberryPhi.Providers;

/// <summary>Turns provider failures into sentences a user can act on, never carrying the key.</summary>
internal static class ProviderErrors
{
    public static ProviderException FromResult(ClientResultException e, ProviderEndpoint endpoint)
    {
        if (e.Status == 0)
        {
            return Unreachable(e.InnerException ?? e, endpoint);
        }
        var (message, code) = ReadError(e);
        var what = e.Status switch
        {
            400 => "The provider refused the request (400 Bad Request)",
            401 => "The provider rejected the API key (401 Unauthorized)",
            403 => "The key is not allowed to do this (403 Forbidden)",
            404 => "Not found at this base URL (404); check that it ends with the API version, such as /v1",
            408 => "The provider timed out (408)",
            413 => "The file is larger than the provider accepts (413)",
            429 when code == "insufficient_quota" => "The account is out of quota (429 insufficient_quota)",
            429 => "The provider is rate limiting these requests (429), still after retries",
            >= 500 => $"The provider had an internal error ({e.Status}), still after retries",
            _ => $"The provider answered {e.Status}",
        };
        var text = message is null ? what + "." : $"{what}: {message}";
        return new ProviderException(Scrub(text, endpoint.ApiKey), e.Status, code, transient: IsTransient(e.Status, code), retryAfter: RetryAfter(e, TimeSpan.FromMinutes(10), TimeProvider.System));
    }

    public static ProviderException Unreachable(Exception e, ProviderEndpoint endpoint) =>
        new(Scrub($"Could not reach {endpoint.BaseUrl.GetLeftPart(UriPartial.Authority)}: {e.Message}", endpoint.ApiKey), transient: true);

    /// <summary>408, 429 (but never <c>insufficient_quota</c>), 5xx, or no answer at all.</summary>
    public static bool IsTransient(ClientResultException e) => IsTransient(e.Status, ReadError(e).Code);

    private static bool IsTransient(int status, string? code) => status is 0 or 408 or >= 500 || (status == 429 && code != "insufficient_quota");

    /// <summary>How long the provider asked to wait, from the failed answer's headers.</summary>
    public static TimeSpan? RetryAfter(ClientResultException e, TimeSpan max, TimeProvider time)
    {
        if (e.GetRawResponse() is not { } response)
        {
            return null;
        }
        using var message = new HttpResponseMessage();
        foreach (var (name, value) in response.Headers)
        {
            message.Headers.TryAddWithoutValidation(name, value);
        }
        return ProviderResilience.RetryAfter(message, max, time);
    }

    /// <summary>Removes the key if a provider or a library echoes it back in a message.</summary>
    public static string Scrub(string text, string? key) =>
        string.IsNullOrEmpty(key) || key.Length < 4 ? text : text.Replace(key, "[key]", StringComparison.Ordinal);

    private static (string? Message, string? Code) ReadError(ClientResultException e)
    {
        var response = e.GetRawResponse();
        if (response is null)
        {
            return (null, null);
        }
        try
        {
            using var json = JsonDocument.Parse(response.Content);
            if (json.RootElement.ValueKind == JsonValueKind.Object && json.RootElement.TryGetProperty("error", out var error))
            {
                if (error.ValueKind == JsonValueKind.String)
                {
                    return (error.GetString(), null);
                }
                var message = error.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;
                var code = error.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
                return (message, code);
            }
        }
        catch (JsonException)
        {
            // Not JSON (a proxy's HTML page, say): say so briefly below.
        }
        var raw = response.Content.ToString();
        return (raw.Length == 0 ? null : raw.Length > 200 ? raw[..200] + "…" : raw, null);
    }
}

using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace StrawberryPhi.LocalEngine.Api;

/// <summary>Reading the multipart bodies of <c>POST /files</c> and of upload parts.</summary>
internal static class MultipartForms
{
    /// <summary>Room for the multipart boundaries and headers around the content.</summary>
    private const long Envelope = 64 * 1024;

    /// <summary>
    /// Reads a form whose content is at most <paramref name="maxBytes"/>: lifts the server's body limit for this request
    /// only, refuses other content types with <paramref name="expected"/> (about <paramref name="param"/>).
    /// </summary>
    /// <returns>The form, or null when it is larger than allowed (the caller answers 413).</returns>
    public static async Task<IFormCollection?> ReadAsync(HttpContext http, long maxBytes, string expected, string param, CancellationToken cancellationToken)
    {
        if (http.Request.ContentLength > maxBytes + Envelope)
        {
            return null;
        }
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = maxBytes + Envelope;
        }
        if (!http.Request.HasFormContentType)
        {
            throw new BadRequestException(expected, param);
        }
        try
        {
            return await http.Request.ReadFormAsync(new FormOptions { MultipartBodyLengthLimit = maxBytes }, cancellationToken);
        }
        catch (InvalidDataException)
        {
            return null;
        }
    }
}

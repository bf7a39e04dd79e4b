using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace StrawberryPhi.LocalEngine.Api;

/// <summary>
/// What keeps web pages from driving a server that trusts loopback (the studio, and <c>phi engine serve</c> without
/// a key). A page on a name that resolves to 127.0.0.1 (DNS rebinding) sends that name as <c>Host</c>: only the
/// loopback names are answered. A page on another site sends its own <c>Origin</c>, and a sandboxed frame sends
/// <c>Origin: null</c>: neither may change anything (any method but GET, HEAD and OPTIONS, or open a WebSocket).
/// Clients that are not browsers send no <c>Origin</c> and are not affected.
/// </summary>
public static class LoopbackGuard
{
    /// <summary>The host names a loopback server answers to.</summary>
    public static readonly IReadOnlyList<string> Hosts = ["localhost", "127.0.0.1", "[::1]"];

    /// <summary>A refusal: the status and the sentence to send in the host's own error shape.</summary>
    public delegate Task Refuse(HttpContext context, int status, string title, string message);

    public static IApplicationBuilder UseLoopbackGuard(this IApplicationBuilder app, Refuse refuse) =>
        app.Use((context, next) => Check(context) is { } refusal
            ? refuse(context, refusal.Status, refusal.Title, refusal.Message)
            : next(context));

    /// <summary>Why a request is refused, or null when it may pass.</summary>
    public static (int Status, string Title, string Message)? Check(HttpContext context)
    {
        var host = context.Request.Host;
        if (!IsLoopbackName(host.Host))
        {
            return (StatusCodes.Status400BadRequest, "Host not allowed",
                $"This server answers only requests addressed to localhost, 127.0.0.1 or [::1]; this one was addressed to \"{host.Value}\" " +
                "(a web page on another name may be trying to reach it).");
        }
        var method = context.Request.Method;
        var changes = !(HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method))
            || context.Request.Headers.Upgrade.ToString().Contains("websocket", StringComparison.OrdinalIgnoreCase);
        if (changes && context.Request.Headers.Origin is { Count: > 0 } origin
            && (!Uri.TryCreate(origin.ToString(), UriKind.Absolute, out var uri)
                || !string.Equals(uri.Authority, host.Value, StringComparison.OrdinalIgnoreCase)))
        {
            return (StatusCodes.Status403Forbidden, "Cross-site request refused", $"Requests from {origin} may not change this server.");
        }
        return null;
    }

    private static bool IsLoopbackName(string host) =>
        Hosts.Contains(host, StringComparer.OrdinalIgnoreCase) || string.Equals(host, "::1", StringComparison.Ordinal);
}

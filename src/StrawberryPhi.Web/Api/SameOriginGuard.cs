namespace StrawberryPhi.Web.Api;

/// <summary>
/// Refuses state-changing requests that a browser sends on behalf of another site (a form post from a web page to
/// this loopback studio): their Origin header names a different host.
/// </summary>
internal sealed class SameOriginGuard(RequestDelegate next)
{
    public Task InvokeAsync(HttpContext context)
    {
        var method = context.Request.Method;
        if (!HttpMethods.IsGet(method) && !HttpMethods.IsHead(method) && !HttpMethods.IsOptions(method)
            && context.Request.Headers.Origin is { Count: > 0 } origin
            && !string.Equals(origin.ToString(), "null", StringComparison.Ordinal)
            && (!Uri.TryCreate(origin.ToString(), UriKind.Absolute, out var uri)
                || !string.Equals(uri.Authority, context.Request.Host.Value, StringComparison.OrdinalIgnoreCase)))
        {
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            return context.Response.WriteAsJsonAsync(new { title = "Cross-site request refused", detail = $"Requests from {origin} may not change this studio." });
        }
        return next(context);
    }
}

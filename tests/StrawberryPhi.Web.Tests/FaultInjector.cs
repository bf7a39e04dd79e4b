using System.Collections.Concurrent;
using System.Net;
using System.Text;

namespace StrawberryPhi.Web.Tests;

/// <summary>What to do with one provider request.</summary>
public abstract record Fault
{
    /// <summary>Answer without reaching the server.</summary>
    public sealed record Respond(HttpStatusCode Status, string Body, IReadOnlyDictionary<string, string>? Headers = null) : Fault;

    /// <summary>Let the server do the work, then lose its answer (a connection dropped on the way back).</summary>
    public sealed record DropResponse : Fault;

    /// <summary>Let the server do the work, then answer with this instead of what it said (a 5xx after the work was done).</summary>
    public sealed record ReplaceResponse(HttpStatusCode Status, string Body) : Fault;

    /// <summary>Hold the request until <paramref name="Until"/> completes, then pass it through.</summary>
    public sealed record Hold(Task Until) : Fault;
}

/// <summary>Rules for the provider HttpClient, and a record of every request it sent.</summary>
public sealed class FaultInjector
{
    /// <summary>Given a request and how many requests preceded it, returns a fault or null (pass through).</summary>
    public Func<HttpRequestMessage, int, Fault?>? Rule { get; set; }

    public ConcurrentQueue<(HttpMethod Method, Uri Uri, string? Authorization, string? ApiKeyHeader)> Requests { get; } = new();

    public static Fault.Respond OpenAiError(HttpStatusCode status, string message, string code, IReadOnlyDictionary<string, string>? headers = null) =>
        new(status, System.Text.Json.JsonSerializer.Serialize(new { error = new { message, type = "invalid_request_error", param = (string?)null, code } }), headers);
}

internal sealed class FaultHandler(FaultInjector faults) : DelegatingHandler
{
    private int _count;

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        faults.Requests.Enqueue((request.Method, request.RequestUri!,
            request.Headers.Authorization?.ToString(),
            request.Headers.TryGetValues("api-key", out var key) ? key.First() : null));
        var fault = faults.Rule?.Invoke(request, Interlocked.Increment(ref _count) - 1);
        switch (fault)
        {
            case Fault.Respond respond:
                var response = new HttpResponseMessage(respond.Status) { Content = new StringContent(respond.Body, Encoding.UTF8, "application/json"), RequestMessage = request };
                foreach (var (name, value) in respond.Headers ?? new Dictionary<string, string>())
                {
                    response.Headers.TryAddWithoutValidation(name, value);
                }
                return response;
            case Fault.Hold hold:
                await hold.Until.WaitAsync(cancellationToken);
                return await base.SendAsync(request, cancellationToken);
            case Fault.ReplaceResponse replace:
                using (await base.SendAsync(request, cancellationToken))
                {
                    return new HttpResponseMessage(replace.Status) { Content = new StringContent(replace.Body, Encoding.UTF8, "application/json"), RequestMessage = request };
                }
            case Fault.DropResponse:
                using (await base.SendAsync(request, cancellationToken))
                {
                    throw new HttpRequestException("The connection was reset by the peer (injected).");
                }
            default:
                return await base.SendAsync(request, cancellationToken);
        }
    }
}

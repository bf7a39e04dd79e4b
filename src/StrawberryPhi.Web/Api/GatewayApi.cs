using System.Text.Json;
using System.Text.Json.Nodes;
using StrawberryPhi.Providers;
using StrawberryPhi.Web.Chat;
using StrawberryPhi.Web.Providers;

namespace StrawberryPhi.Web.Api;

/// <summary>
/// One OpenAI-compatible address for every connected model (<c>/api/v1</c>): <c>model</c> is <c>CONNECTION/MODEL</c>,
/// and the request goes to that connection with its stored key, body and answer passed through as they are (streams
/// included), so any OpenAI SDK or tool reaches every model without holding a provider key. Errors are OpenAI's shape.
/// </summary>
public static class GatewayApi
{
    public static void MapGatewayApi(this IEndpointRouteBuilder routes)
    {
        var v1 = routes.MapGroup("/api/v1").WithTags("Gateway");
        v1.MapGet("/models", async (ModelRouter router, CancellationToken cancellationToken) =>
        {
            var models = await router.ListAsync(cancellationToken);
            return Results.Json(new
            {
                @object = "list",
                data = models.Select(m => new { id = m.Id, @object = "model", created = m.Created?.ToUnixTimeSeconds() ?? 0, owned_by = m.OwnedBy ?? m.Connection }),
            });
        }).WithName("GatewayListModels");
        v1.MapPost("/chat/completions", ChatCompletions).WithName("GatewayChatCompletions");
    }

    private static async Task ChatCompletions(HttpContext http, ModelRouter router, CancellationToken cancellationToken)
    {
        JsonObject body;
        try
        {
            body = await JsonNode.ParseAsync(http.Request.Body, cancellationToken: cancellationToken) as JsonObject
                ?? throw new JsonException("The body is not a JSON object.");
        }
        catch (JsonException e)
        {
            await Error(http, 400, $"The request body is not a JSON object: {e.Message}", null, "invalid_json");
            return;
        }
        if (body["model"] is not JsonValue value || !value.TryGetValue<string>(out var name) || string.IsNullOrWhiteSpace(name))
        {
            await Error(http, 400, "'model' is required: CONNECTION/MODEL, for example \"Local engine/strawberry-tiny\" (GET /api/v1/models lists them).", "model", "missing_required_parameter");
            return;
        }
        if (await router.ResolveAsync(name, cancellationToken) is not { } route)
        {
            await Error(http, 404, $"'{name}' names no connection: the model is CONNECTION/MODEL, for example \"Local engine/strawberry-tiny\" (GET /api/v1/models lists them).", "model", "model_not_found");
            return;
        }
        body["model"] = route.Model;
        IProviderClient client;
        try
        {
            client = await router.ClientAsync(route, cancellationToken);
        }
        catch (StudioException e)
        {
            await Error(http, 502, e.Message, null, "connection_unavailable");
            return;
        }
        try
        {
            using var answer = await client.ForwardAsync("POST", "chat/completions", BinaryData.FromString(body.ToJsonString()), cancellationToken);
            http.Response.StatusCode = answer.Status;
            http.Response.ContentType = answer.ContentType ?? "application/json";
            if (answer.ContentType?.StartsWith("text/event-stream", StringComparison.Ordinal) == true)
            {
                http.Response.Headers.CacheControl = "no-cache";
                // Each chunk goes on as it arrives: no buffering between the provider and the caller.
                http.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpResponseBodyFeature>()?.DisableBuffering();
                var buffer = new byte[16 * 1024];
                int read;
                while ((read = await answer.Body.ReadAsync(buffer, cancellationToken)) > 0)
                {
                    await http.Response.Body.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                    await http.Response.Body.FlushAsync(cancellationToken);
                }
            }
            else
            {
                await answer.Body.CopyToAsync(http.Response.Body, cancellationToken);
            }
        }
        catch (ProviderException e) when (!http.Response.HasStarted)
        {
            await Error(http, e.Transient ? 503 : 502, $"{route.Connection}: {e.Message}", null, "provider_unavailable");
        }
    }

    private static Task Error(HttpContext http, int status, string message, string? param, string code)
    {
        http.Response.StatusCode = status;
        return http.Response.WriteAsJsonAsync(new { error = new { message, type = status >= 500 ? "server_error" : "invalid_request_error", param, code } });
    }
}

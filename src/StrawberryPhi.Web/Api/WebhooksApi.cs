using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using StandardWebhooks;
using StandardWebhooks.Diagnostics;
using StrawberryPhi.Web.Jobs;
using StrawberryPhi.Web.Providers;

namespace StrawberryPhi.Web.Api;

/// <summary>
/// /api/webhooks: a provider's <c>fine_tuning.job.*</c> webhooks, verified as Standard Webhooks with the connection's
/// signing secret (from the key vault), each triggering an immediate poll of its job. The webhook carries only the
/// job's id; what changed is read from the provider, so a forged or replayed call could at most cause a poll.
/// </summary>
internal static class WebhooksApi
{
    public static void MapWebhooksApi(this RouteGroupBuilder api)
    {
        var group = api.MapGroup("/webhooks").WithTags("Webhooks");
        group.MapPost("/providers/{id:guid}", Receive).Named("ReceiveProviderWebhook", 400, 401, 404, 409);
    }

    public sealed record WebhookReceipt(string Type, string? RemoteJobId, Guid? JobId, bool Polled);

    private static async Task<Results<Ok<WebhookReceipt>, ProblemHttpResult>> Receive(
        Guid id, HttpRequest request, ProviderConnectionService providers, JobService jobs, JobTracker tracker, ILoggerFactory logs, CancellationToken cancellationToken)
    {
        var logger = logs.CreateLogger("StrawberryPhi.Web.Webhooks");
        var secret = await providers.WebhookSecretAsync(id, cancellationToken);
        if (secret is null)
        {
            return TypedResults.Problem(statusCode: 409, title: "No webhook secret",
                detail: "This connection has no webhook signing secret: add it in Settings → Providers, so that its webhooks can be verified.");
        }
        using var reader = new StreamReader(request.Body);
        var body = await reader.ReadToEndAsync(cancellationToken);
        try
        {
            // Checks the signature (HMAC-SHA256 over id.timestamp.body, compared in constant time) and that the
            // timestamp is within five minutes, so that a recorded call cannot be replayed later.
            new StandardWebhook(secret).Verify(body, request.Headers);
        }
        catch (WebhookVerificationException e)
        {
            logger.LogWarning("Refused a webhook for provider connection {ProviderId}: {Reason}", id, e.Message);
            return TypedResults.Problem(statusCode: 401, title: "Webhook not verified", detail: $"The webhook's signature did not verify: {e.Message}.");
        }
        string type;
        string? remoteId;
        try
        {
            using var json = JsonDocument.Parse(body);
            type = json.RootElement.TryGetProperty("type", out var t) ? t.GetString() ?? "" : "";
            remoteId = json.RootElement.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Object && data.TryGetProperty("id", out var d) ? d.GetString() : null;
        }
        catch (JsonException e)
        {
            return TypedResults.Problem(statusCode: 400, title: "Invalid webhook", detail: $"The webhook's body is not JSON: {e.Message}");
        }
        if (!type.StartsWith("fine_tuning.job.", StringComparison.Ordinal) || remoteId is null)
        {
            return TypedResults.Ok(new WebhookReceipt(type, remoteId, null, false)); // verified, but not about a job: nothing to do
        }
        var job = await jobs.FindByRemoteIdAsync(id, remoteId, cancellationToken);
        if (job is not null)
        {
            tracker.PollSoon(job.Value);
        }
        logger.LogInformation("Webhook {Type} for {RemoteId}: {Outcome}", type, remoteId, job is null ? "not a job of the studio" : "polling it now");
        return TypedResults.Ok(new WebhookReceipt(type, remoteId, job, job is not null));
    }
}

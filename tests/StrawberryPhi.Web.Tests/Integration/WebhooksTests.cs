using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using StandardWebhooks;
using StrawberryPhi.Providers;
using StrawberryPhi.Web.Providers;

namespace StrawberryPhi.Web.Tests.Integration;

/// <summary>A provider's job webhooks, verified as Standard Webhooks with the connection's secret, each triggering a poll.</summary>
public sealed class WebhooksTests(StudioHost host) : IClassFixture<StudioHost>
{
    private const string Secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    [Fact]
    public async Task Webhook_SignedForAKnownJob_PollsItNow_UnsignedBadOrStaleRefused()
    {
        // A custom connection to the studio's own engine, with a webhook secret.
        var connection = await host.Service<ProviderConnectionService>().CreateAsync(
            new ProviderInput("engine with webhooks", ProviderKind.Custom, new Uri(host.BaseAddress, "local/v1/").ToString(), null, null, null, WebhookSecret: Secret), CancellationToken.None);
        Assert.True(connection.HasWebhookSecret);
        Assert.Empty(host.FilesContaining(Secret["whsec_".Length..])); // encrypted at rest
        var job = await host.FinishedJobAsync("webhook.jsonl", connection.Id);
        int Gets() => host.Faults.Requests.Count(r => r.Method == HttpMethod.Get && r.Uri.AbsolutePath.EndsWith($"/fine_tuning/jobs/{job.RemoteId}", StringComparison.Ordinal));
        var before = Gets(); // the job has ended: the tracker polls it no more
        var body = new JsonObject
        {
            ["object"] = "event", ["id"] = "evt_1", ["type"] = "fine_tuning.job.succeeded", ["created_at"] = 1, ["data"] = new JsonObject { ["id"] = job.RemoteId },
        }.ToJsonString();
        using var api = host.Api();

        using var signed = await SendAsync(api, connection.Id, body, Sign(body, TimeProvider.System.GetUtcNow()));

        Assert.Equal(HttpStatusCode.OK, signed.StatusCode);
        Assert.Contains("\"polled\":true", await signed.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        await host.WaitForAsync(() => Task.FromResult(Gets() > before ? "polled" : null));

        using var unsigned = await SendAsync(api, connection.Id, body, null);
        Assert.Equal(HttpStatusCode.Unauthorized, unsigned.StatusCode);
        var forged = Sign(body, TimeProvider.System.GetUtcNow());
        forged["webhook-signature"] = "v1," + Convert.ToBase64String(new byte[32]);
        using var bad = await SendAsync(api, connection.Id, body, forged);
        Assert.Equal(HttpStatusCode.Unauthorized, bad.StatusCode);
        using var tampered = await SendAsync(api, connection.Id, body.Replace("evt_1", "evt_2", StringComparison.Ordinal), Sign(body, TimeProvider.System.GetUtcNow()));
        Assert.Equal(HttpStatusCode.Unauthorized, tampered.StatusCode);
        using var stale = await SendAsync(api, connection.Id, body, Sign(body, TimeProvider.System.GetUtcNow().AddMinutes(-10)));
        Assert.Equal(HttpStatusCode.Unauthorized, stale.StatusCode);
        Assert.Contains("timestamp", await stale.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Webhook_ConnectionWithoutSecret_409SayingWhereToAddIt()
    {
        var local = (await host.Service<ProviderConnectionService>().ListAsync(CancellationToken.None)).Single(p => p.BuiltIn);
        using var api = host.Api();

        using var response = await SendAsync(api, local.Id, "{}", null);

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Contains("Settings", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connection_WebhookSecretNotLikeOne_RefusedForThatField()
    {
        var e = await Assert.ThrowsAsync<StudioException>(() => host.Service<ProviderConnectionService>().CreateAsync(
            new ProviderInput("bad secret", ProviderKind.Custom, "http://127.0.0.1:9/v1/", null, null, null, WebhookSecret: "hunter2"), CancellationToken.None));

        Assert.Equal("webhookSecret", e.Field);
    }

    private static Dictionary<string, string> Sign(string body, DateTimeOffset at)
    {
        var id = "msg_" + Guid.NewGuid().ToString("N");
        return new()
        {
            ["webhook-id"] = id,
            ["webhook-timestamp"] = at.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture),
            ["webhook-signature"] = new StandardWebhook(Secret).Sign(id, at, body),
        };
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpClient api, Guid connection, string body, Dictionary<string, string>? headers)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"api/webhooks/providers/{connection}") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        foreach (var (name, value) in headers ?? [])
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }
        return await api.SendAsync(request);
    }
}

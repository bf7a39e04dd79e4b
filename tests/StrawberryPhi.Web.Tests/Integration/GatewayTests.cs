using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using StrawberryPhi.Providers;
using StrawberryPhi.Web.Providers;

namespace StrawberryPhi.Web.Tests.Integration;

/// <summary>/api/v1 as raw HTTP sees it: names that hold slashes, connections renamed or removed, errors in OpenAI's shape.</summary>
public sealed class GatewayTests(StudioHost host) : IClassFixture<StudioHost>
{
    private static object Body(string model) => new { model, messages = new[] { new { role = "user", content = "1+1=" } }, max_completion_tokens = 2, temperature = 0 };

    [Fact]
    public async Task RenamedOrRemovedConnection_TheGatewayFollowsAtOnce_WithTheKeyTheStudioHolds()
    {
        var connections = host.Service<ProviderConnectionService>();
        // A custom connection to the embedded engine, with a key and a slash in its name.
        var created = await connections.CreateAsync(new ProviderInput("team/engine", ProviderKind.Custom, new Uri(host.BaseAddress, "local/v1/").ToString(), "sk-gateway-key-1234", null, null), CancellationToken.None);
        using var api = host.Api();

        using (var first = await api.PostAsJsonAsync(new Uri("api/v1/chat/completions", UriKind.Relative), Body("team/engine/strawberry-tiny")))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
            using var json = JsonDocument.Parse(await first.Content.ReadAsStringAsync());
            Assert.Equal(2, json.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        }
        Assert.Contains(host.Faults.Requests, r => r.Uri.AbsolutePath.EndsWith("/chat/completions", StringComparison.Ordinal) && r.Authorization == "Bearer sk-gateway-key-1234");

        await connections.UpdateAsync(created.Id, new ProviderInput("renamed", ProviderKind.Custom, new Uri(host.BaseAddress, "local/v1/").ToString(), null, null, null), CancellationToken.None);
        using (var old = await api.PostAsJsonAsync(new Uri("api/v1/chat/completions", UriKind.Relative), Body("team/engine/strawberry-tiny")))
        {
            Assert.True(old.StatusCode == HttpStatusCode.NotFound, await old.Content.ReadAsStringAsync());
            using var json = JsonDocument.Parse(await old.Content.ReadAsStringAsync());
            Assert.Equal("model_not_found", json.RootElement.GetProperty("error").GetProperty("code").GetString());
        }
        using (var renamed = await api.PostAsJsonAsync(new Uri("api/v1/chat/completions", UriKind.Relative), Body("renamed/strawberry-tiny")))
        {
            Assert.Equal(HttpStatusCode.OK, renamed.StatusCode);
        }

        await connections.DeleteAsync(created.Id, CancellationToken.None);
        using var gone = await api.PostAsJsonAsync(new Uri("api/v1/chat/completions", UriKind.Relative), Body("renamed/strawberry-tiny"));
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
    }

    [Fact]
    public async Task BadRequests_AnsweredInOpenAisShape()
    {
        using var api = host.Api();
        using var notJson = await api.PostAsync(new Uri("api/v1/chat/completions", UriKind.Relative), new StringContent("{nope", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, notJson.StatusCode);
        using var noModel = await api.PostAsJsonAsync(new Uri("api/v1/chat/completions", UriKind.Relative), new { messages = Array.Empty<object>() });
        using var json = JsonDocument.Parse(await noModel.Content.ReadAsStringAsync());
        Assert.Equal("model", json.RootElement.GetProperty("error").GetProperty("param").GetString());
        // The provider's own refusal passes through with its status and words.
        using var engineSays = await api.PostAsJsonAsync(new Uri("api/v1/chat/completions", UriKind.Relative), new { model = "Local engine/strawberry-tiny", messages = Array.Empty<object>() });
        Assert.Equal(HttpStatusCode.BadRequest, engineSays.StatusCode);
        Assert.Contains("'messages' must be a non-empty array", await engineSays.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}

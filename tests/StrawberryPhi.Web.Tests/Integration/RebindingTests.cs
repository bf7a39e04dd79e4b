using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using StrawberryPhi.Web.Providers;

namespace StrawberryPhi.Web.Tests.Integration;

/// <summary>
/// A web page must not drive the studio: not through a name of its own that resolves to 127.0.0.1 (DNS rebinding:
/// the page sends its name as Host and as Origin), nor from a sandboxed frame (Origin: null), on any surface.
/// </summary>
public sealed class RebindingTests(StudioHost host) : IClassFixture<StudioHost>
{
    private string Port => host.BaseAddress.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);

    [Theory]
    [InlineData("GET", "api/providers")]
    [InlineData("POST", "api/providers")]
    [InlineData("GET", "api/datasets")]
    [InlineData("GET", "local/v1/models")]
    [InlineData("POST", "local/v1/files")]
    [InlineData("GET", "")]
    [InlineData("GET", "settings")]
    [InlineData("POST", "_blazor/negotiate?negotiateVersion=1")]
    [InlineData("GET", "api/openapi/v1.json")]
    public async Task RebindingHost_IsRefusedOnEverySurface(string method, string path)
    {
        using var api = host.Api();
        using var request = new HttpRequestMessage(new HttpMethod(method), new Uri(path, UriKind.Relative));
        request.Headers.Host = $"evil.example:{Port}";
        request.Headers.Add("Origin", $"http://evil.example:{Port}");
        if (method == "POST")
        {
            request.Content = new StringContent("""{"name":"Evil","kind":"Custom","baseUrl":"http://evil.example/v1"}""", System.Text.Encoding.UTF8, "application/json");
        }

        using var response = await api.SendAsync(request);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Host not allowed", problem.GetProperty("title").GetString());
        Assert.Contains("evil.example", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain(await host.Service<ProviderConnectionService>().ListAsync(CancellationToken.None), p => p.Name == "Evil");
    }

    [Theory]
    [InlineData("localhost")]
    [InlineData("127.0.0.1")]
    public async Task LoopbackNames_AreAnswered_AndSameOriginMayChange(string name)
    {
        using var api = host.Api();
        using var read = new HttpRequestMessage(HttpMethod.Get, new Uri("api/providers", UriKind.Relative));
        read.Headers.Host = $"{name}:{Port}";
        using var readResponse = await api.SendAsync(read);
        Assert.Equal(HttpStatusCode.OK, readResponse.StatusCode);

        // A change from the studio's own page passes the guard (and reaches the handler: no such dataset).
        using var change = new HttpRequestMessage(HttpMethod.Delete, new Uri($"api/datasets/{Guid.NewGuid()}", UriKind.Relative));
        change.Headers.Host = $"{name}:{Port}";
        change.Headers.Add("Origin", $"http://{name}:{Port}");
        using var changeResponse = await api.SendAsync(change);
        Assert.Equal(HttpStatusCode.NotFound, changeResponse.StatusCode);
    }

    [Theory]
    [InlineData("api/datasets")]
    [InlineData("api/providers")]
    [InlineData("local/v1/files")]
    [InlineData("_blazor/negotiate?negotiateVersion=1")]
    public async Task NullOrigin_MayNotChangeAnything(string path)
    {
        using var api = host.Api();
        using var form = new MultipartFormDataContent();
        form.Add(new StringContent("""{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}"""), "file", "sandboxed.jsonl");
        form.Add(new StringContent("fine-tune"), "purpose");
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(path, UriKind.Relative)) { Content = form };
        request.Headers.Add("Origin", "null");

        using var response = await api.SendAsync(request);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.DoesNotContain((await host.Service<Datasets.DatasetService>().ListAsync(CancellationToken.None)), d => d.FileName == "sandboxed.jsonl");
    }

    [Fact]
    public async Task CrossSiteWebSocket_ToTheBlazorHub_IsRefused()
    {
        using var socket = new System.Net.WebSockets.ClientWebSocket();
        socket.Options.SetRequestHeader("Origin", "http://evil.example");
        var hub = new UriBuilder(host.BaseAddress) { Scheme = "ws", Path = "/_blazor" }.Uri;
        using var timeout = new CancellationTokenSource(StudioHost.Timeout);

        var refused = await Assert.ThrowsAsync<System.Net.WebSockets.WebSocketException>(() => socket.ConnectAsync(hub, timeout.Token));
        Assert.Contains("403", refused.Message, StringComparison.Ordinal);
    }
}

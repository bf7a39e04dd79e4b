using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace StrawberryPhi.Providers.Tests;

/// <summary>
/// The provider client through its real resilience pipeline; the server is scripted at the HTTP level (what no real
/// engine does on demand: 429, 5xx, a quota error, a hang).
/// </summary>
public sealed class ProviderResilienceTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private const string Models = """{"object":"list","data":[{"id":"gpt-4o-mini-2024-07-18","object":"model","owned_by":"system","created":1}]}""";

    private readonly ScriptedServer _server = new();
    private readonly ServiceProvider _services;

    public ProviderResilienceTests()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton(TimeProvider.System);
        services.AddOptions<ProviderClientOptions>().Configure(o =>
        {
            o.RetryDelay = TimeSpan.FromMilliseconds(1);
            o.MaxRetryDelay = TimeSpan.FromMilliseconds(20); // a provider's Retry-After is honoured up to this
            o.AttemptTimeout = TimeSpan.FromMilliseconds(300);
            o.BreakerMinimumThroughput = 8;
        });
        services.AddHttpClient("providers").ConfigurePrimaryHttpMessageHandler(() => _server).AddProviderResilience();
        _services = services.BuildServiceProvider();
    }

    private IProviderClient Client(string host = "provider.test") =>
        new ProviderClientFactory(() => _services.GetRequiredService<IHttpClientFactory>().CreateClient("providers"),
            _services.GetRequiredService<IOptions<ProviderClientOptions>>().Value, TimeProvider.System)
            .Create(new ProviderEndpoint(ProviderKind.OpenAI, new Uri($"https://{host}/v1/"), "sk-test-0000000000000000"));

    private static HttpResponseMessage Json(HttpStatusCode status, string body, params (string Name, string Value)[] headers)
    {
        var response = new HttpResponseMessage(status) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        foreach (var (name, value) in headers)
        {
            response.Headers.TryAddWithoutValidation(name, value);
        }
        return response;
    }

    private static string Error(string code, string message) =>
        System.Text.Json.JsonSerializer.Serialize(new { error = new { type = "invalid_request_error", message, param = (string?)null, code } });

    [Fact]
    public async Task RateLimitedTwice_IsRetried_AndSucceeds()
    {
        _server.Answer = (_, n) => n < 2
            ? Json(HttpStatusCode.TooManyRequests, Error("rate_limit_exceeded", "Slow down."), ("retry-after-ms", "5"))
            : Json(HttpStatusCode.OK, Models);

        var models = await Client().ListModelsAsync(CancellationToken.None).WaitAsync(Timeout);

        Assert.Equal("gpt-4o-mini-2024-07-18", Assert.Single(models).Id);
        Assert.Equal(3, _server.Requests.Count);
    }

    [Fact]
    public async Task OutOfQuota_IsNeverRetried_AndSaysSo()
    {
        _server.Answer = (_, _) => Json(HttpStatusCode.TooManyRequests, Error("insufficient_quota", "You exceeded your current quota."));

        var e = await Assert.ThrowsAsync<ProviderException>(() => Client().ListModelsAsync(CancellationToken.None)).WaitAsync(Timeout);

        Assert.Single(_server.Requests);
        Assert.False(e.Transient);
        Assert.Equal((429, "insufficient_quota"), (e.Status, e.Code));
        Assert.StartsWith("The account is out of quota (429 insufficient_quota)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ServerErrorEveryTime_SaysTransientWithTheProvidersRetryAfter()
    {
        _server.Answer = (_, _) => Json(HttpStatusCode.ServiceUnavailable, Error("server_error", "Overloaded."), ("Retry-After", "7"));

        var e = await Assert.ThrowsAsync<ProviderException>(() => Client("busy.test").ListModelsAsync(CancellationToken.None)).WaitAsync(Timeout);

        Assert.Equal(4, _server.Requests.Count); // the first try and three retries
        Assert.True(e.Transient);
        Assert.Equal(TimeSpan.FromSeconds(7), e.RetryAfter);
    }

    [Fact]
    public async Task UploadAnswerLost_IsNotRepeatedBlindly_TheFailedAttemptsFileIsAdopted()
    {
        // The POST creates the file at the provider, then its answer is lost (a 502 from a proxy, say).
        var created = false;
        _server.Answer = (request, _) =>
        {
            if (request.Method == HttpMethod.Post)
            {
                created = true;
                return Json(HttpStatusCode.BadGateway, "");
            }
            return Json(HttpStatusCode.OK, created
                ? """{"object":"list","data":[{"id":"file-1","object":"file","bytes":5,"created_at":1,"filename":"train.abc.jsonl","purpose":"fine-tune"}],"has_more":false}"""
                : """{"object":"list","data":[],"has_more":false}""");
        };
        using var content = new MemoryStream("{}\n{}"u8.ToArray());

        var file = await Client().UploadFileAsync(content, "train.abc.jsonl", null, CancellationToken.None).WaitAsync(Timeout);

        Assert.Equal("file-1", file.Id);
        Assert.Single(_server.Requests, r => r.Method == HttpMethod.Post);
    }

    [Fact]
    public async Task HostUnreachable_TheOpenCircuitSaysWhy()
    {
        _server.Answer = (_, _) => throw new HttpRequestException("Name or service not known (gone.test:443)");
        var client = Client("gone.test");
        ProviderException? last = null;
        for (var i = 0; i < 3; i++)
        {
            last = await Assert.ThrowsAnyAsync<ProviderException>(() => client.ListModelsAsync(CancellationToken.None)).WaitAsync(Timeout);
        }

        Assert.StartsWith("https://gone.test failed repeatedly (Could not reach https://gone.test: Name or service not known (gone.test:443)), so the studio stops calling it", last!.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ProviderKeepsFailing_TheCircuitOpens_AndCallsFailFastWithoutARequest()
    {
        _server.Answer = (_, _) => Json(HttpStatusCode.InternalServerError, Error("server_error", "Down."));
        var client = Client("down.test");
        await Assert.ThrowsAsync<ProviderException>(() => client.ListModelsAsync(CancellationToken.None)).WaitAsync(Timeout);
        await Assert.ThrowsAnyAsync<ProviderException>(() => client.ListModelsAsync(CancellationToken.None)).WaitAsync(Timeout);
        var sent = _server.Requests.Count;

        var e = await Assert.ThrowsAsync<ProviderException>(() => client.ListModelsAsync(CancellationToken.None)).WaitAsync(Timeout);

        Assert.Equal(sent, _server.Requests.Count);
        Assert.True(e.Transient);
        Assert.StartsWith("https://down.test failed repeatedly", e.Message, StringComparison.Ordinal);
        // Another endpoint has a circuit of its own.
        _server.Answer = (_, _) => Json(HttpStatusCode.OK, Models);
        Assert.Single(await Client("up.test").ListModelsAsync(CancellationToken.None).WaitAsync(Timeout));
    }

    [Fact]
    public async Task ProviderHangs_EachAttemptTimesOut_AndTheCallSaysSo()
    {
        _server.Answer = null; // never answers until cancelled

        var e = await Assert.ThrowsAsync<ProviderException>(() => Client("slow.test").ListModelsAsync(CancellationToken.None)).WaitAsync(Timeout);

        Assert.Equal(4, _server.Requests.Count);
        Assert.True(e.Transient);
        Assert.Contains("did not answer within", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RetryAfter_ReadsMillisecondsSecondsAndDates_Clamped()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero));
        var max = TimeSpan.FromSeconds(60);
        TimeSpan? Read(params (string, string)[] headers) => ProviderResilience.RetryAfter(Json(HttpStatusCode.TooManyRequests, "", headers), max, time);

        Assert.Equal(TimeSpan.FromMilliseconds(1500), Read(("retry-after-ms", "1500"), ("Retry-After", "9")));
        Assert.Equal(TimeSpan.FromSeconds(9), Read(("Retry-After", "9")));
        Assert.Equal(TimeSpan.FromSeconds(30), Read(("Retry-After", time.GetUtcNow().AddSeconds(30).ToString("R"))));
        Assert.Equal(max, Read(("Retry-After", "3600")));
        Assert.Null(Read());
    }

    public void Dispose() => _services.Dispose();

    /// <summary>Answers each request with <see cref="Answer"/> (given the request and how many came before), or hangs when it is null.</summary>
    private sealed class ScriptedServer : HttpMessageHandler
    {
        private int _count;

        public Func<HttpRequestMessage, int, HttpResponseMessage>? Answer { get; set; }

        public ConcurrentQueue<HttpRequestMessage> Requests { get; } = new();

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Requests.Enqueue(request);
            var n = Interlocked.Increment(ref _count) - 1;
            if (Answer is not { } answer)
            {
                await Task.Delay(System.Threading.Timeout.InfiniteTimeSpan, TimeProvider.System, cancellationToken);
            }
            var response = Answer!(request, n);
            response.RequestMessage = request;
            return response;
        }
    }
}

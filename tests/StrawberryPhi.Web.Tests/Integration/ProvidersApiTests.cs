using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using StrawberryPhi.Providers;
using StrawberryPhi.Web.Data;
using StrawberryPhi.Web.Providers;

namespace StrawberryPhi.Web.Tests.Integration;

public sealed class ProvidersApiTests(StudioHost host) : IClassFixture<StudioHost>
{
    private static string NewKey() => $"sk-test-{Guid.NewGuid():N}9f2c";

    private async Task<ProviderView> CreateAsync(object input)
    {
        using var api = host.Api();
        using var response = await api.PostAsJsonAsync(new Uri("api/providers", UriKind.Relative), input, Json.Options);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<ProviderView>(Json.Options))!;
    }

    private Uri LocalEngineUrl => new(host.BaseAddress, "local/v1/");

    [Fact]
    public async Task Create_WithKey_KeyIsNeverReturnedStoredOrLoggedInPlaintext()
    {
        var key = NewKey();
        var created = await CreateAsync(new { name = "OpenAI main", kind = "OpenAI", apiKey = key });

        Assert.Equal("sk-…9f2c", created.KeyHint);
        using var api = host.Api();
        var everything = await api.GetStringAsync(new Uri("api/providers", UriKind.Relative));
        everything += await api.GetStringAsync(new Uri($"api/providers/{created.Id}", UriKind.Relative));
        Assert.DoesNotContain(key, everything, StringComparison.Ordinal);
        Assert.DoesNotContain(key[3..^4], everything, StringComparison.Ordinal);

        Assert.Empty(host.FilesContaining(key));
        Assert.Empty(host.FilesContaining(key[8..^4]));
        Assert.DoesNotContain(host.Logs, line => line.Contains(key[8..^4], StringComparison.Ordinal));

        // The key is stored encrypted, and decrypts with the key ring in the data directory.
        await using var context = await host.Service<IDbContextFactory<StudioDbContext>>().CreateDbContextAsync();
        var row = await context.Providers.SingleAsync(p => p.Id == created.Id);
        Assert.Equal(key, host.Service<Security.KeyVault>().Unprotect(row.ProtectedApiKey!));
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void KeyRing_IsReadableByTheOwnerOnly()
    {
        var keys = Path.Combine(host.DataDirectory, "keys");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(keys));
        var files = Directory.GetFiles(keys, "*.xml");
        Assert.NotEmpty(files);
        Assert.All(files, f => Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(f)));
    }

    [Fact]
    public async Task Update_WithoutKey_KeepsTheStoredKey()
    {
        var key = NewKey();
        var created = await CreateAsync(new { name = "Custom kept", kind = "Custom", baseUrl = LocalEngineUrl.ToString(), apiKey = key });
        using var api = host.Api();
        using var update = await api.PutAsJsonAsync(new Uri($"api/providers/{created.Id}", UriKind.Relative),
            new { name = "Custom renamed", kind = "Custom", baseUrl = LocalEngineUrl.ToString() }, Json.Options);
        update.EnsureSuccessStatusCode();
        Assert.Equal("sk-…9f2c", (await update.Content.ReadFromJsonAsync<ProviderView>(Json.Options))!.KeyHint);

        using var test = await api.PostAsync(new Uri($"api/providers/{created.Id}/test", UriKind.Relative), null);
        var result = (await test.Content.ReadFromJsonAsync<ProviderTestResult>(Json.Options))!;

        Assert.True(result.Ok, result.Message);
        Assert.Contains(host.Faults.Requests, r => r.Uri.AbsolutePath.EndsWith("/local/v1/models", StringComparison.Ordinal) && r.Authorization == $"Bearer {key}");
    }

    [Fact]
    public async Task Test_ProviderRejectsTheKey_SaysSoInWordsWithoutEchoingTheKey()
    {
        var key = NewKey();
        var created = await CreateAsync(new { name = "Rejected", kind = "Custom", baseUrl = "http://rejecting.provider.test/v1", apiKey = key });
        host.Faults.Rule = (request, _) => request.RequestUri!.Host == "rejecting.provider.test"
            ? FaultInjector.OpenAiError(HttpStatusCode.Unauthorized, $"Incorrect API key provided: {key}. You can find your API key at https://platform.openai.com/account/api-keys.", "invalid_api_key")
            : null;

        using var api = host.Api();
        using var test = await api.PostAsync(new Uri($"api/providers/{created.Id}/test", UriKind.Relative), null);
        var result = (await test.Content.ReadFromJsonAsync<ProviderTestResult>(Json.Options))!;
        host.Faults.Rule = null;

        Assert.False(result.Ok);
        Assert.StartsWith("The provider rejected the API key (401 Unauthorized): Incorrect API key provided: [key].", result.Message, StringComparison.Ordinal);
        var stored = await api.GetStringAsync(new Uri($"api/providers/{created.Id}", UriKind.Relative));
        Assert.Contains("rejected the API key", stored, StringComparison.Ordinal);
        Assert.DoesNotContain(key, stored, StringComparison.Ordinal);
        Assert.DoesNotContain(host.Logs, line => line.Contains(key, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Test_RateLimitedTwice_RetriesHonouringRetryAfterAndSucceeds()
    {
        var created = await CreateAsync(new { name = "Busy", kind = "Custom", baseUrl = LocalEngineUrl.ToString() });
        var limited = 0;
        host.Faults.Rule = (request, _) => request.RequestUri!.AbsolutePath.EndsWith("/models", StringComparison.Ordinal) && Interlocked.Increment(ref limited) <= 2
            ? FaultInjector.OpenAiError(HttpStatusCode.TooManyRequests, "Rate limit reached.", "rate_limit_exceeded", new Dictionary<string, string> { ["retry-after-ms"] = "5" })
            : null;

        var result = await host.Service<ProviderConnectionService>().TestAsync(created.Id, CancellationToken.None).WaitAsync(StudioHost.Timeout);
        host.Faults.Rule = null;

        Assert.True(result.Ok, result.Message);
        Assert.Equal(3, limited);
    }

    [Fact]
    public async Task Test_ProviderDown_SaysItCouldNotReachIt()
    {
        var created = await CreateAsync(new { name = "Down", kind = "Custom", baseUrl = "http://127.0.0.1:9/v1/" });

        var result = await host.Service<ProviderConnectionService>().TestAsync(created.Id, CancellationToken.None).WaitAsync(StudioHost.Timeout);

        Assert.False(result.Ok);
        Assert.StartsWith("Could not reach http://127.0.0.1:9", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Test_Azure_SendsTheKeyAsApiKeyHeaderNotBearer()
    {
        var key = NewKey();
        var created = await CreateAsync(new { name = "Azure", kind = "AzureOpenAI", baseUrl = "https://myresource.openai.azure.com", apiKey = key });
        Assert.Equal("https://myresource.openai.azure.com/openai/v1/", created.BaseUrl);
        host.Faults.Rule = (request, _) => request.RequestUri!.Host == "myresource.openai.azure.com"
            ? new Fault.Respond(HttpStatusCode.OK, """{"object":"list","data":[{"id":"gpt-4.1-mini","object":"model","created":1,"owned_by":"system","shutdown_date":"2027-01-14"}]}""")
            : null;

        var result = await host.Service<ProviderConnectionService>().TestAsync(created.Id, CancellationToken.None).WaitAsync(StudioHost.Timeout);
        host.Faults.Rule = null;

        Assert.True(result.Ok, result.Message);
        var request = host.Faults.Requests.Last(r => r.Uri.Host == "myresource.openai.azure.com");
        Assert.Equal(key, request.ApiKeyHeader);
        Assert.Null(request.Authorization);
    }

    [Fact]
    public async Task Models_OpenAi_ShowTheWindDownAndShutdownDates()
    {
        var created = await CreateAsync(new { name = "OpenAI dates", kind = "OpenAI", apiKey = NewKey() });

        var models = await host.Service<ProviderConnectionService>().ModelsAsync(created.Id, CancellationToken.None);

        Assert.Equal(new DateOnly(2027, 1, 6), models.NewJobsEnd);
        var mini = Assert.Single(models.Models, m => m.Id == "gpt-4o-mini-2024-07-18");
        Assert.Equal(new DateOnly(2027, 1, 14), mini.ShutdownDate);
    }

    [Fact]
    public async Task Models_LocalEngine_ListsItsBaseModels()
    {
        var local = (await host.Service<ProviderConnectionService>().ListAsync(CancellationToken.None)).Single(p => p.BuiltIn);

        var models = await host.Service<ProviderConnectionService>().ModelsAsync(local.Id, CancellationToken.None).WaitAsync(StudioHost.Timeout);

        Assert.Equal(["strawberry-tiny", "strawberry-small"], models.Models.Select(m => m.Id).ToArray());
    }

    [Theory]
    [InlineData("""{"name":"","kind":"OpenAI","apiKey":"sk-abcdefghijklmnop"}""", "name")]
    [InlineData("""{"name":"No key","kind":"OpenAI"}""", "apiKey")]
    [InlineData("""{"name":"Bad url","kind":"Custom","baseUrl":"ftp://x"}""", "baseUrl")]
    [InlineData("""{"name":"Creds in url","kind":"Custom","baseUrl":"https://user:pw@x.test/v1"}""", "baseUrl")]
    [InlineData("""{"name":"Second local","kind":"Local"}""", "kind")]
    public async Task Create_BadInput_Is400NamingTheField(string body, string field)
    {
        using var api = host.Api();
        using var response = await api.PostAsync(new Uri("api/providers", UriKind.Relative), new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(field, problem.RootElement.GetProperty("field").GetString());
        Assert.False(string.IsNullOrEmpty(problem.RootElement.GetProperty("detail").GetString()));
    }

    [Theory]
    [InlineData("{bad", null, "not valid JSON (line 1, byte 2)")]
    [InlineData("{\"name\":\"x\",\n\"kind\":\"Foo\"}", "kind", "\"kind\" (line 2, byte 13): it must be one of OpenAI, AzureOpenAI, Custom, Local")]
    [InlineData("{\"name\":42,\"kind\":\"OpenAI\"}", "name", "\"name\" (line 1, byte 11): it must be a string")]
    [InlineData("", null, "This request needs a JSON body")]
    public async Task Create_MalformedBody_Is400SayingWhatAndWhere(string body, string? field, string detail)
    {
        using var api = host.Api();
        using var response = await api.PostAsync(new Uri("api/providers", UriKind.Relative), new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Contains(detail, problem.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(field, problem.RootElement.TryGetProperty("field", out var named) ? named.GetString() : null);
        Assert.DoesNotContain("StrawberryPhi.", problem.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("api/datasets/01a20bca-124d-7f47-8767-27bdd2082f78/examples?page=abc", "page", "\"page\" must be a whole number; \"abc\" is not.")]
    [InlineData("api/datasets/01a20bca-124d-7f47-8767-27bdd2082f78/issues?severity=bad", "severity", "\"severity\" must be one of info, warning, error; \"bad\" is not.")]
    public async Task Query_ThatDoesNotBind_Is400NamingTheParameter(string url, string field, string detail)
    {
        using var api = host.Api();
        using var response = await api.GetAsync(new Uri(url, UriKind.Relative));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Contains(detail, problem.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(field, problem.RootElement.GetProperty("field").GetString());
    }

    [Fact]
    public async Task Create_SameNameTenTimesAtOnce_OneIsAddedTheOthersAreToldWhy()
    {
        using var api = host.Api();
        var body = """{"name":"Twin","kind":"Custom","baseUrl":"http://127.0.0.1:9/v1"}""";

        var responses = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ =>
            api.PostAsync(new Uri("api/providers", UriKind.Relative), new StringContent(body, System.Text.Encoding.UTF8, "application/json"))));

        Assert.Single(responses, r => r.StatusCode == HttpStatusCode.Created);
        foreach (var refused in responses.Where(r => r.StatusCode != HttpStatusCode.Created))
        {
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Contains("A connection named \\\"Twin\\\" already exists.", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        foreach (var response in responses)
        {
            response.Dispose();
        }
    }

    [Fact]
    public async Task Delete_BuiltInEngine_IsRefused()
    {
        var local = (await host.Service<ProviderConnectionService>().ListAsync(CancellationToken.None)).Single(p => p.BuiltIn);
        using var api = host.Api();

        using var response = await api.DeleteAsync(new Uri($"api/providers/{local.Id}", UriKind.Relative));

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
    }

    [Fact]
    public async Task Test_ConnectionRemovedWhileTheProviderAnswers_EndsQuietlyAndKeepsNothing()
    {
        var created = await CreateAsync(new { name = $"Removed mid-test {Guid.NewGuid():N}", kind = "Custom", baseUrl = LocalEngineUrl.ToString() });
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        host.Faults.Rule = (request, _) =>
        {
            if (!request.RequestUri!.AbsolutePath.EndsWith("/models", StringComparison.Ordinal))
            {
                return null;
            }
            arrived.TrySetResult();
            return new Fault.Hold(release.Task);
        };
        var providers = host.Service<ProviderConnectionService>();
        try
        {
            var testing = providers.TestAsync(created.Id, CancellationToken.None);
            await arrived.Task.WaitAsync(StudioHost.Timeout);
            await providers.DeleteAsync(created.Id, CancellationToken.None);
            release.SetResult();

            var result = await testing.WaitAsync(StudioHost.Timeout);
            Assert.True(result.Removed);
            Assert.True(result.Ok);
        }
        finally
        {
            host.Faults.Rule = null;
        }
        await using var context = await host.Service<IDbContextFactory<StudioDbContext>>().CreateDbContextAsync();
        Assert.False(await context.Providers.AnyAsync(p => p.Id == created.Id));
    }

    [Theory]
    [InlineData("test", "127.0.0.2")]
    [InlineData("models", "127.0.0.3")]
    public async Task ExpectedProviderFailure_IsOneWarningLineWithTheConnection_NoStackTrace(string action, string address)
    {
        // A host of its own: the circuit breaker is per endpoint, and other tests fail against 127.0.0.1:9.
        var created = await CreateAsync(new { name = $"Unreachable {action}", kind = "Custom", baseUrl = $"http://{address}:9/v1" });
        var mark = host.Logs.Count;

        using var api = host.Api();
        using var response = action == "test"
            ? await api.PostAsync(new Uri($"api/providers/{created.Id}/test", UriKind.Relative), null)
            : await api.GetAsync(new Uri($"api/providers/{created.Id}/models", UriKind.Relative));

        var logged = host.Logs.Skip(mark).Where(l => l.StartsWith("Warning", StringComparison.Ordinal) || l.StartsWith("Error", StringComparison.Ordinal) || l.StartsWith("Critical", StringComparison.Ordinal)).ToList();
        var line = Assert.Single(logged);
        Assert.StartsWith("Warning", line, StringComparison.Ordinal);
        Assert.Contains(created.Id.ToString(), line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", line, StringComparison.Ordinal);
        Assert.True(!host.Logs.Skip(mark).Any(l => l.Contains("   at ", StringComparison.Ordinal)), string.Join("\n", host.Logs.Skip(mark).Where(l => l.Contains("   at ", StringComparison.Ordinal)).Select(l => l[..Math.Min(400, l.Length)])));
    }

    [Fact]
    public async Task Client_IsKeptPerConnection_AndDroppedOnEdit()
    {
        var created = await CreateAsync(new { name = $"Kept {Guid.NewGuid():N}", kind = "Custom", baseUrl = LocalEngineUrl.ToString() });
        var providers = host.Service<ProviderConnectionService>();

        var first = await providers.ClientAsync(created.Id, CancellationToken.None);
        Assert.Same(first, await providers.ClientAsync(created.Id, CancellationToken.None));
        Assert.Equal(new ProviderCapabilities(false, false, false, false, false), first.Capabilities);

        await providers.UpdateAsync(created.Id, new ProviderInput(created.Name + " renamed", ProviderKind.Custom, LocalEngineUrl.ToString(), null, null, null), CancellationToken.None);
        Assert.NotSame(first, await providers.ClientAsync(created.Id, CancellationToken.None));
    }

    [Fact]
    public async Task CrossSitePost_IsRefused()
    {
        using var api = host.Api();
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("api/providers", UriKind.Relative))
        {
            Content = new StringContent("""{"name":"Evil","kind":"Custom","baseUrl":"http://evil.test/v1"}""", System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("Origin", "http://evil.test");

        using var response = await api.SendAsync(request);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.DoesNotContain((await host.Service<ProviderConnectionService>().ListAsync(CancellationToken.None)), p => p.Name == "Evil");
    }
}

using System.Net;

namespace StrawberryPhi.Web.Tests.Integration;

public sealed class ProductionTests(ProductionStudioHost host) : IClassFixture<ProductionStudioHost>
{
    [Theory]
    [InlineData("_content/MudBlazor/MudBlazor.min.css", "text/css")]
    [InlineData("_content/MudBlazor/MudBlazor.min.js", "text/javascript")]
    [InlineData("_framework/blazor.web.js", "text/javascript")]
    [InlineData("js/studio.js", "text/javascript")]
    public async Task RunFromTheBuildOutput_ServesThePackagesAssets(string path, string type)
    {
        // Outside Development the packages' static assets were not found unless the build's manifest is read: the
        // studio rendered as bare HTML with giant icons.
        using var api = host.Api();
        using var response = await api.GetAsync(new Uri(path, UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(type, response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task BadBody_StillSaysWhatAndWhere()
    {
        using var api = host.Api();
        using var response = await api.PostAsync(new Uri("api/providers", UriKind.Relative), new StringContent("{\"name\":\"x\",\"kind\":\"Foo\"}", System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("must be one of OpenAI, AzureOpenAI, Custom, Local", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task LocalEngine_BadQuery_AnswersInOpenAisErrorShape()
    {
        using var api = host.Api();
        using var response = await api.GetAsync(new Uri("local/v1/fine_tuning/jobs?limit=many", UriKind.Relative));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var body = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var error = body.RootElement.GetProperty("error");
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Equal("limit", error.GetProperty("param").GetString());
        Assert.Equal("'limit' must be a whole number from 1 to 100, not 'many'.", error.GetProperty("message").GetString());
    }
}

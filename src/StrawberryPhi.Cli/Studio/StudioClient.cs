using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace StrawberryPhi.Cli.Studio;

/// <summary>
/// The studio's REST API as <c>phi jobs</c> uses it: JSON in and out, a ProblemDetails answer turned into its one
/// sentence, and a studio that does not answer said as such, with how to start one.
/// </summary>
internal sealed class StudioClient(Uri baseAddress, HttpMessageHandler? handler = null) : IDisposable
{
    public const string DefaultAddress = "http://127.0.0.1:5180";

    private readonly HttpClient _http = new(handler ?? new SocketsHttpHandler(), disposeHandler: handler is null)
    {
        BaseAddress = new Uri(baseAddress.ToString().TrimEnd('/') + "/"),
        Timeout = TimeSpan.FromSeconds(100),
    };

    public Uri Address => _http.BaseAddress!;

    /// <summary>How long one call may take (100 s unless set before the first call: a bundle may take longer).</summary>
    public TimeSpan Timeout
    {
        get => _http.Timeout;
        set => _http.Timeout = value;
    }

    /// <summary>
    /// Streams a download to <paramref name="file"/> (written beside it first, so an interrupted download never leaves
    /// a partial file under that name); returns the bytes written.
    /// </summary>
    public async Task<long> DownloadAsync(string path, string file, CancellationToken cancellationToken)
    {
        var partial = file + ".partial";
        try
        {
            using (var response = await CallAsync(new HttpRequestMessage(HttpMethod.Get, path), cancellationToken, HttpCompletionOption.ResponseHeadersRead))
            await using (var output = File.Create(partial))
            {
                await (await response.Content.ReadAsStreamAsync(cancellationToken)).CopyToAsync(output, cancellationToken);
            }
            File.Move(partial, file, overwrite: true);
            return new FileInfo(file).Length;
        }
        finally
        {
            File.Delete(partial);
        }
    }

    public Task<JsonNode> GetAsync(string path, CancellationToken cancellationToken) => SendAsync(HttpMethod.Get, path, null, null, cancellationToken);

    public Task<JsonNode> PostAsync(string path, JsonNode? body, CancellationToken cancellationToken, string? idempotencyKey = null) =>
        SendAsync(HttpMethod.Post, path, body, idempotencyKey, cancellationToken);

    public async Task<string> GetTextAsync(string path, CancellationToken cancellationToken)
    {
        using var response = await CallAsync(new HttpRequestMessage(HttpMethod.Get, path), cancellationToken);
        return await response.Content.ReadAsStringAsync(cancellationToken);
    }

    /// <summary>Uploads a file as multipart/form-data (field <c>file</c>) and returns the JSON answer.</summary>
    public async Task<JsonNode> PostFileAsync(string path, string file, CancellationToken cancellationToken)
    {
        using var form = new MultipartFormDataContent();
        await using var stream = File.OpenRead(file);
        form.Add(new StreamContent(stream), "file", Path.GetFileName(file));
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = form };
        using var response = await CallAsync(request, cancellationToken);
        return await response.Content.ReadFromJsonAsync<JsonNode>(cancellationToken) ?? new JsonObject();
    }

    /// <summary>
    /// Posts to an OpenAI-style endpoint with <c>"stream": true</c> and hands each server-sent event's JSON to
    /// <paramref name="onEvent"/> as it arrives. Errors come back in OpenAI's shape and are said in their words.
    /// </summary>
    public async Task StreamAsync(string path, JsonNode body, Action<JsonNode> onEvent, CancellationToken cancellationToken)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        HttpResponseMessage response;
        try
        {
            using (request)
            {
                response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            }
        }
        catch (HttpRequestException e) when (e.InnerException is SocketException || e.HttpRequestError == HttpRequestError.ConnectionError)
        {
            throw NoStudio();
        }
        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                var text = await response.Content.ReadAsStringAsync(cancellationToken);
                string? message = null;
                try
                {
                    message = JsonNode.Parse(text)?["error"]?["message"]?.GetValue<string>();
                }
                catch (JsonException)
                {
                }
                throw new CommandFailedException(message ?? $"The studio answered {(int)response.StatusCode} {response.ReasonPhrase}: {text.Trim()}");
            }
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken));
            while (await reader.ReadLineAsync(cancellationToken) is { } line)
            {
                if (line.StartsWith("data: ", StringComparison.Ordinal) && line != "data: [DONE]" && JsonNode.Parse(line["data: ".Length..]) is { } data)
                {
                    onEvent(data);
                }
            }
        }
    }

    private CommandFailedException NoStudio() => new(
        $"No studio answers at {Address.GetLeftPart(UriPartial.Authority)}: start one with `dotnet run --project src/StrawberryPhi.Web` (or point --studio at yours).");

    private async Task<JsonNode> SendAsync(HttpMethod method, string path, JsonNode? body, string? idempotencyKey, CancellationToken cancellationToken)
    {
        var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }
        using var response = await CallAsync(request, cancellationToken);
        return await response.Content.ReadFromJsonAsync<JsonNode>(cancellationToken) ?? new JsonObject();
    }

    private async Task<HttpResponseMessage> CallAsync(HttpRequestMessage request, CancellationToken cancellationToken, HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead)
    {
        HttpResponseMessage response;
        try
        {
            using (request)
            {
                response = await _http.SendAsync(request, completion, cancellationToken);
            }
        }
        catch (HttpRequestException e) when (e.InnerException is SocketException || e.HttpRequestError == HttpRequestError.ConnectionError)
        {
            throw NoStudio();
        }
        if (response.IsSuccessStatusCode)
        {
            return response;
        }
        using (response)
        {
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            string? detail = null;
            try
            {
                var problem = JsonNode.Parse(text);
                detail = problem?["detail"]?.GetValue<string>() ?? problem?["title"]?.GetValue<string>();
            }
            catch (JsonException)
            {
                // Not the studio's answer: said with its status below.
            }
            throw new CommandFailedException(detail ?? $"The studio answered {(int)response.StatusCode} {response.ReasonPhrase} ({(response.StatusCode == HttpStatusCode.NotFound ? "is --studio a Strawberry Phi studio?" : text.Trim())}).");
        }
    }

    public void Dispose() => _http.Dispose();
}

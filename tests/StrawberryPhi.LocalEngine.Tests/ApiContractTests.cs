using System.ClientModel;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OpenAI.Chat;

namespace StrawberryPhi.LocalEngine.Tests;

/// <summary>The engine's API driven by the official OpenAI .NET SDK, unchanged but for its endpoint.</summary>
public sealed class ApiContractTests(EngineHost host) : IClassFixture<EngineHost>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    private ChatClient Chat(string model = "strawberry-tiny") => host.Client().GetChatClient(model);

    private static List<OpenAI.Chat.ChatMessage> Messages() =>
        [new SystemChatMessage("Reason, then answer."), new UserChatMessage("12+34=?")];

    [Fact]
    public async Task Models_ListAndRetrieve_BasesAndUnknown404()
    {
        var models = host.Client().GetOpenAIModelClient();
        var list = await models.GetModelsAsync().WaitAsync(Timeout);
        Assert.Contains(list.Value, m => m.Id == "strawberry-tiny" && m.OwnedBy == "strawberry-phi");
        Assert.Contains(list.Value, m => m.Id == "strawberry-small");
        var one = await models.GetModelAsync("strawberry-small").WaitAsync(Timeout);
        Assert.Equal("strawberry-small", one.Value.Id);
        var e = await Assert.ThrowsAsync<ClientResultException>(() => models.GetModelAsync("gpt-5").WaitAsync(Timeout));
        Assert.Equal(404, e.Status);
        Assert.Contains("model_not_found", e.Message);
    }

    [Fact]
    public async Task Chat_Completion_UsageLimitAndSeedDeterminism()
    {
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 12, Temperature = 1.0f, Seed = 11 };
        var first = (await Chat().CompleteChatAsync(Messages(), options).WaitAsync(Timeout)).Value;
        var second = (await Chat().CompleteChatAsync(Messages(), options).WaitAsync(Timeout)).Value;
        Assert.Equal(first.Content[0].Text, second.Content[0].Text);
        Assert.Equal(ChatFinishReason.Length, first.FinishReason);
        Assert.Equal(12, first.Usage.OutputTokenCount);
        Assert.True(first.Usage.InputTokenCount > 20);
        Assert.Equal(first.Usage.InputTokenCount + 12, first.Usage.TotalTokenCount);
        Assert.Equal(ChatMessageRole.Assistant, first.Role);
        Assert.Equal("strawberry-tiny", first.Model);

        options.Seed = 12;
        var other = (await Chat().CompleteChatAsync(Messages(), options).WaitAsync(Timeout)).Value;
        Assert.NotEqual(first.Content[0].Text, other.Content[0].Text);
    }

    [Fact]
    public async Task Chat_ConcurrentRequests_DecodedTogether_EachAnswerAsAlone_EvenBesideAnAbandonedStream()
    {
        ChatCompletionOptions Options(int i) => new() { MaxOutputTokenCount = 10 + 5 * i, Temperature = i % 3 == 0 ? 0f : 1f, Seed = 40 + i };
        var alone = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            alone.Add((await Chat().CompleteChatAsync(Messages(), Options(i)).WaitAsync(Timeout)).Value.Content[0].Text);
        }

        // A streamed request that the client abandons after its first piece must not hold up the others.
        using var abandon = new CancellationTokenSource();
        var abandoned = Task.Run(async () =>
        {
            await foreach (var _ in Chat().CompleteChatStreamingAsync(Messages(), new ChatCompletionOptions { MaxOutputTokenCount = 100_000, Temperature = 1f }, abandon.Token))
            {
                await abandon.CancelAsync();
            }
        });
        var together = await Task.WhenAll(Enumerable.Range(0, 6).Select(async i =>
            (await Chat().CompleteChatAsync(Messages(), Options(i))).Value.Content[0].Text)).WaitAsync(Timeout);
        Assert.Equal(alone, together);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned.WaitAsync(Timeout));
    }

    [Fact]
    public async Task Chat_Streaming_SameTextAsNonStreamingAndUsageAtTheEnd()
    {
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 16, Temperature = 0.8f, Seed = 5 };
        var whole = (await Chat().CompleteChatAsync(Messages(), options).WaitAsync(Timeout)).Value;

        var text = "";
        ChatFinishReason? finish = null;
        ChatTokenUsage? usage = null;
        using var timeout = new CancellationTokenSource(Timeout);
        await foreach (var update in Chat().CompleteChatStreamingAsync(Messages(), options, timeout.Token))
        {
            text += string.Concat(update.ContentUpdate.Select(p => p.Text));
            finish ??= update.FinishReason;
            usage ??= update.Usage;
        }
        Assert.Equal(whole.Content[0].Text, text);
        Assert.Equal(whole.FinishReason, finish);
        Assert.Equal(whole.Usage.TotalTokenCount, usage!.TotalTokenCount);
    }

    [Fact]
    public async Task Chat_LogprobsAndStop()
    {
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 8, Temperature = 0f, IncludeLogProbabilities = true, TopLogProbabilityCount = 3 };
        var completion = (await Chat().CompleteChatAsync(Messages(), options).WaitAsync(Timeout)).Value;
        Assert.Equal(8, completion.ContentTokenLogProbabilities.Count);
        Assert.All(completion.ContentTokenLogProbabilities, l =>
        {
            Assert.True(l.LogProbability <= 0);
            Assert.Equal(3, l.TopLogProbabilities.Count);
            Assert.True(l.TopLogProbabilities[0].LogProbability >= l.LogProbability - 1e-4); // greedy picks the top
        });

        // Greedy output of the fixed-seed base is fixed, so a stop string taken from it must cut the text there.
        var text = completion.Content[0].Text;
        var cut = Enumerable.Range(1, text.Length - 2).First(i => text.IndexOf(text.Substring(i, 2), StringComparison.Ordinal) == i);
        var stopOptions = new ChatCompletionOptions { MaxOutputTokenCount = 8, Temperature = 0f };
        stopOptions.StopSequences.Add(text.Substring(cut, 2));
        var stopped = (await Chat().CompleteChatAsync(Messages(), stopOptions).WaitAsync(Timeout)).Value;
        Assert.Equal(text[..cut], stopped.Content[0].Text);
        Assert.Equal(ChatFinishReason.Stop, stopped.FinishReason);
    }

    [Fact]
    public async Task Chat_NPenaltiesAndLegacyMaxTokens()
    {
        using var http = new HttpClient { BaseAddress = host.BaseAddress };
        async Task<JsonElement> Post(string body)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json") };
            request.Headers.Authorization = new("Bearer", EngineHost.Key);
            using var response = await http.SendAsync(request).WaitAsync(Timeout);
            response.EnsureSuccessStatusCode();
            return await response.Content.ReadFromJsonAsync<JsonElement>();
        }
        var two = await Post("""{"model":"strawberry-tiny","messages":[{"role":"user","content":"hi"}],"n":2,"max_tokens":6,"seed":3}""");
        var choices = two.GetProperty("choices").EnumerateArray().ToList();
        Assert.Equal([0, 1], choices.Select(c => c.GetProperty("index").GetInt32()));
        Assert.NotEqual(choices[0].GetProperty("message").GetProperty("content").GetString(), choices[1].GetProperty("message").GetProperty("content").GetString());
        Assert.Equal(12, two.GetProperty("usage").GetProperty("completion_tokens").GetInt32());

        // A strong presence penalty stops the greedy path from repeating a token it already used.
        var plain = await Post("""{"model":"strawberry-tiny","messages":[{"role":"user","content":"hi"}],"temperature":0,"max_completion_tokens":40}""");
        var penalized = await Post("""{"model":"strawberry-tiny","messages":[{"role":"user","content":"hi"}],"temperature":0,"max_completion_tokens":40,"presence_penalty":2,"frequency_penalty":2}""");
        static int Distinct(JsonElement r) => r.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!.Distinct().Count();
        Assert.True(Distinct(penalized) > Distinct(plain), $"penalized {Distinct(penalized)} distinct characters, plain {Distinct(plain)}");
    }

    [Fact]
    public async Task Upload_DeclaredOverLimit_413BeforeReading()
    {
        var (status, body) = await DeclareWithoutSendingAsync("/v1/files", 600L * 1024 * 1024);
        Assert.Equal("HTTP/1.1 413 Payload Too Large", status);
        Assert.Contains("\"code\":\"file_too_large\"", body);
    }

    [Fact]
    public async Task UploadPart_DeclaredOverLimit_413BeforeReading()
    {
        using var http = new HttpClient { BaseAddress = host.BaseAddress };
        using var create = new HttpRequestMessage(HttpMethod.Post, "v1/uploads")
        {
            Content = JsonContent.Create(new { purpose = "fine-tune", filename = "big.jsonl", bytes = 200L * 1024 * 1024, mime_type = "application/jsonl" }),
        };
        create.Headers.Authorization = new("Bearer", EngineHost.Key);
        using var created = await http.SendAsync(create).WaitAsync(Timeout);
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString();

        var (status, body) = await DeclareWithoutSendingAsync($"/v1/uploads/{id}/parts", 100L * 1024 * 1024);
        Assert.Equal("HTTP/1.1 413 Payload Too Large", status);
        Assert.Contains("\"code\":\"part_too_large\"", body);
    }

    /// <summary>Raw HTTP: declares a multipart body of <paramref name="bytes"/> and sends none of it; the engine must refuse from the headers alone.</summary>
    private async Task<(string? Status, string Body)> DeclareWithoutSendingAsync(string path, long bytes)
    {
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(host.BaseAddress.Host, host.BaseAddress.Port).WaitAsync(Timeout);
        var stream = tcp.GetStream();
        var request = $"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
            $"Authorization: Bearer {EngineHost.Key}\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: {bytes}\r\n\r\n";
        await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes(request)).AsTask().WaitAsync(Timeout);
        using var reader = new StreamReader(stream);
        var status = await reader.ReadLineAsync().WaitAsync(Timeout);
        return (status, await reader.ReadToEndAsync().WaitAsync(Timeout));
    }

    [Theory]
    [InlineData("""{"model":"strawberry-tiny","messages":[{"role":"user","content":"hi"}],"temperature":3}""", "temperature")]
    [InlineData("""{"model":"strawberry-tiny","messages":[{"role":"user","content":"hi"}],"top_p":-1}""", "top_p")]
    [InlineData("""{"model":"strawberry-tiny","messages":[{"role":"user","content":"hi"}],"n":0}""", "n")]
    [InlineData("""{"model":"strawberry-tiny","messages":[{"role":"user","content":"hi"}],"top_logprobs":25,"logprobs":true}""", "top_logprobs")]
    [InlineData("""{"model":"strawberry-tiny","messages":[{"role":"user","content":"hi"}],"stop":["a","b","c","d","e"]}""", "stop")]
    [InlineData("""{"model":"strawberry-tiny","messages":[{"role":"robot","content":"hi"}]}""", "messages[0].role")]
    [InlineData("""{"model":"strawberry-tiny","messages":[]}""", "messages")]
    [InlineData("""{"model":"strawberry-tiny","training_file":"file-x","suffix":7}""", "suffix", "v1/fine_tuning/jobs")]
    [InlineData("""{"model":"strawberry-tiny","training_file":"file-x","method":{"type":"reinforcement"}}""", "method.type", "v1/fine_tuning/jobs")]
    [InlineData("""{"model":"strawberry-tiny","training_file":"file-x","hyperparameters":{"n_epochs":"many"}}""", "n_epochs", "v1/fine_tuning/jobs")]
    [InlineData("""{"model":7,"training_file":"file-x"}""", "model", "v1/fine_tuning/jobs")]
    public async Task Chat_BadParameter_400InOpenAiShape(string body, string param, string path = "v1/chat/completions")
    {
        using var http = new HttpClient { BaseAddress = host.BaseAddress };
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new("Bearer", EngineHost.Key);
        using var response = await http.SendAsync(request).WaitAsync(Timeout);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error");
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Equal(param, error.GetProperty("param").GetString());
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
    }

    [Theory]
    [InlineData("v1/fine_tuning/jobs?limit=many")]
    [InlineData("v1/fine_tuning/jobs?limit=0")]
    [InlineData("v1/fine_tuning/jobs?limit=101")]
    public async Task List_BadLimit_400InOpenAiShape(string path)
    {
        using var http = new HttpClient { BaseAddress = host.BaseAddress };
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new("Bearer", EngineHost.Key);
        using var response = await http.SendAsync(request).WaitAsync(Timeout);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error");
        Assert.Equal("limit", error.GetProperty("param").GetString());
        Assert.StartsWith("'limit' must be a whole number from 1 to 100", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnyRequest_WrongKey_401()
    {
        var e = await Assert.ThrowsAsync<ClientResultException>(() => host.Client("sk-wrong").GetOpenAIModelClient().GetModelsAsync().WaitAsync(Timeout));
        Assert.Equal(401, e.Status);
    }
}

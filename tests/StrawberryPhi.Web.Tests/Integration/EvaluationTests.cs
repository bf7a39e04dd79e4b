using System.ClientModel;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OpenAI;
using OpenAI.Chat;
using StrawberryPhi.Web.Chat;
using StrawberryPhi.Web.Data;
using StrawberryPhi.Web.Evaluation;

namespace StrawberryPhi.Web.Tests.Integration;

/// <summary>Evaluation sets and runs against the local engine: results, statistics, exports, the cache, cancel.</summary>
public sealed class EvaluationTests(StudioHost host) : IClassFixture<StudioHost>
{
    private static readonly ChatParameters Short = new() { Temperature = 0, MaxCompletionTokens = 12 };

    private static bool IsChat(HttpRequestMessage request) => request.RequestUri!.AbsolutePath.EndsWith("/chat/completions", StringComparison.Ordinal);

    private int ChatRequests => host.Faults.Requests.Count(r => r.Uri.AbsolutePath.EndsWith("/chat/completions", StringComparison.Ordinal));

    private async Task<EvalSetView> UploadSetAsync(string name, IEnumerable<string> lines)
    {
        using var api = host.Api();
        using var form = new MultipartFormDataContent();
        form.Add(new StringContent(string.Join("\n", lines) + "\n"), "file", name + ".jsonl");
        using var response = await api.PostAsync(new Uri("api/evals/sets", UriKind.Relative), form);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<EvalSetView>(Json.Options))!;
    }

    private static IEnumerable<string> Sums(int count) => Enumerable.Range(0, count).Select(i =>
        i % 2 == 0
            ? $$"""{"id": "sum-{{i}}", "prompt": "{{i}}+{{i % 7}}=", "reference": {{i + i % 7}}}"""
            : $$"""{"id": "sum-{{i}}", "messages": [{"role": "user", "content": "{{i}}+{{i % 7}}="}], "reference": "{{i}} plus {{i % 7}} is\n#### {{i + i % 7}}", "metadata": {"n": {{i}} } }""");

    private Task<EvalRunView> WaitRunAsync(Guid id) =>
        host.WaitForAsync(async () => await host.Service<EvalService>().GetRunAsync(id, CancellationToken.None) is { } run && EvalStatuses.IsFinal(run.Status) ? run : null);

    private async Task<EvalRunView> PostRunAsync(object body)
    {
        using var api = host.Api();
        using var response = await api.PostAsJsonAsync(new Uri("api/evals/runs", UriKind.Relative), body, Json.Options);
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<EvalRunView>(Json.Options))!;
    }

    [Fact]
    public async Task Run_TrainedReflectionModelAndItsBase_SummariesPairedComparisonAndExports()
    {
        var local = await host.LocalConnectionAsync();
        var job = await host.FinishedJobAsync("eval-train.jsonl", reflection: true);
        var set = await UploadSetAsync("sums", Sums(6));
        Assert.Equal(6, set.ItemCount);

        var queued = await PostRunAsync(new
        {
            setId = set.Id,
            models = new object[]
            {
                new { providerId = local, model = "strawberry-tiny", parameters = new { temperature = 0, max_completion_tokens = 24 } },
                new { providerId = local, model = job.FineTunedModel, parameters = new { temperature = 0, max_completion_tokens = 40 } },
            },
            graders = new object[] { new { type = "numeric", tolerance = 0.5 } },
            concurrency = 2,
        });
        Assert.Equal(12, queued.Total);
        var run = await WaitRunAsync(queued.Id);

        Assert.Equal(EvalStatuses.Succeeded, run.Status);
        Assert.Equal(12, run.Done);
        Assert.Equal(2, run.Models.Count);
        foreach (var model in run.Models)
        {
            Assert.Equal(6, model.N);
            Assert.Equal(0, model.Errors);
            Assert.InRange(model.Accuracy, model.CiLow, model.CiHigh);
            Assert.Equal(6, model.Transitions.Total);
            Assert.Equal(model.Transitions.WrongRight - model.Transitions.RightWrong, (int)Math.Round(model.NetGain * 6));
            Assert.True(model.CompletionTokens > 0);
            Assert.Equal(0m, model.Cost); // the local engine costs nothing
        }
        Assert.Equal("Local engine/strawberry-tiny", run.Models[0].Model);
        var paired = Assert.Single(run.Paired);
        Assert.Equal(6, paired.Items);
        Assert.Equal(6, paired.Both + paired.OnlyFirst + paired.OnlySecond + paired.Neither);
        Assert.InRange(paired.PValue, 0, 1);

        using var api = host.Api();
        var jsonl = (await api.GetStringAsync(new Uri($"api/evals/runs/{run.Id}/results?format=jsonl", UriKind.Relative))).TrimEnd('\n').Split('\n');
        Assert.Equal(12, jsonl.Length);
        using (var first = JsonDocument.Parse(jsonl[0]))
        {
            foreach (var field in new[] { "itemId", "model", "answer", "extracted", "reference", "pass", "score", "reason", "latencyMs", "completionTokens", "cost", "formatValid", "reflected", "firstPass", "transition" })
            {
                Assert.True(first.RootElement.TryGetProperty(field, out _), $"{field} missing from {jsonl[0]}");
            }
            Assert.Equal("sum-0", first.RootElement.GetProperty("itemId").GetString());
        }
        var csv = (await api.GetStringAsync(new Uri($"api/evals/runs/{run.Id}/results?format=csv", UriKind.Relative))).ReplaceLineEndings("\n");
        Assert.StartsWith("itemId,model,answer,extracted,reference,pass,score,reason", csv, StringComparison.Ordinal);
        using var whole = JsonDocument.Parse(await api.GetStringAsync(new Uri($"api/evals/runs/{run.Id}/results?format=json", UriKind.Relative)));
        Assert.Equal(12, whole.RootElement.GetProperty("results").GetArrayLength());
        // GSM8K references are read after ####.
        var page = await host.Service<EvalService>().ResultsAsync(run.Id, 0, null, null, 0, 100, CancellationToken.None);
        Assert.Contains(page.Items, r => r.ItemId == "sum-1" && r.Reference.EndsWith("#### 2", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Run_Repeated_AnsweredFromStoredResponses_UnlessFresh()
    {
        var local = await host.LocalConnectionAsync();
        var set = await UploadSetAsync("cache", Sums(4));
        object Body(bool fresh) => new
        {
            setId = set.Id,
            models = new[] { new { providerId = local, model = "strawberry-tiny", parameters = Short } },
            graders = new[] { new { type = "numeric" } },
            fresh,
        };
        var first = await WaitRunAsync((await PostRunAsync(Body(false))).Id);
        var before = ChatRequests;
        var cached = await WaitRunAsync((await PostRunAsync(Body(false))).Id);
        Assert.Equal(before, ChatRequests);
        Assert.Equal(4, cached.Models[0].Cached);
        Assert.Equal(first.Models[0].Passed, cached.Models[0].Passed);
        var firstAnswers = (await host.Service<EvalService>().ResultsAsync(first.Id, null, null, null, 0, 10, CancellationToken.None)).Items.Select(r => r.Answer);
        var cachedAnswers = (await host.Service<EvalService>().ResultsAsync(cached.Id, null, null, null, 0, 10, CancellationToken.None)).Items.Select(r => r.Answer);
        Assert.Equal(firstAnswers, cachedAnswers);

        var fresh = await WaitRunAsync((await PostRunAsync(Body(true))).Id);
        Assert.Equal(before + 4, ChatRequests);
        Assert.Equal(0, fresh.Models[0].Cached);
    }

    [Fact]
    public async Task Run_WithAJudge_EveryGraderVerdictKept_AndAReplyWithoutAVerdictFailsSayingSo()
    {
        var local = await host.LocalConnectionAsync();
        var set = await UploadSetAsync("judged", Sums(2));
        var before = ChatRequests;
        var run = await WaitRunAsync((await PostRunAsync(new
        {
            setId = set.Id,
            models = new[] { new { providerId = local, model = "strawberry-tiny", parameters = Short } },
            graders = new object[] { new { type = "contains" }, new { type = "judge", providerId = local, model = "strawberry-tiny", rubric = "Same number." } },
            fresh = true,
        })).Id);

        Assert.Equal(EvalStatuses.Succeeded, run.Status);
        // Each item: its answer, then the judge (the untrained engine's reply holds no verdict, so no reflection asks it twice).
        Assert.Equal(before + 4, ChatRequests);
        var rows = (await host.Service<EvalService>().ResultsAsync(run.Id, null, null, null, 0, 10, CancellationToken.None)).Items;
        Assert.All(rows, row =>
        {
            Assert.Equal(["contains", "judge"], row.Grades.Select(g => g.Type));
            var judge = row.Grades[1];
            Assert.False(judge.Pass);
            Assert.StartsWith("the judge's reply has no verdict", judge.Reason, StringComparison.Ordinal);
            Assert.False(row.Pass);
            Assert.Contains("judge: ", row.Reason, StringComparison.Ordinal);
        });
    }

    [Fact]
    public async Task Run_ReflectionAnswers_FirstAndFinalGraded_TransitionsFormatAndExtractedNumber()
    {
        // Stored responses stand in for a model whose answers we choose: the run reads them as it reads any answer.
        var local = await host.LocalConnectionAsync();
        var set = await UploadSetAsync("reflective", [
            """{"id": "fixed", "prompt": "2+2=", "reference": 4}""",
            """{"id": "broken", "prompt": "3+3=", "reference": 6}""",
            """{"id": "plain", "prompt": "1+1=", "reference": "#### 2"}""",
            """{"id": "invalid", "prompt": "5+5=", "reference": 10}"""]);
        var parameters = new ChatParameters { Temperature = 0, MaxCompletionTokens = 64, Seed = 99 };
        var answers = new Dictionary<string, string>
        {
            ["2+2="] = "<thinking>2+2=5<reflection>No: 2+2=4.</reflection></thinking><output>The answer is 4.</output>",
            ["3+3="] = "<thinking>3+3=6<reflection>Hmm, maybe 7.</reflection></thinking><output>7</output>",
            ["1+1="] = "<thinking>1+1=2</thinking><output>2</output>",
            ["5+5="] = "It is 10, I think. <output>10",
        };
        await using (var context = await host.Service<Microsoft.EntityFrameworkCore.IDbContextFactory<StudioDbContext>>().CreateDbContextAsync())
        {
            foreach (var (prompt, text) in answers)
            {
                context.ChatCache.Add(new ChatCacheEntry
                {
                    Key = EvalRunner.CacheKey(local, "strawberry-tiny", [new ChatTurn("user", prompt)], parameters),
                    Text = text, FinishReason = "stop", LatencyMs = 10, PromptTokens = 5, CompletionTokens = 20, Cost = 0,
                });
            }
            await context.SaveChangesAsync();
        }
        var before = ChatRequests;
        var run = await WaitRunAsync((await PostRunAsync(new
        {
            setId = set.Id,
            models = new[] { new { providerId = local, model = "strawberry-tiny", parameters } },
            graders = new[] { new { type = "numeric" } },
        })).Id);

        Assert.Equal(before, ChatRequests);
        var model = Assert.Single(run.Models);
        // plain and invalid (no reflection: first = final) are right→right.
        Assert.Equal((2, 1, 1, 0), (model.Transitions.RightRight, model.Transitions.RightWrong, model.Transitions.WrongRight, model.Transitions.WrongWrong));
        Assert.Equal(1, model.DeltaWrongToRight);
        Assert.Equal(1, model.DeltaRightToWrong);
        Assert.Equal(0, model.NetGain);
        Assert.Equal(0.75, model.FormatValidRate);
        Assert.Equal(0.5, model.ReflectionRate);
        var rows = (await host.Service<EvalService>().ResultsAsync(run.Id, null, null, null, 0, 10, CancellationToken.None)).Items.ToDictionary(r => r.ItemId);
        Assert.Equal(("4", "5", "wrong-right", true), (rows["fixed"].Extracted, rows["fixed"].FirstExtracted, rows["fixed"].Transition, rows["fixed"].Pass));
        Assert.Equal(("7", "6", "right-wrong", false), (rows["broken"].Extracted, rows["broken"].FirstExtracted, rows["broken"].Transition, rows["broken"].Pass));
        Assert.Equal(("2", "right-right", false), (rows["plain"].Extracted, rows["plain"].Transition, rows["plain"].Reflected));
        Assert.False(rows["invalid"].FormatValid);
    }

    [Fact]
    public async Task Run_UnknownModel_RefusedByName_AndAModelWhoseRequestsAllFail_FailsTheRun()
    {
        var local = await host.LocalConnectionAsync();
        var set = await UploadSetAsync("failing", Sums(2));
        using var api = host.Api();
        using var unknown = await api.PostAsJsonAsync(new Uri("api/evals/runs", UriKind.Relative), new
        {
            setId = set.Id,
            models = new[] { new { providerId = local, model = "strawberry-tiny" }, new { providerId = local, model = "nope" } },
        });
        Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);
        var problem = await unknown.Content.ReadAsStringAsync();
        Assert.Contains("models[1].model", problem, StringComparison.Ordinal);
        Assert.Contains("Local engine has no model \\\"nope\\\"", problem, StringComparison.Ordinal);

        host.Faults.Rule = (request, _) => IsChat(request) ? FaultInjector.OpenAiError(HttpStatusCode.BadRequest, "This model cannot chat.", "invalid_request") : null;
        try
        {
            var run = await WaitRunAsync((await PostRunAsync(new
            {
                setId = set.Id,
                models = new[] { new { providerId = local, model = "strawberry-tiny", parameters = Short } },
                fresh = true,
            })).Id);
            Assert.Equal(EvalStatuses.Failed, run.Status);
            Assert.Contains("every request failed", run.Error, StringComparison.Ordinal);
            Assert.Contains("This model cannot chat.", run.Error, StringComparison.Ordinal);
            Assert.Equal(2, run.Models[0].Errors);
            Assert.Equal(0, run.Models[0].Transitions.Total); // no answers: nothing to say about reflection
        }
        finally
        {
            host.Faults.Rule = null;
        }
    }

    [Fact]
    public async Task Run_RateLimited_WaitsAndRetries_NoItemLostOrAskedTwiceAfterItsAnswer()
    {
        var local = await host.LocalConnectionAsync();
        var set = await UploadSetAsync("limited", Sums(3));
        var limited = 0;
        host.Faults.Rule = (request, _) => IsChat(request) && Interlocked.Increment(ref limited) <= 2
            ? FaultInjector.OpenAiError(HttpStatusCode.TooManyRequests, "Rate limit reached", "rate_limit_exceeded", new Dictionary<string, string> { ["Retry-After"] = "0" })
            : null;
        try
        {
            var before = ChatRequests;
            var run = await WaitRunAsync((await PostRunAsync(new
            {
                setId = set.Id,
                models = new[] { new { providerId = local, model = "strawberry-tiny", parameters = Short } },
                concurrency = 1,
                fresh = true,
            })).Id);
            Assert.Equal(EvalStatuses.Succeeded, run.Status);
            Assert.Equal(0, run.Models[0].Errors);
            Assert.Equal(3, run.Done);
            Assert.Equal(before + 3 + 2, ChatRequests); // three answers, two refusals retried
        }
        finally
        {
            host.Faults.Rule = null;
        }
    }

    [Fact]
    public async Task Run_Cancelled_StopsAndKeepsWhatItHas()
    {
        var local = await host.LocalConnectionAsync();
        var set = await UploadSetAsync("cancel", Sums(10));
        var never = new TaskCompletionSource();
        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        host.Faults.Rule = (request, _) =>
        {
            if (!IsChat(request))
            {
                return null;
            }
            held.TrySetResult();
            return new Fault.Hold(never.Task);
        };
        try
        {
            var run = await PostRunAsync(new
            {
                setId = set.Id,
                models = new[] { new { providerId = local, model = "strawberry-tiny", parameters = Short } },
                graders = new[] { new { type = "exact" } },
                concurrency = 1,
                fresh = true,
            });
            await held.Task.WaitAsync(StudioHost.Timeout);
            using var api = host.Api();
            using var response = await api.PostAsync(new Uri($"api/evals/runs/{run.Id}/cancel", UriKind.Relative), null);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var done = await WaitRunAsync(run.Id);
            Assert.Equal(EvalStatuses.Cancelled, done.Status);
            Assert.Equal(0, done.Done);
        }
        finally
        {
            host.Faults.Rule = null;
        }
    }

    [Fact]
    public async Task Sets_BadLines_RefusedWithLineAndField_AndNothingStored()
    {
        var before = (await host.Service<EvalService>().ListSetsAsync(CancellationToken.None)).Count;
        using var api = host.Api();
        using var form = new MultipartFormDataContent();
        form.Add(new StringContent("{\"prompt\": \"1+1=\", \"reference\": 2}\n{\"prompt\": \"2+2=\"}\n"), "file", "bad.jsonl");
        using var response = await api.PostAsync(new Uri("api/evals/sets", UriKind.Relative), form);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadAsStringAsync();
        Assert.Contains("Line 2, reference", problem, StringComparison.Ordinal);
        Assert.Equal(before, (await host.Service<EvalService>().ListSetsAsync(CancellationToken.None)).Count);

        using var badRun = await api.PostAsJsonAsync(new Uri("api/evals/runs", UriKind.Relative), new
        {
            setId = Guid.NewGuid(),
            models = new[] { new { providerId = Guid.NewGuid(), model = "x" } },
        });
        Assert.Equal(HttpStatusCode.BadRequest, badRun.StatusCode);
        Assert.Contains("setId", await badRun.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sets_FromDataset_LastAssistantMessageIsTheReference()
    {
        var dataset = await host.SumsDatasetAsync("eval-from-dataset.jsonl", examples: 10);
        using var api = host.Api();
        using var response = await api.PostAsJsonAsync(new Uri("api/evals/sets", UriKind.Relative), new { datasetId = dataset });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var set = (await response.Content.ReadFromJsonAsync<EvalSetView>(Json.Options))!;
        Assert.Equal(10, set.ItemCount);
        var items = await host.Service<EvalService>().ItemsAsync(set.Id, 0, 10, CancellationToken.None);
        Assert.Equal("2+2=", Assert.Single(items[2].Messages).Content);
        Assert.Equal("4", items[2].Reference);
    }

    [Fact]
    public async Task Gateway_OfficialSdk_ListsEveryModelAndChatsThroughTheConnection_StreamingIncluded()
    {
        var client = new OpenAIClient(new ApiKeyCredential("not-a-provider-key"), new OpenAIClientOptions { Endpoint = new Uri(host.BaseAddress, "api/v1") });
        var models = (await client.GetOpenAIModelClient().GetModelsAsync()).Value.Select(m => m.Id).ToList();
        Assert.Contains("Local engine/strawberry-tiny", models);
        Assert.Contains("Local engine/strawberry-small", models);

        var chat = client.GetChatClient("Local engine/strawberry-tiny");
        List<OpenAI.Chat.ChatMessage> messages = [new UserChatMessage("12+34=")];
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 10, Temperature = 1f, Seed = 3 };
        var whole = (await chat.CompleteChatAsync(messages, options)).Value;
        Assert.Equal(10, whole.Usage.OutputTokenCount);

        // The same request straight to the engine gives the same answer: the gateway changed only the model name.
        var direct = new OpenAIClient(new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(host.BaseAddress, "local/v1") });
        Assert.Equal((await direct.GetChatClient("strawberry-tiny").CompleteChatAsync(messages, options)).Value.Content[0].Text, whole.Content[0].Text);

        var streamed = "";
        var chunks = 0;
        await foreach (var update in chat.CompleteChatStreamingAsync(messages, options))
        {
            streamed += string.Concat(update.ContentUpdate.Select(p => p.Text));
            chunks++;
        }
        Assert.Equal(whole.Content[0].Text, streamed);
        Assert.True(chunks > 2, $"{chunks} chunks");

        var missing = await Assert.ThrowsAsync<ClientResultException>(() => client.GetChatClient("Nowhere/strawberry-tiny").CompleteChatAsync(messages, options));
        Assert.Equal(404, missing.Status);
        Assert.Contains("names no connection", missing.Message, StringComparison.Ordinal);
        var noModel = await Assert.ThrowsAsync<ClientResultException>(() => client.GetChatClient("Local engine/strawberry-huge").CompleteChatAsync(messages, options));
        Assert.Equal(404, noModel.Status); // the engine's own answer, passed through
    }

    [Fact]
    public async Task Playground_SessionSavedReopenedAndExported_WithEveryParameter()
    {
        var local = await host.LocalConnectionAsync();
        var parameters = new ChatParameters { Temperature = 0.7, TopP = 0.9, MaxCompletionTokens = 8, Seed = 5, Stop = ["\n"] };
        var chat = host.Service<ChatService>();
        var state = new PlaygroundState("Answer briefly.", parameters, [new PlaygroundColumn(local, "strawberry-tiny", "Local engine/strawberry-tiny"), new PlaygroundColumn(local, "strawberry-small", "Local engine/strawberry-small")], []);
        var streamed = new List<string>();
        var replies = new List<PlaygroundReply?>();
        for (var c = 0; c < 2; c++)
        {
            var conversation = (state with { Exchanges = [new PlaygroundExchange("1+2=", [null, null])] }).Conversation(c, 0);
            var answer = await chat.CompleteAsync(local, state.Columns[c].Model, conversation, parameters, streamed.Add, CancellationToken.None);
            Assert.NotNull(answer.TimeToFirstTokenMs);
            Assert.Equal(answer.Text, string.Concat(streamed));
            streamed.Clear();
            replies.Add(PlaygroundReply.Of(answer));
        }
        state = state with { Exchanges = [new PlaygroundExchange("1+2=", replies)] };

        using var api = host.Api();
        using var created = await api.PostAsJsonAsync(new Uri("api/playground/sessions", UriKind.Relative), new { title = (string?)null, state }, Json.Options);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var session = (await created.Content.ReadFromJsonAsync<PlaygroundSession>(Json.Options))!;
        Assert.Equal("1+2=", session.Title);
        var reopened = await host.Service<PlaygroundService>().GetAsync(session.Id, CancellationToken.None);
        Assert.Equal(replies.Select(r => r!.Text), reopened.State.Exchanges[0].Replies.Select(r => r!.Text));

        using var reader = new CsvHelper.CsvReader(new StringReader(await api.GetStringAsync(new Uri($"api/playground/sessions/{session.Id}/export?format=csv", UriKind.Relative))), System.Globalization.CultureInfo.InvariantCulture);
        var rows = new List<Dictionary<string, string>>();
        await reader.ReadAsync();
        reader.ReadHeader();
        while (await reader.ReadAsync())
        {
            rows.Add(reader.HeaderRecord!.ToDictionary(h => h, h => reader.GetField(h)!));
        }
        Assert.Equal(2, rows.Count); // one message × two models
        Assert.Equal(replies[1]!.Text, rows[1]["answer"]);
        Assert.Equal(("0.7", "0.9", "8", "5", "\n"), (rows[0]["temperature"], rows[0]["top_p"], rows[0]["max_completion_tokens"], rows[0]["seed"], rows[0]["stop"]));
        using var json = JsonDocument.Parse(await api.GetStringAsync(new Uri($"api/playground/sessions/{session.Id}/export?format=json", UriKind.Relative)));
        Assert.Equal(5, json.RootElement.GetProperty("state").GetProperty("parameters").GetProperty("seed").GetInt64());
    }
}

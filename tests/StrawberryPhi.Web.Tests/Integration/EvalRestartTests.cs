using System.Net.Http.Json;
using StrawberryPhi.Web.Data;
using StrawberryPhi.Web.Evaluation;
using StrawberryPhi.Web.Providers;

namespace StrawberryPhi.Web.Tests.Integration;

/// <summary>The studio stopped in the middle of an evaluation run and started again on the same data.</summary>
public sealed class EvalRestartTests
{
    private static bool IsChat(HttpRequestMessage request) => request.RequestUri!.AbsolutePath.EndsWith("/chat/completions", StringComparison.Ordinal);

    [Fact]
    public async Task StudioRestartedMidRun_TheRunResumes_AndNoItemIsAskedOrStoredTwice()
    {
        const int Items = 8, AnsweredBeforeStop = 3;
        var directory = Directory.CreateTempSubdirectory("phi-eval-restart-").FullName;
        try
        {
            Guid runId;
            await using (var first = new SecondStudioHost(directory))
            {
                await first.InitializeAsync();
                // The first three requests reach the engine; the fourth is held until the studio stops (it never arrives).
                var never = new TaskCompletionSource();
                first.Faults.Rule = (request, _) =>
                    IsChat(request) && first.Faults.Requests.Count(r => r.Uri.AbsolutePath.EndsWith("/chat/completions", StringComparison.Ordinal)) > AnsweredBeforeStop
                        ? new Fault.Hold(never.Task) : null;
                var local = (await first.Service<ProviderConnectionService>().ListAsync(CancellationToken.None)).Single(p => p.BuiltIn).Id;
                using var api = first.Api();
                using var form = new MultipartFormDataContent();
                form.Add(new StringContent(string.Join("\n", Enumerable.Range(0, Items).Select(i => $$"""{"prompt": "{{i}}+1=", "reference": {{i + 1}}}"""))), "file", "restart.jsonl");
                using var created = await api.PostAsync(new Uri("api/evals/sets", UriKind.Relative), form);
                var set = (await created.Content.ReadFromJsonAsync<EvalSetView>(Json.Options))!;
                var (run, _) = await first.Service<EvalService>().CreateRunAsync(new EvalRunInput(set.Id,
                    [new EvalModelSpec(local, "strawberry-tiny", new Chat.ChatParameters { Temperature = 0, MaxCompletionTokens = 8 })],
                    [new GraderSpec("numeric")], Concurrency: 1, Fresh: true), null, CancellationToken.None);
                runId = run.Id;
                await first.WaitForAsync(async () => await first.Service<EvalService>().GetRunAsync(runId, CancellationToken.None) is { Done: AnsweredBeforeStop } r ? r : null);
            }

            await using var second = new SecondStudioHost(directory);
            await second.InitializeAsync();
            var done = await second.WaitForAsync(async () =>
                await second.Service<EvalService>().GetRunAsync(runId, CancellationToken.None) is { } r && EvalStatuses.IsFinal(r.Status) ? r : null);

            Assert.Equal(EvalStatuses.Succeeded, done.Status);
            Assert.Equal(Items, done.Done);
            // Only the items without an answer were asked again.
            Assert.Equal(Items - AnsweredBeforeStop, second.Faults.Requests.Count(r => r.Uri.AbsolutePath.EndsWith("/chat/completions", StringComparison.Ordinal)));
            var results = await second.Service<EvalService>().ResultsAsync(runId, null, null, null, 0, 100, CancellationToken.None);
            Assert.Equal(Enumerable.Range(0, Items), results.Items.Select(r => r.ItemIndex));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}

using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.EntityFrameworkCore;
using StrawberryPhi.Core.Evaluation;
using StrawberryPhi.Core.Reflection;
using StrawberryPhi.Providers;
using StrawberryPhi.Web.Chat;
using StrawberryPhi.Web.Data;

namespace StrawberryPhi.Web.Evaluation;

/// <summary>
/// Runs evaluations: every item × model without a stored answer is sent (at most the run's concurrency per
/// connection at once; 429s and 5xx are retried by the provider pipeline with their Retry-After), graded and stored
/// as it comes, so progress is live and a run resumed after a restart sends only what has no answer yet.
/// Identical requests are answered from stored responses unless the run is fresh.
/// </summary>
public sealed class EvalRunner(IDbContextFactory<StudioDbContext> db, ChatService chat, StudioNotifier events, TimeProvider time, ILogger<EvalRunner> logger)
{
    private readonly Channel<Guid> _queue = Channel.CreateUnbounded<Guid>();
    private readonly ConcurrentDictionary<Guid, CancellationTokenSource> _running = new();

    internal ChannelReader<Guid> Queue => _queue.Reader;

    public void Enqueue(Guid runId) => _queue.Writer.TryWrite(runId);

    /// <summary>Stops a run's requests now (its status is already set by the caller).</summary>
    public void Cancel(Guid runId)
    {
        if (_running.TryGetValue(runId, out var cancel))
        {
            cancel.Cancel();
        }
    }

    /// <summary>Queues the runs a previous studio left queued or running.</summary>
    public async Task ResumeAsync(CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        foreach (var id in await context.EvalRuns.Where(r => r.Status == EvalStatuses.Queued || r.Status == EvalStatuses.Running)
            .OrderBy(r => r.CreatedAt).Select(r => r.Id).ToListAsync(cancellationToken))
        {
            Enqueue(id);
        }
    }

    public async Task RunAsync(Guid runId, CancellationToken stoppingToken)
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        if (!_running.TryAdd(runId, cancel))
        {
            return; // already running (queued twice)
        }
        try
        {
            await RunCoreAsync(runId, cancel.Token);
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            // Cancelled by the user (the status says so) or the studio is stopping (the run stays running and resumes).
        }
        catch (Exception e)
        {
            logger.LogError(e, "Evaluation run {Run} failed", runId);
            await FinishAsync(runId, EvalStatuses.Failed, $"The run stopped: {e.Message}", CancellationToken.None);
        }
        finally
        {
            _running.TryRemove(runId, out _);
        }
    }

    private async Task RunCoreAsync(Guid runId, CancellationToken cancellationToken)
    {
        EvalRunRecord run;
        List<EvalItemRecord> items;
        HashSet<(int Model, int Item)> answered;
        await using (var context = await db.CreateDbContextAsync(cancellationToken))
        {
            var now = time.GetUtcNow().UtcDateTime;
            // Only a queued or running run starts: a cancel that came first wins.
            if (await context.EvalRuns.Where(r => r.Id == runId && (r.Status == EvalStatuses.Queued || r.Status == EvalStatuses.Running))
                .ExecuteUpdateAsync(s => s.SetProperty(r => r.Status, EvalStatuses.Running).SetProperty(r => r.StartedAt, now), cancellationToken) == 0)
            {
                return;
            }
            run = await context.EvalRuns.AsNoTracking().FirstAsync(r => r.Id == runId, cancellationToken);
            items = await context.EvalItems.AsNoTracking().Where(i => i.SetId == run.SetId).OrderBy(i => i.Index).ToListAsync(cancellationToken);
            answered = [.. (await context.EvalResults.Where(r => r.RunId == runId).Select(r => new { r.ModelIndex, r.ItemIndex }).ToListAsync(cancellationToken))
                .Select(r => (r.ModelIndex, r.ItemIndex))];
        }
        events.Publish(StudioTopic.EvalRun(runId));
        events.Publish(StudioTopic.Evaluations);
        var specs = EvalService.Specs(run);
        var graders = EvalService.GraderSpecs(run);
        var pending = specs.SelectMany((spec, m) => items.Where(i => !answered.Contains((m, i.Index))).Select(item => (Model: m, Spec: spec, Item: item))).ToList();
        // Each connection gets the run's concurrency; connections go on side by side.
        await Task.WhenAll(pending.GroupBy(p => p.Spec.ProviderId).Select(group =>
            Parallel.ForEachAsync(group, new ParallelOptions { MaxDegreeOfParallelism = run.Concurrency, CancellationToken = cancellationToken },
                async (work, token) => await AnswerAsync(run, work.Model, work.Spec, work.Item, graders, token))));
        // A model none of whose requests got an answer measured nothing: the run says so instead of reporting 0%.
        await using (var context = await db.CreateDbContextAsync(cancellationToken))
        {
            var failed = await context.EvalResults.Where(r => r.RunId == runId).GroupBy(r => r.ModelIndex)
                .Where(g => g.All(r => r.Error != null)).Select(g => new { g.Key, Error = g.Select(r => r.Error).First() }).ToListAsync(cancellationToken);
            if (failed.Count > 0)
            {
                var said = string.Join("; ", failed.Select(f => $"{specs[f.Key].Model}: every request failed ({f.Error})"));
                await FinishAsync(runId, EvalStatuses.Failed, said, cancellationToken);
                return;
            }
        }
        await FinishAsync(runId, EvalStatuses.Succeeded, null, cancellationToken);
    }

    private async Task FinishAsync(Guid runId, string status, string? error, CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        var now = time.GetUtcNow().UtcDateTime;
        await context.EvalRuns.Where(r => r.Id == runId && r.Status == EvalStatuses.Running)
            .ExecuteUpdateAsync(s => s.SetProperty(r => r.Status, status).SetProperty(r => r.FinishedAt, now).SetProperty(r => r.Error, error), cancellationToken);
        events.Publish(StudioTopic.EvalRun(runId));
        events.Publish(StudioTopic.Evaluations);
    }

    private async Task AnswerAsync(EvalRunRecord run, int modelIndex, EvalModelSpec spec, EvalItemRecord item, List<GraderSpec> graders, CancellationToken cancellationToken)
    {
        var messages = (JsonSerializer.Deserialize<List<EvalMessage>>(item.MessagesJson, EvalService.Json) ?? []).Select(m => new ChatTurn(m.Role, m.Content)).ToList();
        var parameters = spec.Parameters ?? new ChatParameters();
        var key = CacheKey(spec.ProviderId, spec.Model, messages, parameters);
        var result = new EvalResultRecord { RunId = run.Id, ModelIndex = modelIndex, ItemIndex = item.Index, ItemId = item.ItemId };
        ChatAnswer? answer = null;
        if (!run.Fresh)
        {
            await using var context = await db.CreateDbContextAsync(cancellationToken);
            if (await context.ChatCache.AsNoTracking().FirstOrDefaultAsync(c => c.Key == key, cancellationToken) is { } hit)
            {
                answer = new ChatAnswer(hit.Text, hit.FinishReason, hit.LatencyMs, null, hit.PromptTokens, hit.CompletionTokens, hit.Cost, []);
                result.Cached = true;
            }
        }
        if (answer is null)
        {
            try
            {
                answer = await chat.CompleteAsync(spec.ProviderId, spec.Model, messages, parameters with { Logprobs = null, TopLogprobs = null }, null, cancellationToken);
                await StoreAsync(key, answer, cancellationToken);
            }
            catch (Exception e) when (e is ProviderException or StudioException)
            {
                result.Error = e.Message;
            }
        }
        if (answer is not null)
        {
            result.Answer = answer.Text;
            result.FinishReason = answer.FinishReason;
            result.LatencyMs = answer.LatencyMs;
            result.PromptTokens = answer.PromptTokens;
            result.CompletionTokens = answer.CompletionTokens;
            // A stored answer costs nothing now.
            result.Cost = result.Cached ? 0 : answer.Cost;
            var question = messages.LastOrDefault(m => m.Role == "user")?.Content ?? "";
            var verdicts = await GradeAsync(answer.Text, item.Reference, question, graders, cancellationToken);
            Apply(result, verdicts);
            var parse = ReflectionParser.Parse(answer.Text, ReflectionTags.Default);
            result.FormatValid = parse.IsValid && parse.Output is not null;
            result.Reflected = parse.Reflections.Count > 0;
            if (Answers.First(answer.Text) is { } first)
            {
                var firstVerdicts = await GradeAsync(first, item.Reference, question, graders, cancellationToken);
                result.FirstPass = firstVerdicts.All(v => v.Pass);
                result.FirstExtracted = firstVerdicts[0].Extracted;
            }
            else
            {
                // No reflection: the first answer is the final one.
                result.FirstPass = result.Pass;
                result.FirstExtracted = result.Extracted;
            }
        }
        else
        {
            result.Reason = $"no answer: {result.Error}";
        }
        result.CreatedAt = time.GetUtcNow().UtcDateTime;
        await using (var context = await db.CreateDbContextAsync(CancellationToken.None))
        {
            context.EvalResults.Add(result);
            try
            {
                await context.SaveChangesAsync(CancellationToken.None);
            }
            catch (DbUpdateException e) when (DbErrors.IsUniqueViolation(e))
            {
                return; // another worker of the same run stored this item first: it is answered once
            }
        }
        events.Publish(StudioTopic.EvalRun(run.Id));
    }

    private static void Apply(EvalResultRecord result, IReadOnlyList<GraderVerdict> verdicts)
    {
        result.Pass = verdicts.All(v => v.Pass);
        result.Score = verdicts.Count == 0 ? 0 : verdicts.Average(v => v.Score);
        result.Reason = string.Join("; ", verdicts.Select(v => verdicts.Count > 1 ? $"{v.Type}: {v.Reason}" : v.Reason));
        result.Extracted = verdicts[0].Extracted;
        result.GradesJson = JsonSerializer.Serialize(verdicts, EvalService.Json);
    }

    private async Task<IReadOnlyList<GraderVerdict>> GradeAsync(string answer, string reference, string question, IReadOnlyList<GraderSpec> graders, CancellationToken cancellationToken)
    {
        var verdicts = new List<GraderVerdict>();
        foreach (var grader in graders)
        {
            if (grader.Type == "judge")
            {
                verdicts.Add(await JudgeAsync(grader, question, answer, reference, cancellationToken));
                continue;
            }
            var grade = Graders.Grade(grader.Type, answer, grader.Type == "regex" && grader.Pattern is { } pattern ? pattern : reference, grader.Tolerance ?? 1e-6);
            verdicts.Add(new GraderVerdict(grader.Type, grade.Pass, grade.Pass ? 1 : 0, grade.Reason, grade.Extracted));
        }
        return verdicts;
    }

    private async Task<GraderVerdict> JudgeAsync(GraderSpec grader, string question, string answer, string reference, CancellationToken cancellationToken)
    {
        var final = Answers.Final(answer);
        var prompt = Judge.Prompt(question, final, Answers.Reference(reference), grader.Rubric).Select(m => new ChatTurn(m.Role, m.Content)).ToList();
        try
        {
            var reply = await chat.CompleteAsync(grader.ProviderId!.Value, grader.Model!, prompt, new ChatParameters { Temperature = 0, MaxCompletionTokens = 300 }, null, cancellationToken);
            var (verdict, problem) = Judge.Read(reply.Text, grader.PassThreshold ?? 0.5);
            return verdict is null
                ? new GraderVerdict("judge", false, 0, problem, final)
                : new GraderVerdict("judge", verdict.Pass, verdict.Score, verdict.Reason, final);
        }
        catch (Exception e) when (e is ProviderException or StudioException)
        {
            return new GraderVerdict("judge", false, 0, $"the judge could not be asked: {e.Message}", final);
        }
    }

    private async Task StoreAsync(string key, ChatAnswer answer, CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        await context.ChatCache.Where(c => c.Key == key).ExecuteDeleteAsync(cancellationToken);
        context.ChatCache.Add(new ChatCacheEntry
        {
            Key = key,
            CreatedAt = time.GetUtcNow().UtcDateTime,
            Text = answer.Text,
            FinishReason = answer.FinishReason,
            LatencyMs = answer.LatencyMs,
            PromptTokens = answer.PromptTokens,
            CompletionTokens = answer.CompletionTokens,
            Cost = answer.Cost,
        });
        try
        {
            await context.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException e) when (DbErrors.IsUniqueViolation(e))
        {
            // The same request answered twice at once: either answer serves.
        }
    }

    /// <summary>A stored response answers a request only when connection, model, messages and every parameter are the same.</summary>
    internal static string CacheKey(Guid providerId, string model, IReadOnlyList<ChatTurn> messages, ChatParameters parameters)
    {
        var text = JsonSerializer.Serialize(new { providerId, model, messages, parameters }, EvalService.Json);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
    }
}

internal sealed class EvalRunnerWorker(EvalRunner runner, BackgroundLoops loops) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => loops.RunAsync("evaluation runs", async token =>
    {
        await loops.StartedAsync(token);
        await runner.ResumeAsync(token);
        var running = new List<Task>();
        try
        {
            // Runs go on side by side; each bounds its own requests per connection.
            await foreach (var id in runner.Queue.ReadAllAsync(token))
            {
                running.RemoveAll(t => t.IsCompleted);
                running.Add(Task.Run(() => runner.RunAsync(id, token), CancellationToken.None));
            }
        }
        finally
        {
            await Task.WhenAll(running);
        }
    }, stoppingToken);
}

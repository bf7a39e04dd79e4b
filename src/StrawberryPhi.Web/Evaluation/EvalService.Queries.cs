using System.Globalization;
using System.Text;
using System.Text.Json;
using CsvHelper;
using Microsoft.EntityFrameworkCore;
using StrawberryPhi.Core.Evaluation;
using StrawberryPhi.Web.Chat;
using StrawberryPhi.Web.Data;

namespace StrawberryPhi.Web.Evaluation;

public sealed partial class EvalService
{
    public async Task<IReadOnlyList<EvalRunListItem>> ListRunsAsync(Guid? setId, CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        var runs = await context.EvalRuns.AsNoTracking().Where(r => setId == null || r.SetId == setId)
            .OrderByDescending(r => r.CreatedAt).Take(500).ToListAsync(cancellationToken);
        var ids = runs.Select(r => r.Id).ToList();
        var done = await context.EvalResults.Where(r => ids.Contains(r.RunId)).GroupBy(r => r.RunId)
            .Select(g => new { g.Key, Count = g.Count() }).ToDictionaryAsync(g => g.Key, g => g.Count, cancellationToken);
        var names = await SetNames(context, runs.Select(r => r.SetId), cancellationToken);
        var labels = await ConnectionNames(cancellationToken);
        return runs.Select(r => new EvalRunListItem(r.Id, r.SetId, names.GetValueOrDefault(r.SetId, "?"), r.Status, r.CreatedAt, r.Total,
            done.GetValueOrDefault(r.Id), Specs(r).Select(m => Label(labels, m)).ToList())).ToList();
    }

    /// <summary>Status, progress with ETA and cost so far, per-model summaries and paired comparisons, from the stored results.</summary>
    public async Task<EvalRunView> GetRunAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        var run = await context.EvalRuns.AsNoTracking().FirstOrDefaultAsync(r => r.Id == id, cancellationToken)
            ?? throw StudioException.NotFound("The evaluation run");
        var results = await context.EvalResults.AsNoTracking().Where(r => r.RunId == id).ToListAsync(cancellationToken);
        var setName = (await SetNames(context, [run.SetId], cancellationToken)).GetValueOrDefault(run.SetId, "?");
        var labels = await ConnectionNames(cancellationToken);
        var specs = Specs(run);
        var summaries = specs.Select((spec, index) => Summarize(index, spec, labels, results.Where(r => r.ModelIndex == index).ToList())).ToList();
        var paired = new List<EvalPairedView>();
        for (var a = 0; a < specs.Count; a++)
        {
            for (var b = a + 1; b < specs.Count; b++)
            {
                // Items both models answered (a failed request is no evidence either way).
                var first = results.Where(r => r.ModelIndex == a && r.Error == null).ToDictionary(r => r.ItemIndex, r => r.Pass);
                var both = results.Where(r => r.ModelIndex == b && r.Error == null && first.ContainsKey(r.ItemIndex)).Select(r => (first[r.ItemIndex], r.Pass));
                var p = Statistics.Paired(both);
                paired.Add(new EvalPairedView(a, b, summaries[a].Model, summaries[b].Model, p.Items, p.Both, p.OnlyFirst, p.OnlySecond, p.Neither, p.PValue));
            }
        }
        double? eta = null;
        var fresh = results.Where(r => !r.Cached && run.StartedAt is { } s && r.CreatedAt >= s).ToList();
        if (run.Status == EvalStatuses.Running && fresh.Count > 0 && run.StartedAt is { } started)
        {
            var elapsed = (time.GetUtcNow().UtcDateTime - started).TotalSeconds;
            eta = elapsed / fresh.Count * (run.Total - results.Count);
        }
        return new EvalRunView(run.Id, run.SetId, setName, run.Status, run.CreatedAt, run.StartedAt, run.FinishedAt, run.Total, results.Count,
            results.Sum(r => r.Cost ?? 0), eta, run.Error, run.Concurrency, run.Fresh, GraderSpecs(run), summaries, paired,
            run.GoldenId, run.GoldenId is null || summaries.Count == 0 ? null
                : new EvalAgreement(summaries[0].Accuracy, summaries[0].CiLow, summaries[0].CiHigh, summaries[0].Passed, summaries[0].N));
    }

    private static EvalModelSummary Summarize(int index, EvalModelSpec spec, IReadOnlyDictionary<Guid, string> labels, List<EvalResultRecord> rows)
    {
        var n = rows.Count;
        var passed = rows.Count(r => r.Pass);
        var accuracy = Statistics.Wilson(passed, n);
        var answered = rows.Where(r => r.Error is null).ToList();
        var latencies = answered.Where(r => !r.Cached).Select(r => r.LatencyMs).Order().ToList();
        // Reflection metrics are about answers: an item without one (its request failed) is left out of them.
        var transitions = Transitions.Of(answered.Select(r => (r.FirstPass, r.Pass)));
        double Rate(Func<EvalResultRecord, bool> predicate) => answered.Count == 0 ? 0 : (double)answered.Count(predicate) / answered.Count;
        return new EvalModelSummary(index, Label(labels, spec), spec.ProviderId, labels.GetValueOrDefault(spec.ProviderId, "(removed connection)"), spec.Parameters ?? new(),
            n, passed, rows.Count(r => r.Error is not null), accuracy.Value, accuracy.Low, accuracy.High,
            latencies.Count == 0 ? null : latencies[latencies.Count / 2], latencies.Count == 0 ? null : latencies.Average(),
            answered.Sum(r => (long)(r.PromptTokens ?? 0)), answered.Sum(r => (long)(r.CompletionTokens ?? 0)), rows.Sum(r => r.Cost ?? 0),
            rows.Count(r => r.Cached), Rate(r => r.FormatValid), Rate(r => r.Reflected), Rate(r => r.FirstPass), Rate(r => r.Pass),
            transitions, transitions.WrongRight, transitions.RightWrong, transitions.NetGain);
    }

    /// <summary>Results, one row per item × model, in item order; filtered by model, grade or transition.</summary>
    public async Task<EvalResultPage> ResultsAsync(Guid runId, int? model, bool? pass, string? transition, int skip, int take, CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        var run = await context.EvalRuns.AsNoTracking().FirstOrDefaultAsync(r => r.Id == runId, cancellationToken)
            ?? throw StudioException.NotFound("The evaluation run");
        var query = context.EvalResults.AsNoTracking().Where(r => r.RunId == runId);
        if (model is { } m)
        {
            query = query.Where(r => r.ModelIndex == m);
        }
        if (pass is { } p)
        {
            query = query.Where(r => r.Pass == p);
        }
        query = transition switch
        {
            null or "" => query,
            "right-right" => query.Where(r => r.FirstPass && r.Pass),
            "right-wrong" => query.Where(r => r.FirstPass && !r.Pass),
            "wrong-right" => query.Where(r => !r.FirstPass && r.Pass),
            "wrong-wrong" => query.Where(r => !r.FirstPass && !r.Pass),
            _ => throw StudioException.Invalid("transition", "The transition is right-right, right-wrong, wrong-right or wrong-wrong."),
        };
        var total = await query.CountAsync(cancellationToken);
        var rows = await query.OrderBy(r => r.ItemIndex).ThenBy(r => r.ModelIndex).Skip(skip).Take(Math.Clamp(take, 1, 100_000)).ToListAsync(cancellationToken);
        var indexes = rows.Select(r => r.ItemIndex).Distinct().ToList();
        var references = await context.EvalItems.AsNoTracking().Where(i => i.SetId == run.SetId && indexes.Contains(i.Index))
            .ToDictionaryAsync(i => i.Index, i => i.Reference, cancellationToken);
        var specs = Specs(run);
        var labels = await ConnectionNames(cancellationToken);
        return new EvalResultPage(total, rows.Select(r => Row(r, Label(labels, specs[r.ModelIndex]), references.GetValueOrDefault(r.ItemIndex, ""))).ToList());
    }

    private static EvalResultRow Row(EvalResultRecord r, string model, string reference) => new(
        r.ItemId, r.ItemIndex, r.ModelIndex, model, r.Answer, r.Extracted, reference, r.Pass, r.Score, r.Reason, r.LatencyMs,
        r.PromptTokens, r.CompletionTokens, r.Cost, r.FinishReason, r.Cached, r.Error, r.FormatValid, r.Reflected, r.FirstExtracted,
        r.FirstPass, $"{(r.FirstPass ? "right" : "wrong")}-{(r.Pass ? "right" : "wrong")}",
        JsonSerializer.Deserialize<List<GraderVerdict>>(r.GradesJson, Json) ?? []);

    /// <summary>The results so far as JSONL, CSV or JSON (the run need not be finished; nothing is re-run).</summary>
    public async Task<(byte[] Content, string ContentType, string FileName)> ExportAsync(Guid runId, string format, CancellationToken cancellationToken)
    {
        var page = await ResultsAsync(runId, null, null, null, 0, 100_000, cancellationToken);
        var name = $"eval-{runId:N}";
        switch (format)
        {
            case "jsonl":
                var lines = new StringBuilder();
                foreach (var row in page.Items)
                {
                    lines.Append(JsonSerializer.Serialize(row, Json)).Append('\n');
                }
                return (Encoding.UTF8.GetBytes(lines.ToString()), "application/jsonl", name + ".jsonl");
            case "json":
                var run = await GetRunAsync(runId, cancellationToken);
                return (JsonSerializer.SerializeToUtf8Bytes(new { run, results = page.Items }, Json), "application/json", name + ".json");
            case "csv":
                await using (var writer = new StringWriter(CultureInfo.InvariantCulture))
                {
                    await using var csv = new CsvWriter(writer, CultureInfo.InvariantCulture);
                    string[] header = ["itemId", "model", "answer", "extracted", "reference", "pass", "score", "reason", "latencyMs", "promptTokens",
                        "completionTokens", "cost", "finishReason", "cached", "error", "formatValid", "reflected", "firstExtracted", "firstPass", "transition"];
                    foreach (var h in header)
                    {
                        csv.WriteField(h);
                    }
                    await csv.NextRecordAsync();
                    foreach (var r in page.Items)
                    {
                        static string B(bool value) => value ? "true" : "false";
                        object?[] fields = [r.ItemId, r.Model, r.Answer, r.Extracted, r.Reference, B(r.Pass), r.Score, r.Reason, Math.Round(r.LatencyMs, 1), r.PromptTokens,
                            r.CompletionTokens, r.Cost, r.FinishReason, B(r.Cached), r.Error, B(r.FormatValid), B(r.Reflected), r.FirstExtracted, B(r.FirstPass), r.Transition];
                        foreach (var f in fields)
                        {
                            csv.WriteField(f);
                        }
                        await csv.NextRecordAsync();
                    }
                    await csv.FlushAsync();
                    return (Encoding.UTF8.GetBytes(writer.ToString()), "text/csv", name + ".csv");
                }
            default:
                throw StudioException.Invalid("format", "The format is jsonl, csv or json.");
        }
    }

    /// <summary>Two runs item by item (matched by item id and model position): what one got right that the other did not.</summary>
    public async Task<EvalRunComparison> CompareRunsAsync(Guid before, Guid after, CancellationToken cancellationToken)
    {
        var a = await ResultsAsync(before, null, null, null, 0, 100_000, cancellationToken);
        var b = await ResultsAsync(after, null, null, null, 0, 100_000, cancellationToken);
        var old = a.Items.ToDictionary(r => (r.ItemId, r.ModelIndex));
        var changes = new List<EvalRunChange>();
        int fixedCount = 0, broken = 0, same = 0;
        foreach (var row in b.Items)
        {
            if (!old.TryGetValue((row.ItemId, row.ModelIndex), out var was))
            {
                changes.Add(new EvalRunChange(row.ItemId, row.ModelIndex, row.Model, null, row.Pass, null, row.Answer));
                continue;
            }
            if (was.Pass == row.Pass)
            {
                same++;
                continue;
            }
            _ = row.Pass ? fixedCount++ : broken++;
            changes.Add(new EvalRunChange(row.ItemId, row.ModelIndex, row.Model, was.Pass, row.Pass, was.Answer, row.Answer));
        }
        return new EvalRunComparison(before, after, b.Items.Count, fixedCount, broken, same, changes);
    }

    internal static List<EvalModelSpec> Specs(EvalRunRecord run) => JsonSerializer.Deserialize<List<EvalModelSpec>>(run.ModelsJson, Json) ?? [];

    internal static List<GraderSpec> GraderSpecs(EvalRunRecord run) => JsonSerializer.Deserialize<List<GraderSpec>>(run.GradersJson, Json) ?? [];

    private async Task<Dictionary<Guid, string>> ConnectionNames(CancellationToken cancellationToken) =>
        (await connections.ListAsync(cancellationToken)).ToDictionary(p => p.Id, p => p.Name);

    private static string Label(IReadOnlyDictionary<Guid, string> connections, EvalModelSpec spec) =>
        $"{connections.GetValueOrDefault(spec.ProviderId, "(removed connection)")}/{spec.Model}";

    private static async Task<Dictionary<Guid, string>> SetNames(StudioDbContext context, IEnumerable<Guid> ids, CancellationToken cancellationToken)
    {
        var list = ids.Distinct().ToList();
        return await context.EvalSets.AsNoTracking().Where(s => list.Contains(s.Id)).ToDictionaryAsync(s => s.Id, s => s.Name, cancellationToken);
    }
}

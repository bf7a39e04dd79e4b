using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using StrawberryPhi.Core.Evaluation;
using StrawberryPhi.Providers;
using StrawberryPhi.Web.Chat;
using StrawberryPhi.Web.Data;
using StrawberryPhi.Web.Datasets;
using StrawberryPhi.Web.Providers;

namespace StrawberryPhi.Web.Evaluation;

/// <summary>Evaluation sets and runs: create, read, summarize, compare, export. Runs themselves go on in <see cref="EvalRunner"/>.</summary>
public sealed partial class EvalService(
    IDbContextFactory<StudioDbContext> db, DatasetService datasets, ProviderConnectionService connections, ModelRouter router, EvalRunner runner,
    StudioNotifier events, TimeProvider time)
{
    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public const int MaxConcurrency = 32;
    public const int DefaultConcurrency = 4;

    public async Task<EvalSetView> CreateSetAsync(string name, Stream jsonl, CancellationToken cancellationToken)
    {
        using var reader = new StreamReader(jsonl);
        return await SaveSetAsync(name, EvalSets.Read(reader), null, cancellationToken);
    }

    /// <summary>A set from a chat dataset: each line's last assistant message is the reference, the turns before it the prompt.</summary>
    public async Task<EvalSetView> CreateSetFromDatasetAsync(Guid datasetId, string? name, CancellationToken cancellationToken)
    {
        var detail = await datasets.GetAsync(datasetId, cancellationToken);
        var (content, _, _, _) = await datasets.OpenAsync(datasetId, cancellationToken);
        await using (content)
        {
            using var reader = new StreamReader(content);
            return await SaveSetAsync(string.IsNullOrWhiteSpace(name) ? detail.Summary.Name : name, EvalSets.FromChat(reader), datasetId, cancellationToken);
        }
    }

    private async Task<EvalSetView> SaveSetAsync(string name, EvalSetRead read, Guid? datasetId, CancellationToken cancellationToken)
    {
        if (read.Problems.Count > 0)
        {
            var first = read.Problems[0];
            var more = read.Problems.Count > 1 ? $" ({read.Problems.Count - 1:N0} more problem{(read.Problems.Count > 2 ? "s" : "")} after it)" : "";
            throw StudioException.Invalid(first.Field, $"Line {first.Line}, {first.Field}: {first.Message}{more}. Nothing was saved.");
        }
        name = name.Trim();
        if (name.Length is 0 or > 200)
        {
            throw StudioException.Invalid("name", "Give the set a name of 1 to 200 characters.");
        }
        await using (var names = await db.CreateDbContextAsync(cancellationToken))
        {
            // The same file uploaded twice makes two sets: their names tell them apart.
            var taken = await names.EvalSets.Where(s => s.Name == name || s.Name.StartsWith(name + " (")).Select(s => s.Name).ToListAsync(cancellationToken);
            var given = name;
            for (var n = 2; taken.Contains(name); n++)
            {
                name = $"{given} ({n})";
            }
        }
        var set = new EvalSetRecord
        {
            Id = Guid.CreateVersion7(time.GetUtcNow()),
            Name = name,
            CreatedAt = time.GetUtcNow().UtcDateTime,
            ItemCount = read.Items.Count,
            DatasetId = datasetId,
        };
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        context.EvalSets.Add(set);
        context.EvalItems.AddRange(read.Items.Select((item, index) => new EvalItemRecord
        {
            SetId = set.Id,
            Index = index,
            ItemId = item.Id,
            MessagesJson = JsonSerializer.Serialize(item.Messages, Json),
            Reference = item.Reference,
            MetadataJson = item.Metadata,
        }));
        await context.SaveChangesAsync(cancellationToken);
        events.Publish(StudioTopic.Evaluations);
        return View(set);
    }

    public async Task<IReadOnlyList<EvalSetView>> ListSetsAsync(CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        return (await context.EvalSets.AsNoTracking().OrderByDescending(s => s.CreatedAt).ToListAsync(cancellationToken)).Select(View).ToList();
    }

    public async Task<EvalSetView> GetSetAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        return View(await context.EvalSets.AsNoTracking().FirstOrDefaultAsync(s => s.Id == id, cancellationToken)
            ?? throw StudioException.NotFound("The evaluation set"));
    }

    public async Task<IReadOnlyList<EvalItemView>> ItemsAsync(Guid setId, int skip, int take, CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        var rows = await context.EvalItems.AsNoTracking().Where(i => i.SetId == setId).OrderBy(i => i.Index).Skip(skip).Take(Math.Clamp(take, 1, 1000)).ToListAsync(cancellationToken);
        return rows.Select(ItemView).ToList();
    }

    public async Task DeleteSetAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        if (await context.EvalRuns.AnyAsync(r => r.SetId == id, cancellationToken))
        {
            throw new StudioException(StudioError.Conflict, "The set has runs; delete them first, so that no result loses its items.");
        }
        if (await context.EvalSets.Where(s => s.Id == id).ExecuteDeleteAsync(cancellationToken) == 0)
        {
            throw StudioException.NotFound("The evaluation set");
        }
        events.Publish(StudioTopic.Evaluations);
    }

    /// <summary>Checks and queues a run. The same <paramref name="clientRequestId"/> gives back the same run (a retried POST).</summary>
    public async Task<(EvalRunView Run, bool Created)> CreateRunAsync(EvalRunInput input, string? clientRequestId, CancellationToken cancellationToken, Guid? goldenId = null)
    {
        if (clientRequestId is { Length: > 200 })
        {
            throw StudioException.Invalid("Idempotency-Key", "An idempotency key has at most 200 characters.");
        }
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        if (clientRequestId is not null && await context.EvalRuns.Where(r => r.ClientRequestId == clientRequestId).Select(r => (Guid?)r.Id).FirstOrDefaultAsync(cancellationToken) is { } existing)
        {
            return (await GetRunAsync(existing, cancellationToken), false);
        }
        var set = await context.EvalSets.AsNoTracking().FirstOrDefaultAsync(s => s.Id == input.SetId, cancellationToken)
            ?? throw StudioException.Invalid("setId", input.SetId == Guid.Empty ? "setId is required: the id of an evaluation set (POST /api/evals/sets makes one)." : "There is no evaluation set with this id.");
        var models = input.Models ?? [];
        if (models.Count is 0 or > 8)
        {
            throw StudioException.Invalid("models", "Give 1 to 8 models: [{\"providerId\": …, \"model\": …, \"parameters\": {…}}].");
        }
        var providers = (await connections.ListAsync(cancellationToken)).ToDictionary(p => p.Id);
        for (var i = 0; i < models.Count; i++)
        {
            if (!providers.ContainsKey(models[i].ProviderId))
            {
                throw StudioException.Invalid($"models[{i}].providerId", "There is no connection with this id (GET /api/providers lists them).");
            }
            if (string.IsNullOrWhiteSpace(models[i].Model))
            {
                throw StudioException.Invalid($"models[{i}].model", "The model is required.");
            }
            if ((models[i].Parameters ?? new()).Problems($"models[{i}].parameters.") is [var (field, message), ..])
            {
                throw StudioException.Invalid(field, message);
            }
        }
        var graders = input.Graders is { Count: > 0 } given ? given : [new GraderSpec("exact")];
        for (var i = 0; i < graders.Count; i++)
        {
            CheckGrader(graders[i], $"graders[{i}]", providers.Keys);
        }
        // A model its connection does not list would fail every item: said now, by name. Only where the list is
        // the whole truth (the local engine, OpenAI); Azure chats with deployment names its list does not hold, and
        // a custom server may not list all it serves. A connection that cannot list in time is not waited for.
        var listed = new Dictionary<Guid, IReadOnlySet<string>?>();
        async Task CheckListed(Guid providerId, string model, string field)
        {
            if (providers[providerId].Kind is not (ProviderKind.Local or ProviderKind.OpenAI))
            {
                return;
            }
            if (!listed.TryGetValue(providerId, out var ids))
            {
                ids = listed[providerId] = await router.ModelIdsAsync(providerId, cancellationToken);
            }
            if (ids is not null && !ids.Contains(model.Trim()))
            {
                var examples = string.Join(", ", ids.Order(StringComparer.Ordinal).Take(5));
                throw StudioException.Invalid(field, $"{providers[providerId].Name} has no model \"{model.Trim()}\" (it lists {ids.Count}: {examples}{(ids.Count > 5 ? ", …" : "")}).");
            }
        }
        for (var i = 0; i < models.Count; i++)
        {
            await CheckListed(models[i].ProviderId, models[i].Model, $"models[{i}].model");
        }
        for (var i = 0; i < graders.Count; i++)
        {
            if (graders[i] is { Type: "judge", ProviderId: { } judgeProvider, Model: { } judgeModel })
            {
                await CheckListed(judgeProvider, judgeModel, $"graders[{i}].model");
            }
        }
        var concurrency = input.Concurrency ?? DefaultConcurrency;
        if (concurrency is < 1 or > MaxConcurrency)
        {
            throw StudioException.Invalid("concurrency", $"Concurrency is between 1 and {MaxConcurrency} requests at once per connection.");
        }
        var run = new EvalRunRecord
        {
            Id = Guid.CreateVersion7(time.GetUtcNow()),
            SetId = set.Id,
            CreatedAt = time.GetUtcNow().UtcDateTime,
            ModelsJson = JsonSerializer.Serialize(models.Select(m => m with { Model = m.Model.Trim(), Parameters = m.Parameters ?? new() }), Json),
            GradersJson = JsonSerializer.Serialize(graders, Json),
            Concurrency = concurrency,
            Fresh = input.Fresh,
            Total = set.ItemCount * models.Count,
            ClientRequestId = clientRequestId,
            GoldenId = goldenId,
        };
        context.EvalRuns.Add(run);
        try
        {
            await context.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException e) when (clientRequestId is not null && DbErrors.IsUniqueViolation(e))
        {
            // The same key's other request saved first: that run is this one.
            await using var again = await db.CreateDbContextAsync(cancellationToken);
            var id = await again.EvalRuns.Where(r => r.ClientRequestId == clientRequestId).Select(r => r.Id).FirstAsync(cancellationToken);
            return (await GetRunAsync(id, cancellationToken), false);
        }
        runner.Enqueue(run.Id);
        events.Publish(StudioTopic.Evaluations);
        return (await GetRunAsync(run.Id, cancellationToken), true);
    }

    private static void CheckGrader(GraderSpec grader, string field, IEnumerable<Guid> providers)
    {
        switch (grader.Type)
        {
            case "exact" or "normalized" or "contains" or "json":
                break;
            case "numeric":
                if (grader.Tolerance is < 0 or double.NaN)
                {
                    throw StudioException.Invalid(field + ".tolerance", "The tolerance is a number of 0 or more.");
                }
                break;
            case "regex":
                if (grader.Pattern is { } pattern)
                {
                    try
                    {
                        _ = new System.Text.RegularExpressions.Regex(pattern, System.Text.RegularExpressions.RegexOptions.None, TimeSpan.FromSeconds(1));
                    }
                    catch (ArgumentException e)
                    {
                        throw StudioException.Invalid(field + ".pattern", $"The pattern is not a regular expression: {e.Message}");
                    }
                }
                break;
            case "judge":
                if (grader.ProviderId is not { } id || !providers.Contains(id))
                {
                    throw StudioException.Invalid(field + ".providerId", "A judge needs the connection of its model (providerId).");
                }
                if (string.IsNullOrWhiteSpace(grader.Model))
                {
                    throw StudioException.Invalid(field + ".model", "A judge needs a model.");
                }
                if (grader.PassThreshold is < 0 or > 1)
                {
                    throw StudioException.Invalid(field + ".passThreshold", "The pass threshold is between 0 and 1.");
                }
                break;
            default:
                throw StudioException.Invalid(field + ".type", $"There is no grader \"{grader.Type}\"; the graders are {string.Join(", ", Graders.Names)} and judge.");
        }
    }

    /// <summary>Cancels a queued or running run; answers kept so far stay. A finished run is left as it is.</summary>
    public async Task<EvalRunView> CancelRunAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        var now = time.GetUtcNow().UtcDateTime;
        var changed = await context.EvalRuns.Where(r => r.Id == id && (r.Status == EvalStatuses.Queued || r.Status == EvalStatuses.Running))
            .ExecuteUpdateAsync(s => s.SetProperty(r => r.Status, EvalStatuses.Cancelled).SetProperty(r => r.FinishedAt, now), cancellationToken);
        if (changed > 0)
        {
            runner.Cancel(id);
            events.Publish(StudioTopic.EvalRun(id));
            events.Publish(StudioTopic.Evaluations);
        }
        return await GetRunAsync(id, cancellationToken);
    }

    public async Task DeleteRunAsync(Guid id, CancellationToken cancellationToken)
    {
        runner.Cancel(id);
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        if (await context.EvalRuns.Where(r => r.Id == id).ExecuteDeleteAsync(cancellationToken) == 0)
        {
            throw StudioException.NotFound("The evaluation run");
        }
        events.Publish(StudioTopic.Evaluations);
    }

    private static EvalSetView View(EvalSetRecord s) => new(s.Id, s.Name, s.CreatedAt, s.ItemCount, s.DatasetId);

    internal static EvalItemView ItemView(EvalItemRecord i) =>
        new(i.Index, i.ItemId, JsonSerializer.Deserialize<List<EvalMessage>>(i.MessagesJson, Json) ?? [], i.Reference, i.MetadataJson);
}

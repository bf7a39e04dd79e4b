using System.Globalization;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.Extensions.Options;
using StrawberryPhi.Providers;
using StrawberryPhi.Web.Data;
using StrawberryPhi.Web.Datasets;
using StrawberryPhi.Web.Evaluation;
using StrawberryPhi.Web.Providers;

namespace StrawberryPhi.Web.Bundle;

/// <summary>Config section <c>Bundle</c>.</summary>
public sealed class BundleOptions
{
    /// <summary>Rows stored per batch of an import's one transaction (0: all in one batch; the benchmark's baseline).</summary>
    public int ImportBatch { get; set; } = 2_000;
}

/// <summary>One file of a bundle, as its manifest lists it.</summary>
public sealed record BundleEntry(
    [property: JsonPropertyName("path")] string Path,
    [property: JsonPropertyName("bytes")] long Bytes,
    [property: JsonPropertyName("sha256")] string Sha256);

/// <summary>A bundle's <c>manifest.json</c>: what made it, what it holds, and every other file with its checksum.</summary>
public sealed record BundleManifest(
    [property: JsonPropertyName("format")] string Format,
    [property: JsonPropertyName("version")] int Version,
    [property: JsonPropertyName("createdAt")] DateTime CreatedAt,
    [property: JsonPropertyName("schema")] string Schema,
    [property: JsonPropertyName("counts")] IReadOnlyDictionary<string, int> Counts,
    [property: JsonPropertyName("entries")] IReadOnlyList<BundleEntry> Entries);

/// <param name="InBundle">Rows of this table in the bundle.</param>
/// <param name="Added">Rows this import added; the others were here already (an earlier import, or the same provider job).</param>
public sealed record BundleTableCount(string Table, int InBundle, int Added)
{
    /// <summary>What a row of the table is, in words ("3 metric points").</summary>
    public string Words(int count) => Core.Text.Plural.Of(count, Table switch
    {
        "Datasets" => "dataset",
        "DatasetUploads" => "provider file record",
        "Jobs" => "job",
        "JobEvents" => "job event",
        "JobMetrics" => "metric point",
        "JobCheckpoints" => "checkpoint",
        "JobResultFiles" => "result file",
        "EvalSets" => "evaluation set",
        "EvalItems" => "set item",
        "EvalRuns" => "evaluation run",
        "EvalResults" => "graded answer",
        "Golden" => "golden output capture",
        "PlaygroundSessions" => "playground session",
        "ChatPresets" => "preset",
        _ => Table,
    });
}

/// <param name="Outcome"><c>built-in</c> (the local engine here), <c>matched</c> (a connection here with the same id, or name, kind and address), or <c>added</c> (without a key).</param>
/// <param name="NeedsKey">The connection here has no API key: add one in Settings before it can be used.</param>
public sealed record BundleConnection(Guid Id, string Name, ProviderKind Kind, string Outcome, bool NeedsKey);

/// <param name="FilesWritten">Dataset files this import stored.</param>
/// <param name="FilesHeld">Dataset files of the bundle the studio held already (the same content).</param>
public sealed record BundleImportResult(
    IReadOnlyList<BundleTableCount> Tables, IReadOnlyList<BundleConnection> Connections, int FilesWritten, int FilesHeld)
{
    public int Added => Tables.Sum(t => t.Added);
}

/// <summary>
/// The migration bundle (issue 11): one zip with the studio's record — datasets with their content, uploads, jobs with
/// events, metric points, checkpoints and result files, evaluation sets, runs and golden outputs, playground sessions
/// and presets — and a manifest with every file's SHA-256. Connections travel without keys (or key hints).
/// Importing is idempotent: rows keep their ids, and a row already here (by id, or by the provider's id) is left
/// as it is; connections are matched to this studio's (the local engine to its local engine).
/// </summary>
public sealed partial class BundleService(
    IDbContextFactory<StudioDbContext> db, IOptions<BundleOptions> options, DatasetFiles files, DatasetValidationQueue validation, ProviderConnectionService providers,
    EvalRunner evalRunner, StudioNotifier events, TimeProvider time, ILogger<BundleService> logger) : IDisposable
{
    public const string Format = "strawberry-phi-bundle";
    public const int Version = 1;
    private const string ManifestPath = "manifest.json";
    private const string ConnectionsTable = "Connections";

    /// <summary>The field of a row that names the bundle file holding its content (a dataset's bytes, a result file's).</summary>
    private const string ContentField = "$content";

    /// <summary>Table rows: property names as the studio's entities name them; enums as their names.</summary>
    private static readonly JsonSerializerOptions Values = new() { Converters = { new JsonStringEnumConverter() } };

    private static readonly JsonSerializerOptions ManifestJson = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    /// <summary>
    /// The tables in the order an import stores them (a row's references come before it), each with the columns that
    /// identify a row across studios.
    /// </summary>
    private static readonly BundleTable[] Tables =
    [
        BundleTable.Of("Datasets", c => c.Datasets.OrderBy(d => d.CreatedAt), "Id"),
        // Only finished uploads: where a dataset already is at a provider (an upload under way is this studio's business).
        BundleTable.Of("DatasetUploads", c => c.DatasetUploads.Where(u => u.Status == UploadStatus.Uploaded).OrderBy(u => u.CreatedAt), "DatasetId", "ProviderId"),
        BundleTable.Of("Jobs", c => c.Jobs.OrderBy(j => j.CreatedAt), "Id"),
        BundleTable.Of("JobEvents", c => c.JobEvents.OrderBy(e => e.Id), "JobId", "RemoteId"),
        BundleTable.Of("JobMetrics", c => c.JobMetrics.OrderBy(m => m.Id), "JobId", "Step"),
        BundleTable.Of("JobCheckpoints", c => c.JobCheckpoints.OrderBy(k => k.Id), "JobId", "RemoteId"),
        BundleTable.Of("JobResultFiles", c => c.JobResultFiles.OrderBy(f => f.Id), "JobId", "RemoteId"),
        BundleTable.Of("EvalSets", c => c.EvalSets.OrderBy(s => s.CreatedAt), "Id"),
        BundleTable.Of("EvalItems", c => c.EvalItems.OrderBy(i => i.SetId).ThenBy(i => i.Index), "SetId", "Index"),
        BundleTable.Of("EvalRuns", c => c.EvalRuns.OrderBy(r => r.CreatedAt), "Id"),
        BundleTable.Of("EvalResults", c => c.EvalResults.OrderBy(r => r.RunId).ThenBy(r => r.ModelIndex).ThenBy(r => r.ItemIndex), "RunId", "ModelIndex", "ItemIndex"),
        BundleTable.Of("Golden", c => c.Golden.OrderBy(g => g.CreatedAt), "Id"),
        BundleTable.Of("PlaygroundSessions", c => c.PlaygroundSessions.OrderBy(s => s.CreatedAt), "Id"),
        BundleTable.Of("ChatPresets", c => c.ChatPresets.OrderBy(p => p.Name), "Name"),
    ];

    /// <summary>One import at a time: two at once would both find a row missing and both add it.</summary>
    private readonly SemaphoreSlim _importing = new(1, 1);

    public void Dispose() => _importing.Dispose();

    /// <summary>
    /// Writes the bundle to a staging file and returns its path (the caller streams and deletes it). The record is
    /// read in one transaction, so a job tracked meanwhile cannot leave events whose job is not in the bundle.
    /// </summary>
    public async Task<(string Path, BundleManifest Manifest)> ExportAsync(CancellationToken cancellationToken)
    {
        List<ProviderConnection> connections;
        var snapshot = new List<(BundleTable Table, IEntityType Entity, List<object> Rows)>();
        string schema;
        await using (var context = await db.CreateDbContextAsync(cancellationToken))
        {
            await context.Database.OpenConnectionAsync(cancellationToken);
            // Deferred: a read snapshot that takes no write lock (an immediate transaction would stop the tracker meanwhile).
            await using var transaction = ((SqliteConnection)context.Database.GetDbConnection()).BeginTransaction(deferred: true);
            await context.Database.UseTransactionAsync(transaction, cancellationToken);
            connections = await context.Providers.AsNoTracking().OrderBy(p => p.CreatedAt).ToListAsync(cancellationToken);
            foreach (var table in Tables)
            {
                snapshot.Add((table, context.Model.FindEntityType(table.Type)!, await table.ReadAsync(context, cancellationToken)));
            }
            schema = context.Database.GetMigrations().LastOrDefault() ?? "";
        }

        var path = files.NewStagingPath(".zip");
        try
        {
            var entries = new List<BundleEntry>();
            var counts = new Dictionary<string, int>(StringComparer.Ordinal) { [ConnectionsTable] = connections.Count };
            await using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.Asynchronous);
            using (var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true))
            {
                // Keys, webhook secrets and key hints stay behind: the bundle may be mailed, stored, shared.
                await WriteLinesAsync(zip, $"tables/{ConnectionsTable}.jsonl", connections.Select(c => new JsonObject
                {
                    ["Id"] = c.Id,
                    ["Name"] = c.Name,
                    ["Kind"] = c.Kind.ToString(),
                    ["BaseUrl"] = c.BaseUrl,
                    ["Organization"] = c.Organization,
                    ["Project"] = c.Project,
                    ["BuiltIn"] = c.BuiltIn,
                    // Whether it had a key, never the key: a custom endpoint's importer is told one is needed.
                    ["HadKey"] = c.ProtectedApiKey is not null,
                }), entries, cancellationToken);
                var contentWritten = new HashSet<string>(StringComparer.Ordinal);
                foreach (var (table, entity, rows) in snapshot)
                {
                    var lines = new List<JsonObject>(rows.Count);
                    foreach (var row in rows)
                    {
                        var line = ToJson(entity, row);
                        switch (row)
                        {
                            case Dataset dataset:
                                line[ContentField] = $"datasets/{dataset.StoredFile}";
                                if (contentWritten.Add(dataset.StoredFile))
                                {
                                    await WriteFileAsync(zip, $"datasets/{dataset.StoredFile}", files.ExistingPathOf(dataset.StoredFile), entries, cancellationToken);
                                }
                                break;
                            case JobResultFile { Content: { } content } result:
                                var name = $"results/{result.JobId}/{Uri.EscapeDataString(result.RemoteId)}";
                                line["Content"] = null;
                                line[ContentField] = name;
                                await WriteEntryAsync(zip, name, content, entries, cancellationToken);
                                break;
                        }
                        lines.Add(line);
                    }
                    counts[table.Name] = rows.Count;
                    await WriteLinesAsync(zip, $"tables/{table.Name}.jsonl", lines, entries, cancellationToken);
                }
                var manifest = new BundleManifest(Format, Version, time.GetUtcNow().UtcDateTime, schema, counts, entries);
                await WriteEntryAsync(zip, ManifestPath, JsonSerializer.SerializeToUtf8Bytes(manifest, ManifestJson), null, cancellationToken);
                logger.LogInformation("Exported a bundle: {Entries} files, {Rows} rows", entries.Count, counts.Values.Sum());
                return (path, manifest);
            }
        }
        catch
        {
            File.Delete(path);
            throw;
        }
    }

    /// <summary>
    /// Imports a bundle. Everything is checked before anything is stored: the manifest, every file's size and
    /// checksum, every row. Then connections are matched (or added without a key), and the rows and dataset files
    /// not here yet are stored together: a failure stores none of them.
    /// </summary>
    public async Task<BundleImportResult> ImportAsync(Stream bundle, CancellationToken cancellationToken)
    {
        await _importing.WaitAsync(cancellationToken);
        StagedFile? staged = null;
        var stagedContent = new List<(StagedFile Staged, string Extension)>();
        try
        {
            staged = await files.StageAsync(bundle, ".zip", long.MaxValue, cancellationToken);
            ZipArchive zip;
            try
            {
                zip = new ZipArchive(new FileStream(staged.Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous), ZipArchiveMode.Read);
            }
            catch (InvalidDataException)
            {
                throw Invalid("This is not a zip file: a bundle is the zip that GET /api/bundle (or phi bundle export) gives.");
            }
            using (zip)
            {
                return await ImportAsync(zip, stagedContent, cancellationToken);
            }
        }
        finally
        {
            if (staged is not null)
            {
                File.Delete(staged.Path);
            }
            foreach (var (file, _) in stagedContent)
            {
                File.Delete(file.Path); // moved away when stored; left here only when the import failed
            }
            _importing.Release();
        }
    }

    private async Task<BundleImportResult> ImportAsync(ZipArchive zip, List<(StagedFile Staged, string Extension)> stagedContent, CancellationToken cancellationToken)
    {
        var manifest = await ReadManifestAsync(zip, cancellationToken);
        var declared = manifest.Entries.ToDictionary(e => e.Path, StringComparer.Ordinal);
        if (zip.Entries.FirstOrDefault(e => e.FullName != ManifestPath && !e.FullName.EndsWith('/') && !declared.ContainsKey(e.FullName)) is { } extra)
        {
            throw Invalid($"The bundle holds {extra.FullName}, which its manifest does not list: it was changed after it was made.");
        }

        await using var context = await db.CreateDbContextAsync(cancellationToken);
        if (manifest.Schema.Length > 0 && !context.Database.GetMigrations().Contains(manifest.Schema, StringComparer.Ordinal))
        {
            throw Invalid($"The bundle was made by a newer Strawberry Phi (database schema {manifest.Schema}); update this studio first.");
        }

        // Everything is read and checked, and what is new collected, before anything is stored.
        var plan = await PlanConnectionsAsync(context, await LinesAsync(zip, declared, ConnectionsTable, cancellationToken), cancellationToken);
        var jobLines = await LinesAsync(zip, declared, "Jobs", cancellationToken);
        var jobMap = await MatchJobsAsync(context, jobLines, plan.Map, cancellationToken);
        var counts = new List<BundleTableCount>();
        var added = new List<List<object>>();
        var held = new HashSet<string>(StringComparer.Ordinal);
        foreach (var table in Tables)
        {
            var entity = context.Model.FindEntityType(table.Type)!;
            var existing = (await table.ReadAsync(context, cancellationToken)).Select(r => table.KeyOf(entity, r)).ToHashSet(StringComparer.Ordinal);
            var taken = await UniqueValuesAsync(context, entity, cancellationToken);
            var lines = table.Name == "Jobs" ? jobLines : await LinesAsync(zip, declared, table.Name, cancellationToken);
            var rows = new List<object>();
            for (var i = 0; i < lines.Count; i++)
            {
                var line = lines[i];
                var where = $"tables/{table.Name}.jsonl line {i + 1}";
                Remap(line, table.Name, plan.Map, jobMap);
                var row = FromJson(entity, line, where);
                if (row is Dataset stored && File.Exists(files.PathOf(CheckedStoredFile(stored, where))))
                {
                    held.Add(stored.StoredFile);
                }
                if (!existing.Add(table.KeyOf(entity, row)))
                {
                    continue; // here already: an earlier import of this bundle, or the same provider job
                }
                foreach (var (property, values) in taken)
                {
                    // A key that names one thing here (an Idempotency-Key) is not given to a second.
                    if (property.GetGetter().GetClrValue(row) is { } value && !values.Add(value))
                    {
                        property.PropertyInfo!.SetValue(row, null);
                    }
                }
                switch (row)
                {
                    case Dataset dataset:
                        await StageContentAsync(zip, declared, dataset, line, where, stagedContent, held, cancellationToken);
                        break;
                    case JobResultFile result when line[ContentField] is JsonValue content:
                        result.Content = await ReadVerifiedAsync(zip, Declared(declared, content.GetValue<string>(), where), cancellationToken);
                        break;
                }
                rows.Add(row);
            }
            counts.Add(new BundleTableCount(table.Name, lines.Count, rows.Count));
            added.Add(rows);
        }

        // Stored in one transaction, in batches (one change tracker holding every row of a large bundle is slow and
        // large): the new connections first, then the tables in order, each row after what it refers to.
        try
        {
            await files.KeepAllAsync(stagedContent, async () =>
            {
                await using var transaction = await context.Database.BeginTransactionAsync(cancellationToken);
                context.Providers.AddRange(plan.Added);
                await context.SaveChangesAsync(cancellationToken);
                foreach (var rows in added)
                {
                    foreach (var batch in rows.Chunk(options.Value.ImportBatch > 0 ? options.Value.ImportBatch : Math.Max(1, rows.Count)))
                    {
                        context.AddRange(batch);
                        await context.SaveChangesAsync(cancellationToken);
                        context.ChangeTracker.Clear();
                    }
                }
                await transaction.CommitAsync(cancellationToken);
                return true;
            }, cancellationToken);
        }
        catch (DbUpdateException e)
        {
            throw Invalid($"The bundle's records do not fit together, so nothing of them was stored: {e.InnerException?.Message ?? e.Message}");
        }
        if (plan.Added.Count > 0)
        {
            providers.AddedElsewhere();
        }
        var written = stagedContent.Count;
        stagedContent.Clear();
        AfterImport(added.SelectMany(rows => rows));
        logger.LogInformation("Imported a bundle of {Created}: {Added} rows added, {Files} dataset files written", manifest.CreatedAt, counts.Sum(c => c.Added), written);
        return new BundleImportResult(counts, plan.Connections, written, held.Count);
    }

    /// <summary>A table's rows as the bundle has them (none when it has no such table: a bundle of an older studio).</summary>
    private static async Task<List<JsonObject>> LinesAsync(ZipArchive zip, Dictionary<string, BundleEntry> declared, string table, CancellationToken cancellationToken) =>
        declared.TryGetValue($"tables/{table}.jsonl", out var entry) ? ParseLines(entry.Path, await ReadVerifiedAsync(zip, entry, cancellationToken)) : [];

    /// <summary>What a restart would do with what came in: validate datasets left validating, go on with runs under way, refresh pages.</summary>
    private void AfterImport(IEnumerable<object> added)
    {
        foreach (var row in added)
        {
            switch (row)
            {
                case Dataset { Status: DatasetStatus.Validating } dataset:
                    validation.Enqueue(dataset.Id);
                    break;
                case EvalRunRecord run when !EvalStatuses.IsFinal(run.Status):
                    evalRunner.Enqueue(run.Id);
                    break;
            }
        }
        events.Publish(StudioTopic.Datasets);
        events.Publish(StudioTopic.Jobs);
        events.Publish(StudioTopic.Evaluations);
    }

    /// <param name="Map">The bundle's connection ids to this studio's.</param>
    /// <param name="Added">Connections to add (without a key).</param>
    private sealed record ConnectionPlan(Dictionary<Guid, Guid> Map, List<ProviderConnection> Added, List<BundleConnection> Connections);

    /// <summary>
    /// Each bundle connection is this studio's local engine (when it was the bundle's), a connection here with the
    /// same id or the same name, kind and address, or else a new connection without a key (its name made unique).
    /// Nothing is stored yet.
    /// </summary>
    private async Task<ConnectionPlan> PlanConnectionsAsync(StudioDbContext context, List<JsonObject> lines, CancellationToken cancellationToken)
    {
        var here = await context.Providers.AsNoTracking().ToListAsync(cancellationToken);
        var plan = new ConnectionPlan([], [], []);
        for (var i = 0; i < lines.Count; i++)
        {
            var where = $"tables/{ConnectionsTable}.jsonl line {i + 1}";
            var line = lines[i];
            var id = Field<Guid>(line, "Id", where);
            var name = Field<string>(line, "Name", where) ?? throw Invalid($"{where}: the connection has no name.");
            var kind = Field<ProviderKind>(line, "Kind", where);
            var baseUrl = Field<string?>(line, "BaseUrl", where);
            var builtIn = Field<bool>(line, "BuiltIn", where);
            var needsKey = kind is ProviderKind.OpenAI or ProviderKind.AzureOpenAI || Field<bool>(line, "HadKey", where);
            if (kind == ProviderKind.Local && !builtIn)
            {
                throw Invalid($"{where}: a local engine connection that is not the built-in one.");
            }
            var match = builtIn ? here.Single(p => p.BuiltIn)
                : here.FirstOrDefault(p => p.Id == id) ?? here.FirstOrDefault(p => p.Name == name && p.Kind == kind && p.BaseUrl == baseUrl);
            if (match is not null)
            {
                plan.Map[id] = match.Id;
                plan.Connections.Add(new BundleConnection(match.Id, match.Name, match.Kind, match.BuiltIn ? "built-in" : "matched", needsKey && match.ProtectedApiKey is null));
                continue;
            }
            var unique = name;
            for (var n = 2; here.Any(p => p.Name == unique); n++)
            {
                unique = $"{name} ({n})";
            }
            var now = time.GetUtcNow();
            // Keys never travel: the connection comes as it was, and using it is refused, with that said, until a key is added.
            var connection = new ProviderConnection
            {
                Id = Guid.CreateVersion7(now), Name = unique, Kind = kind, BaseUrl = baseUrl,
                Organization = Field<string?>(line, "Organization", where), Project = Field<string?>(line, "Project", where),
                CreatedAt = now.UtcDateTime, UpdatedAt = now.UtcDateTime,
            };
            here.Add(connection);
            plan.Added.Add(connection);
            plan.Map[id] = connection.Id;
            plan.Connections.Add(new BundleConnection(connection.Id, unique, kind, "added", needsKey));
        }
        return plan;
    }

    /// <summary>A bundle job that is here already under another id (imported from the provider, say) is that job.</summary>
    private static async Task<Dictionary<Guid, Guid>> MatchJobsAsync(StudioDbContext context, List<JsonObject> lines, Dictionary<Guid, Guid> providerMap, CancellationToken cancellationToken)
    {
        var here = await context.Jobs.AsNoTracking().Where(j => j.RemoteId != null).Select(j => new { j.Id, j.ProviderId, j.RemoteId }).ToListAsync(cancellationToken);
        var map = new Dictionary<Guid, Guid>();
        for (var i = 0; i < lines.Count; i++)
        {
            var where = $"tables/Jobs.jsonl line {i + 1}";
            var (id, provider, remote) = (Field<Guid>(lines[i], "Id", where), Field<Guid>(lines[i], "ProviderId", where), Field<string?>(lines[i], "RemoteId", where));
            provider = providerMap.GetValueOrDefault(provider, provider);
            if (remote is not null && here.FirstOrDefault(j => j.ProviderId == provider && j.RemoteId == remote) is { } same && same.Id != id)
            {
                map[id] = same.Id;
            }
        }
        return map;
    }

    /// <summary>Connection and job ids as this studio knows them, also inside a run's models and a session's columns.</summary>
    private static void Remap(JsonObject line, string table, Dictionary<Guid, Guid> providers, Dictionary<Guid, Guid> jobs)
    {
        static void Swap(JsonObject node, string field, Dictionary<Guid, Guid> map)
        {
            if (node[field] is JsonValue value && value.TryGetValue<string>(out var text) && Guid.TryParse(text, out var id) && map.TryGetValue(id, out var mapped))
            {
                node[field] = mapped;
            }
        }
        Swap(line, "ProviderId", providers);
        if (table == "Jobs")
        {
            Swap(line, "Id", jobs);
        }
        Swap(line, "JobId", jobs);
        Swap(line, "RerunOfJobId", jobs);
        foreach (var field in new[] { "ModelsJson", "StateJson" })
        {
            if (line[field] is JsonValue json && json.TryGetValue<string>(out var text) && JsonNode.Parse(text) is { } inner)
            {
                foreach (var node in Descendants(inner))
                {
                    Swap(node, "providerId", providers);
                    Swap(node, "ProviderId", providers);
                }
                line[field] = inner.ToJsonString();
            }
        }
    }

    private static IEnumerable<JsonObject> Descendants(JsonNode node) => node switch
    {
        JsonObject o => o.Select(p => p.Value).OfType<JsonNode>().SelectMany(Descendants).Prepend(o),
        JsonArray a => a.OfType<JsonNode>().SelectMany(Descendants),
        _ => [],
    };

    /// <summary>The values of a table's unique columns besides its identity (Idempotency-Keys), as this studio holds them.</summary>
    private static async Task<List<(IProperty Property, HashSet<object> Values)>> UniqueValuesAsync(StudioDbContext context, IEntityType entity, CancellationToken cancellationToken)
    {
        var result = new List<(IProperty, HashSet<object>)>();
        foreach (var index in entity.GetIndexes().Where(i => i.IsUnique && i.Properties.Count == 1 && i.Properties[0].IsNullable))
        {
            var property = index.Properties[0];
            var rows = await Tables.Single(t => t.Type == entity.ClrType).ReadAsync(context, cancellationToken);
            result.Add((property, rows.Select(r => property.GetGetter().GetClrValue(r)).OfType<object>().ToHashSet()));
        }
        return result;
    }

    /// <summary>Stages a new dataset's content from the bundle (its checksum checked twice: the manifest's and the dataset's own), unless it is here already.</summary>
    private async Task StageContentAsync(
        ZipArchive zip, Dictionary<string, BundleEntry> declared, Dataset dataset, JsonObject line, string where,
        List<(StagedFile Staged, string Extension)> stagedContent, HashSet<string> held, CancellationToken cancellationToken)
    {
        if (held.Contains(dataset.StoredFile) || stagedContent.Any(s => s.Staged.Sha256 == dataset.Sha256))
        {
            return; // here already, or staged for another dataset of the bundle with the same bytes
        }
        var extension = StoredFileName().Match(dataset.StoredFile).Groups["ext"].Value;
        var path = line[ContentField] is JsonValue content && content.TryGetValue<string>(out var text) ? text : throw Invalid($"{where}: the dataset names no content file.");
        var entry = Declared(declared, path, where);
        await using var stream = Bounded(zip, entry);
        var staged = await files.StageAsync(stream, extension, entry.Bytes, cancellationToken);
        stagedContent.Add((staged, extension));
        if (staged.Sha256 != entry.Sha256 || staged.Bytes != entry.Bytes || staged.Sha256 != dataset.Sha256)
        {
            throw Invalid($"{entry.Path} does not match its checksum: the bundle is damaged. Nothing was imported.");
        }
    }

    /// <summary>A dataset's stored file name, refused unless it is the content address of its SHA-256 (never a path).</summary>
    private static string CheckedStoredFile(Dataset dataset, string where)
    {
        var match = StoredFileName().Match(dataset.StoredFile);
        return match.Success && match.Groups["sha"].Value == dataset.Sha256 ? dataset.StoredFile
            : throw Invalid($"{where}: StoredFile \"{dataset.StoredFile}\" is not the content address of SHA-256 {dataset.Sha256}.");
    }

    [GeneratedRegex("^(?<sha>[0-9a-f]{64})(?<ext>\\.[a-z0-9]{1,10})?$")]
    private static partial Regex StoredFileName();

    private static BundleEntry Declared(Dictionary<string, BundleEntry> declared, string path, string where) =>
        declared.TryGetValue(path, out var entry) ? entry : throw Invalid($"{where}: names {path}, which is not in the bundle.");

    private static async Task<BundleManifest> ReadManifestAsync(ZipArchive zip, CancellationToken cancellationToken)
    {
        var entry = zip.GetEntry(ManifestPath) ?? throw Invalid("The zip has no manifest.json: it is not a Strawberry Phi bundle.");
        BundleManifest? manifest;
        try
        {
            await using var stream = entry.Open();
            manifest = await JsonSerializer.DeserializeAsync<BundleManifest>(stream, ManifestJson, cancellationToken);
        }
        catch (JsonException e)
        {
            throw Invalid($"manifest.json is not valid: {e.Message}");
        }
        if (manifest is null || manifest.Format != Format)
        {
            throw Invalid($"manifest.json does not say \"format\": \"{Format}\": the zip is not a Strawberry Phi bundle.");
        }
        if (manifest.Version > Version)
        {
            throw Invalid($"The bundle is of version {manifest.Version}; this studio reads version {Version}. Update this studio first.");
        }
        return manifest with { Schema = manifest.Schema ?? "", Entries = manifest.Entries ?? [] };
    }

    /// <summary>A bundle file's bytes, refused when its size or SHA-256 is not what the manifest says.</summary>
    private static async Task<byte[]> ReadVerifiedAsync(ZipArchive zip, BundleEntry entry, CancellationToken cancellationToken)
    {
        byte[] bytes;
        var read = 0;
        await using (var stream = Bounded(zip, entry))
        {
            if (entry.Bytes > Array.MaxLength)
            {
                throw Invalid($"{entry.Path} is {entry.Bytes:N0} bytes, more than one record file can be.");
            }
            bytes = new byte[entry.Bytes];
            int n;
            while (read < bytes.Length && (n = await stream.ReadAsync(bytes.AsMemory(read), cancellationToken)) > 0)
            {
                read += n;
            }
            read += await stream.ReadAsync(new byte[1], cancellationToken); // one byte more than declared: damaged
        }
        if (read != entry.Bytes || Convert.ToHexStringLower(SHA256.HashData(bytes)) != entry.Sha256)
        {
            throw Invalid($"{entry.Path} does not match its checksum: the bundle is damaged. Nothing was imported.");
        }
        return bytes;
    }

    /// <summary>A bundle file, read no further than its declared size (a file that inflates beyond it is damaged, or a bomb).</summary>
    private static Stream Bounded(ZipArchive zip, BundleEntry entry)
    {
        var file = zip.GetEntry(entry.Path) ?? throw Invalid($"The manifest lists {entry.Path}, which the zip does not hold: the bundle is incomplete.");
        if (file.Length != entry.Bytes)
        {
            throw Invalid($"{entry.Path} does not match its checksum: the bundle is damaged. Nothing was imported.");
        }
        return file.Open();
    }

    private static List<JsonObject> ParseLines(string path, byte[] bytes)
    {
        var lines = new List<JsonObject>();
        var number = 0;
        foreach (var line in Encoding.UTF8.GetString(bytes).Split('\n'))
        {
            number++;
            if (line.Length == 0)
            {
                continue;
            }
            try
            {
                lines.Add(JsonNode.Parse(line) as JsonObject ?? throw Invalid($"{path} line {number}: a row is a JSON object."));
            }
            catch (JsonException e)
            {
                throw Invalid($"{path} line {number}: not JSON ({e.Message}).");
            }
        }
        return lines;
    }

    private static JsonObject ToJson(IEntityType entity, object row)
    {
        var line = new JsonObject();
        foreach (var property in entity.GetProperties())
        {
            line[property.Name] = JsonSerializer.SerializeToNode(property.GetGetter().GetClrValue(row), property.ClrType, Values);
        }
        return line;
    }

    /// <summary>
    /// A row as an entity: every column set as it was (private setters included), except identities the database
    /// numbers. A column the bundle lacks keeps its default; a field this studio does not know is refused.
    /// </summary>
    private static object FromJson(IEntityType entity, JsonObject line, string where)
    {
        var row = Activator.CreateInstance(entity.ClrType)!;
        foreach (var (name, value) in line)
        {
            if (name.StartsWith('$'))
            {
                continue;
            }
            var property = entity.FindProperty(name)
                ?? throw Invalid($"{where}: the field {name} is unknown here (a bundle from a newer Strawberry Phi?).");
            if (property.IsPrimaryKey() && property.ClrType == typeof(long))
            {
                continue;
            }
            object? clr;
            try
            {
                clr = value?.Deserialize(property.ClrType, Values);
            }
            catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException)
            {
                throw Invalid($"{where}, field {name}: {e.Message}");
            }
            if (property.PropertyInfo is { } info)
            {
                info.SetValue(row, clr);
            }
            else
            {
                property.FieldInfo!.SetValue(row, clr);
            }
        }
        return row;
    }

    private static T Field<T>(JsonObject line, string name, string where)
    {
        try
        {
            return line[name] is { } value ? value.Deserialize<T>(Values)! : default!;
        }
        catch (JsonException e)
        {
            throw Invalid($"{where}, field {name}: {e.Message}");
        }
    }

    private static async Task WriteLinesAsync(ZipArchive zip, string path, IEnumerable<JsonObject> lines, List<BundleEntry> entries, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        foreach (var line in lines)
        {
            buffer.Write(JsonSerializer.SerializeToUtf8Bytes(line));
            buffer.WriteByte((byte)'\n');
        }
        await WriteEntryAsync(zip, path, buffer.ToArray(), entries, cancellationToken);
    }

    private static async Task WriteEntryAsync(ZipArchive zip, string path, byte[] bytes, List<BundleEntry>? entries, CancellationToken cancellationToken)
    {
        await using (var stream = zip.CreateEntry(path, CompressionLevel.Optimal).Open())
        {
            await stream.WriteAsync(bytes, cancellationToken);
        }
        entries?.Add(new BundleEntry(path, bytes.LongLength, Convert.ToHexStringLower(SHA256.HashData(bytes))));
    }

    private static async Task WriteFileAsync(ZipArchive zip, string path, string source, List<BundleEntry> entries, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 16];
        long total = 0;
        await using (var input = new FileStream(source, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan))
        await using (var output = zip.CreateEntry(path, CompressionLevel.Optimal).Open())
        {
            int read;
            while ((read = await input.ReadAsync(buffer, cancellationToken)) > 0)
            {
                hash.AppendData(buffer, 0, read);
                await output.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                total += read;
            }
        }
        entries.Add(new BundleEntry(path, total, Convert.ToHexStringLower(hash.GetHashAndReset())));
    }

    private static StudioException Invalid(string message) => StudioException.Invalid("file", message);

    /// <summary>A table of the bundle: its rows as this studio reads them, and what identifies a row.</summary>
    private sealed record BundleTable(string Name, Type Type, string[] Key, Func<StudioDbContext, CancellationToken, Task<List<object>>> ReadAsync)
    {
        public static BundleTable Of<T>(string name, Func<StudioDbContext, IQueryable<T>> query, params string[] key) where T : class =>
            new(name, typeof(T), key, async (context, cancellationToken) => [.. await query(context).AsNoTracking().ToListAsync(cancellationToken)]);

        public string KeyOf(IEntityType entity, object row) => string.Join('\u001f', Key.Select(k =>
            Convert.ToString(entity.FindProperty(k)!.GetGetter().GetClrValue(row), CultureInfo.InvariantCulture)));
    }
}

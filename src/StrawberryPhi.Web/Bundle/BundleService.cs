using System.Globalization;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
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
    /// <summary>What a row of the table is, in words ("metric point").</summary>
    public string Noun => Table switch
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
    };

    /// <summary>A count of the table's rows, in words ("3 metric points").</summary>
    public string Words(int count) => Core.Text.Plural.Of(count, Noun);
}

/// <param name="Outcome"><c>built-in</c> (the local engine here), <c>matched</c> (a connection here with the same id, or name, kind and address), or <c>added</c> (without a key).</param>
/// <param name="NeedsKey">The connection here has no API key: add one in Settings before it can be used.</param>
public sealed record BundleConnection(Guid Id, string Name, ProviderKind Kind, string Outcome, bool NeedsKey);

/// <param name="FilesWritten">Dataset files this import stored.</param>
/// <param name="FilesHeld">Dataset files of the bundle the studio held already (the same content).</param>
/// <param name="ModelsNotHere">Fine-tuned models of the local engine's jobs this import added that this studio's engine does
/// not have (another machine's engine trained them): their records came, the models did not; re-running a job makes its model here.</param>
public sealed record BundleImportResult(
    IReadOnlyList<BundleTableCount> Tables, IReadOnlyList<BundleConnection> Connections, int FilesWritten, int FilesHeld, IReadOnlyList<string> ModelsNotHere)
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
    EvalRunner evalRunner, Chat.ModelRouter router, StudioNotifier events, TimeProvider time, ILogger<BundleService> logger) : IDisposable
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

    private static JsonObject ToJson(IEntityType entity, object row)
    {
        var line = new JsonObject();
        foreach (var property in entity.GetProperties())
        {
            line[property.Name] = JsonSerializer.SerializeToNode(property.GetGetter().GetClrValue(row), property.ClrType, Values);
        }
        return line;
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

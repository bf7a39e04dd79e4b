using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata;
using StrawberryPhi.Providers;
using StrawberryPhi.Web.Data;
using StrawberryPhi.Web.Datasets;

namespace StrawberryPhi.Web.Bundle;

/// <summary>Import: the whole bundle checked and what is new collected, then stored in one transaction.</summary>
public sealed partial class BundleService
{
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
            await using var stream = new FileStream(staged.Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous);
            ZipArchive zip;
            try
            {
                zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
            }
            catch (InvalidDataException)
            {
                throw Invalid("This is not a zip file: a bundle is the zip that Export bundle on the inventory (or GET /api/bundle, or phi bundle export) makes.");
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
        // Every file, also those whose content this studio holds already: a damaged bundle is refused whole, whatever is here.
        foreach (var entry in manifest.Entries)
        {
            await VerifyAsync(zip, entry, cancellationToken);
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
            var here = await table.ReadAsync(context, cancellationToken);
            var existing = here.Select(r => table.KeyOf(entity, r)).ToHashSet(StringComparer.Ordinal);
            var taken = UniqueValues(entity, here);
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
                if (row is DatasetUpload upload && upload.ProviderId == plan.LocalId)
                {
                    continue; // a file of the other studio's engine: this studio's engine never had it, and uploads again when needed
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
        return new BundleImportResult(counts, plan.Connections, written, held.Count, await ModelsNotHereAsync(plan.LocalId, added[Array.FindIndex(Tables, t => t.Name == "Jobs")].Cast<FineTuneJob>(), cancellationToken));
    }

    /// <summary>The fine-tuned models of the jobs this import added on the local engine that this studio's engine does not list.</summary>
    private async Task<IReadOnlyList<string>> ModelsNotHereAsync(Guid local, IEnumerable<FineTuneJob> added, CancellationToken cancellationToken)
    {
        var models = added.Where(j => j.ProviderId == local).Select(j => j.FineTunedModel).OfType<string>().Distinct(StringComparer.Ordinal).ToList();
        if (models.Count == 0)
        {
            return [];
        }
        var listed = await router.ModelIdsAsync(local, cancellationToken) ?? new HashSet<string>();
        return [.. models.Where(m => !listed.Contains(m)).Order(StringComparer.Ordinal)];
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
    /// <param name="LocalId">This studio's local engine.</param>
    private sealed record ConnectionPlan(Dictionary<Guid, Guid> Map, List<ProviderConnection> Added, List<BundleConnection> Connections, Guid LocalId);

    /// <summary>
    /// Each bundle connection is this studio's local engine (when it was the bundle's), a connection here with the
    /// same id or the same name, kind and address, or else a new connection without a key (its name made unique).
    /// Nothing is stored yet.
    /// </summary>
    private async Task<ConnectionPlan> PlanConnectionsAsync(StudioDbContext context, List<JsonObject> lines, CancellationToken cancellationToken)
    {
        var here = await context.Providers.AsNoTracking().ToListAsync(cancellationToken);
        var plan = new ConnectionPlan([], [], [], here.Single(p => p.BuiltIn).Id);
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
            var match = builtIn ? here.Single(p => p.Id == plan.LocalId)
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
    private static List<(IProperty Property, HashSet<object> Values)> UniqueValues(IEntityType entity, List<object> here) =>
        [.. entity.GetIndexes().Where(i => i.IsUnique && i.Properties.Count == 1 && i.Properties[0].IsNullable)
            .Select(i => (i.Properties[0], here.Select(r => i.Properties[0].GetGetter().GetClrValue(r)).OfType<object>().ToHashSet()))];

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

    /// <summary>Reads a bundle file through, refusing it when its size or SHA-256 is not what the manifest says.</summary>
    private static async Task VerifyAsync(ZipArchive zip, BundleEntry entry, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 16];
        long total = 0;
        await using (var stream = Bounded(zip, entry))
        {
            int read;
            while (total <= entry.Bytes && (read = await stream.ReadAsync(buffer, cancellationToken)) > 0)
            {
                hash.AppendData(buffer, 0, read);
                total += read;
            }
        }
        if (total != entry.Bytes || Convert.ToHexStringLower(hash.GetHashAndReset()) != entry.Sha256)
        {
            throw Invalid($"{entry.Path} does not match its checksum: the bundle is damaged. Nothing was imported.");
        }
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
}

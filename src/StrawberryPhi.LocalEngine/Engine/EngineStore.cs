using System.Security.Cryptography;
using System.Text.Json;
using StrawberryPhi.Core;

namespace StrawberryPhi.LocalEngine.Engine;

/// <summary>
/// The engine's own records on disk, so they survive a restart: uploaded files, jobs (one JSON file each, replaced
/// atomically), events (append-only JSONL per job), checkpoints, and fine-tuned models (safetensors). Thread-safe.
/// </summary>
public sealed class EngineStore
{
    private readonly Lock _gate = new();
    private readonly string _files;
    private readonly string _jobs;
    private readonly string _models;
    private readonly string _uploads;

    private readonly TimeProvider _time;

    /// <param name="time">The clock ids are ordered by (FakeTimeProvider in tests).</param>
    public EngineStore(string dataDirectory, TimeProvider? time = null)
    {
        _time = time ?? TimeProvider.System;
        DataDirectory = Path.GetFullPath(dataDirectory);
        _files = Directory.CreateDirectory(Path.Combine(DataDirectory, "files")).FullName;
        _jobs = Directory.CreateDirectory(Path.Combine(DataDirectory, "jobs")).FullName;
        _models = Directory.CreateDirectory(Path.Combine(DataDirectory, "models")).FullName;
        _uploads = Directory.CreateDirectory(Path.Combine(DataDirectory, "uploads")).FullName;
    }

    public string DataDirectory { get; }

    private static long _lastTicks;

    /// <summary>
    /// A new id that sorts in creation order (monotonic UTC ticks, then randomness): lists are ordered by id, and
    /// "after" pagination can compare ids, even for records created within the same second.
    /// </summary>
    public string NewId(string prefix)
    {
        long last, ticks;
        do
        {
            last = Volatile.Read(ref _lastTicks);
            ticks = Math.Max(_time.GetUtcNow().UtcTicks, last + 1);
        }
        while (Interlocked.CompareExchange(ref _lastTicks, ticks, last) != last);
        return prefix + ticks.ToString("x16", System.Globalization.CultureInfo.InvariantCulture) + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
    }

    // Files

    public EngineFile AddFile(Stream content, string filename, string purpose, long now) => AddFile([content], filename, purpose, now);

    /// <summary>Stores one file made of <paramref name="parts"/> in order (an upload's parts are never joined in memory).</summary>
    private EngineFile AddFile(IEnumerable<Stream> parts, string filename, string purpose, long now)
    {
        var id = NewId("file-");
        var path = FileContentPath(id);
        using (var target = new FileStream(path + ".tmp", FileMode.CreateNew, FileAccess.Write))
        {
            foreach (var part in parts)
            {
                part.CopyTo(target);
            }
        }
        File.Move(path + ".tmp", path);
        var record = new EngineFile(id, new FileInfo(path).Length, now, filename, purpose);
        WriteJson(Path.Combine(_files, id + ".json"), record);
        return record;
    }

    public EngineFile? GetFile(string id) => ValidId(id) ? ReadJson<EngineFile>(Path.Combine(_files, id + ".json")) : null;

    public IReadOnlyList<EngineFile> ListFiles() => ReadAll<EngineFile>(_files, "*.json").OrderBy(f => f.CreatedAt).ToList();

    public string FileContentPath(string id) => Path.Combine(_files, id + ".jsonl");

    public bool DeleteFile(string id)
    {
        if (GetFile(id) is null)
        {
            return false;
        }
        File.Delete(Path.Combine(_files, id + ".json"));
        File.Delete(FileContentPath(id));
        return true;
    }

    // Jobs, events, checkpoints

    public void SaveJob(FineTuningJob job)
    {
        WriteJson(Path.Combine(_jobs, job.Id + ".json"), job);
        JobSaved?.Invoke(job);
    }

    /// <summary>Raised after an event is written (on the writer's thread): lets tests act at a given step.</summary>
    internal event Action<string, JobEvent>? EventAdded;

    /// <summary>Raised after a job's record is written: lets tests hold a writer at that point to force an interleaving.</summary>
    internal event Action<FineTuningJob>? JobSaved;

    public FineTuningJob? GetJob(string id) => ValidId(id) ? ReadJson<FineTuningJob>(Path.Combine(_jobs, id + ".json")) : null;

    /// <summary>Every job, newest first (the order of the jobs list).</summary>
    public IReadOnlyList<FineTuningJob> ListJobs() =>
        ReadAll<FineTuningJob>(_jobs, "ftjob-*.json").OrderByDescending(j => j.Id, StringComparer.Ordinal).ToList();

    public JobEvent AddEvent(string jobId, string level, string message, long now, IReadOnlyDictionary<string, double>? data = null)
    {
        var item = new JobEvent(NewId("ftevent-"), now, level, message, data is null ? "message" : "metrics", data);
        var line = JsonSerializer.Serialize(item, CoreJson.Options) + "\n";
        lock (_gate)
        {
            File.AppendAllText(Path.Combine(_jobs, jobId + ".events.jsonl"), line);
        }
        EventAdded?.Invoke(jobId, item);
        return item;
    }

    /// <summary>Events of a job, newest first (the order of the events list).</summary>
    public IReadOnlyList<JobEvent> ListEvents(string jobId)
    {
        var path = Path.Combine(_jobs, jobId + ".events.jsonl");
        lock (_gate)
        {
            if (!ValidId(jobId) || !File.Exists(path))
            {
                return [];
            }
            return File.ReadLines(path).Select(l => JsonSerializer.Deserialize<JobEvent>(l, CoreJson.Options)!).Reverse().ToList();
        }
    }

    public void AddCheckpoint(JobCheckpoint checkpoint)
    {
        lock (_gate)
        {
            var list = ListCheckpoints(checkpoint.FineTuningJobId).Reverse().Append(checkpoint).ToList();
            WriteJson(Path.Combine(_jobs, checkpoint.FineTuningJobId + ".checkpoints.json"), list);
        }
    }

    /// <summary>Checkpoints of a job, newest first.</summary>
    public IReadOnlyList<JobCheckpoint> ListCheckpoints(string jobId)
    {
        var list = ValidId(jobId) ? ReadJson<List<JobCheckpoint>>(Path.Combine(_jobs, jobId + ".checkpoints.json")) : null;
        return list is null ? [] : Enumerable.Reverse(list).ToList();
    }

    // Resume state: where a paused or interrupted job continues from (its weights, its optimizer, its steps).

    /// <summary>
    /// Saves a job's resume state: files written into a new directory (the step count last), which then replaces the
    /// old one, so a stop at any moment leaves one whole state (the new one, or the one before).
    /// </summary>
    public void SaveResumeState(string jobId, int step, Action<string> writeOptimizer, Action<string> writeModel)
    {
        var final = Path.Combine(_jobs, jobId + ".resume");
        var fresh = final + ".new";
        if (Directory.Exists(fresh))
        {
            Directory.Delete(fresh, recursive: true);
        }
        Directory.CreateDirectory(fresh);
        writeOptimizer(Path.Combine(fresh, "optimizer.bin"));
        writeModel(Path.Combine(fresh, "model.safetensors"));
        File.WriteAllText(Path.Combine(fresh, "step.txt"), step.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (Directory.Exists(final))
        {
            Directory.Delete(final, recursive: true);
        }
        Directory.Move(fresh, final);
    }

    /// <summary>The saved state of a job, or null: the steps done, and the paths of its optimizer state and weights.</summary>
    public (int Step, string Optimizer, string Model)? GetResumeState(string jobId)
    {
        if (!ValidId(jobId))
        {
            return null;
        }
        var final = Path.Combine(_jobs, jobId + ".resume");
        // A stop between removing the old state and moving the new one in leaves the new one, whole, under ".new".
        foreach (var directory in new[] { final, final + ".new" })
        {
            var stepFile = Path.Combine(directory, "step.txt");
            if (File.Exists(stepFile) && int.TryParse(File.ReadAllText(stepFile), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var step))
            {
                return (step, Path.Combine(directory, "optimizer.bin"), Path.Combine(directory, "model.safetensors"));
            }
        }
        return null;
    }

    public void DeleteResumeState(string jobId)
    {
        foreach (var directory in new[] { Path.Combine(_jobs, jobId + ".resume"), Path.Combine(_jobs, jobId + ".resume.new") })
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    // Models

    public string ModelFilePath(string name) => Path.Combine(_models, name + ".safetensors");

    public void AddModel(EngineModel model) => WriteJson(Path.Combine(_models, Key(model.Id) + ".json"), model with { File = Path.GetFileName(model.File) });

    public EngineModel? GetModel(string id)
    {
        var model = ReadJson<EngineModel>(Path.Combine(_models, Key(id) + ".json"));
        return model is null ? null : model with { File = model.File is null ? null : Path.Combine(_models, model.File) };
    }

    public IReadOnlyList<EngineModel> ListModels() =>
        ReadAll<EngineModel>(_models, "*.json").Select(m => m with { File = m.File is null ? null : Path.Combine(_models, m.File) })
            .OrderBy(m => m.Created).ThenBy(m => m.Id, StringComparer.Ordinal).ToList();

    public bool DeleteModel(string id)
    {
        var model = GetModel(id);
        if (model is null)
        {
            return false;
        }
        File.Delete(Path.Combine(_models, Key(id) + ".json"));
        if (model.File is not null)
        {
            File.Delete(model.File);
        }
        return true;
    }

    // Uploads in parts: uploads/{id}/upload.json and one {part id}.part per part.

    public EngineUpload AddUpload(string filename, string purpose, long bytes, long now)
    {
        var upload = new EngineUpload(NewId("upload_"), bytes, now, filename, purpose, "pending", null);
        Directory.CreateDirectory(Path.Combine(_uploads, upload.Id));
        WriteJson(UploadRecordPath(upload.Id), upload);
        return upload;
    }

    public EngineUpload? GetUpload(string id) => ValidId(id) ? ReadJson<EngineUpload>(UploadRecordPath(id)) : null;

    public string AddUploadPart(string uploadId, Stream content)
    {
        var partId = NewId("part_");
        var path = Path.Combine(_uploads, uploadId, partId + ".part");
        using (var target = new FileStream(path + ".tmp", FileMode.CreateNew, FileAccess.Write))
        {
            content.CopyTo(target);
        }
        File.Move(path + ".tmp", path);
        return partId;
    }

    /// <summary>The sizes of the named parts of an upload, or null naming the first part that is not one of them.</summary>
    public (IReadOnlyList<long>? Sizes, string? Missing) UploadPartSizes(string uploadId, IReadOnlyList<string> partIds)
    {
        var sizes = new List<long>();
        foreach (var partId in partIds)
        {
            var path = Path.Combine(_uploads, uploadId, partId + ".part");
            if (!ValidId(partId) || !File.Exists(path))
            {
                return (null, partId);
            }
            sizes.Add(new FileInfo(path).Length);
        }
        return (sizes, null);
    }

    /// <summary>Joins the parts in the order given into a new file, marks the upload completed and drops the parts.</summary>
    public (EngineUpload Upload, EngineFile File) CompleteUpload(EngineUpload upload, IReadOnlyList<string> partIds, long now)
    {
        var streams = partIds.Select(p => (Stream)File.OpenRead(Path.Combine(_uploads, upload.Id, p + ".part"))).ToList();
        EngineFile file;
        try
        {
            file = AddFile(streams, upload.Filename, upload.Purpose, now);
        }
        finally
        {
            streams.ForEach(s => s.Dispose());
        }
        return (EndUpload(upload with { Status = "completed", FileId = file.Id }), file);
    }

    public EngineUpload CancelUpload(EngineUpload upload) => EndUpload(upload with { Status = "cancelled" });

    private EngineUpload EndUpload(EngineUpload upload)
    {
        WriteJson(UploadRecordPath(upload.Id), upload);
        foreach (var part in Directory.EnumerateFiles(Path.Combine(_uploads, upload.Id), "*.part"))
        {
            File.Delete(part);
        }
        return upload;
    }

    private string UploadRecordPath(string id) => Path.Combine(_uploads, id, "upload.json");

    // Model ids hold ':' (ft:base:local:suffix:job); file names get a reversible, safe form.
    private static string Key(string id) => Convert.ToHexStringLower(System.Text.Encoding.UTF8.GetBytes(id));

    private static bool ValidId(string id) => id.Length is > 0 and < 100 && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');

    private void WriteJson<T>(string path, T value)
    {
        lock (_gate)
        {
            var temporary = path + ".tmp";
            File.WriteAllText(temporary, JsonSerializer.Serialize(value, CoreJson.Options));
            File.Move(temporary, path, overwrite: true);
        }
    }

    private T? ReadJson<T>(string path) where T : class
    {
        lock (_gate)
        {
            return File.Exists(path) ? JsonSerializer.Deserialize<T>(File.ReadAllText(path), CoreJson.Options) : null;
        }
    }

    private List<T> ReadAll<T>(string directory, string pattern) where T : class
    {
        lock (_gate)
        {
            return Directory.GetFiles(directory, pattern)
                .Where(p => !p.EndsWith(".checkpoints.json", StringComparison.Ordinal))
                .Select(p => JsonSerializer.Deserialize<T>(File.ReadAllText(p), CoreJson.Options)!)
                .ToList();
        }
    }
}

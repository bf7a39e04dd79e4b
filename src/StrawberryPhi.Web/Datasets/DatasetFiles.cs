using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using StrawberryPhi.Core.Datasets;

namespace StrawberryPhi.Web.Datasets;

/// <summary>A file written to the staging area, hashed on the way, ready to be kept content-addressed.</summary>
public sealed record StagedFile(string Path, string Sha256, long Bytes);

/// <summary>
/// Dataset content on disk: <c>datasets/{sha256}{ext}</c>, written once and never modified; a line index beside it
/// (<c>.lines</c>) for random access; a staging folder for uploads and derived files in progress.
/// </summary>
public sealed class DatasetFiles : IDisposable
{
    private readonly string _root;
    private readonly string _staging;
    private readonly RecentCache<LineIndex> _indexes = new(8);
    private readonly SemaphoreSlim _contentLock = new(1, 1);

    public DatasetFiles(IOptions<StudioOptions> options)
    {
        _root = options.Value.DatasetsDirectory;
        _staging = Path.Combine(_root, "staging");
        Directory.CreateDirectory(_staging);
    }

    public string PathOf(string storedFile) => Path.Combine(_root, storedFile);

    /// <summary>The path of stored content that is to be read; content removed outside the studio is said in words.</summary>
    public string ExistingPathOf(string storedFile)
    {
        var path = PathOf(storedFile);
        return File.Exists(path) ? path : throw new StudioException(StudioError.Conflict,
            $"The file of this dataset (datasets/{storedFile} in the data directory) is missing: it was moved or deleted outside the studio. Restore it, or delete the dataset.");
    }

    /// <summary>
    /// The line index of stored content: kept beside it on disk and, for the last few files, in memory, so paging
    /// does not read the index file again. Content is never modified, so an index never goes stale.
    /// </summary>
    public LineIndex LineIndexOf(string storedFile, CancellationToken cancellationToken) =>
        _indexes.Get(storedFile, () => LineIndex.OpenOrBuild(ExistingPathOf(storedFile), IndexPathOf(storedFile), cancellationToken));

    private string IndexPathOf(string storedFile) => Path.Combine(_root, storedFile + ".lines");

    /// <summary>A fresh staging path for a file being produced.</summary>
    public string NewStagingPath(string extension = ".jsonl") => Path.Combine(_staging, $"{Guid.NewGuid():N}{extension}");

    /// <summary>Streams <paramref name="source"/> to staging, hashing as it goes; more than <paramref name="maxBytes"/> is refused mid-stream.</summary>
    public async Task<StagedFile> StageAsync(Stream source, string extension, long maxBytes, CancellationToken cancellationToken)
    {
        var path = NewStagingPath(extension);
        try
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = new byte[1 << 16];
            long total = 0;
            await using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.Asynchronous))
            {
                int read;
                while ((read = await source.ReadAsync(buffer, cancellationToken)) > 0)
                {
                    total += read;
                    if (total > maxBytes)
                    {
                        throw new StudioException(StudioError.TooLarge, $"The file is larger than the upload limit of {ByteSize.Format(maxBytes)} (setting Studio:MaxUploadBytes).");
                    }
                    hash.AppendData(buffer, 0, read);
                    await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                }
            }
            return new StagedFile(path, Convert.ToHexStringLower(hash.GetHashAndReset()), total);
        }
        catch
        {
            File.Delete(path);
            throw;
        }
    }

    /// <summary>Hashes a file produced in staging (by a conversion, a split…).</summary>
    public static async Task<StagedFile> HashAsync(string path, CancellationToken cancellationToken)
    {
        await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
        var sha = await SHA256.HashDataAsync(file, cancellationToken);
        return new StagedFile(path, Convert.ToHexStringLower(sha), file.Length);
    }

    /// <summary>
    /// Moves a staged file to its content address (or drops it when that content is already kept) and records the
    /// dataset that uses it, as one step: content is shared by datasets with the same bytes, so a delete that ran in
    /// between could remove the file the new dataset has just been given. New content is removed again when the
    /// record fails.
    /// </summary>
    public Task<T> KeepAsync<T>(StagedFile staged, string extension, Func<string, Task<T>> record, CancellationToken cancellationToken) =>
        KeepAllAsync([(staged, extension)], () => record(staged.Sha256 + extension), cancellationToken);

    /// <summary>
    /// <see cref="KeepAsync{T}"/> for several files recorded together (a bundle's datasets): every staged file is
    /// moved to its content address (or dropped where that content is kept already), then <paramref name="record"/>
    /// runs; when it fails, the content this call added is removed again.
    /// </summary>
    public async Task<T> KeepAllAsync<T>(IReadOnlyList<(StagedFile Staged, string Extension)> staged, Func<Task<T>> record, CancellationToken cancellationToken)
    {
        await _contentLock.WaitAsync(cancellationToken);
        var added = new List<string>();
        try
        {
            foreach (var (file, extension) in staged)
            {
                var stored = file.Sha256 + extension;
                if (File.Exists(PathOf(stored)))
                {
                    File.Delete(file.Path);
                }
                else
                {
                    File.Move(file.Path, PathOf(stored));
                    added.Add(stored);
                }
            }
            return await record();
        }
        catch
        {
            added.ForEach(Delete);
            foreach (var (file, _) in staged)
            {
                File.Delete(file.Path);
            }
            throw;
        }
        finally
        {
            _contentLock.Release();
        }
    }

    /// <summary>
    /// Forgets a dataset (<paramref name="forget"/> removes its row and says whether another dataset still uses the
    /// content) and deletes the content when none does, as one step with <see cref="KeepAsync{T}"/>.
    /// </summary>
    public async Task ForgetAsync(string storedFile, Func<Task<bool>> forget, CancellationToken cancellationToken)
    {
        await _contentLock.WaitAsync(cancellationToken);
        try
        {
            if (!await forget())
            {
                Delete(storedFile);
            }
        }
        finally
        {
            _contentLock.Release();
        }
    }

    private void Delete(string storedFile)
    {
        _indexes.Remove(storedFile);
        File.Delete(PathOf(storedFile));
        File.Delete(IndexPathOf(storedFile));
    }

    /// <summary>Leftovers of uploads or conversions cut short by a stop.</summary>
    public void ClearStaging()
    {
        foreach (var file in Directory.EnumerateFiles(_staging))
        {
            File.Delete(file);
        }
    }

    public void Dispose() => _contentLock.Dispose();
}

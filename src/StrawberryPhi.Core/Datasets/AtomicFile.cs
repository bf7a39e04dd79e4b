namespace StrawberryPhi.Core.Datasets;

/// <summary>
/// Writes a file so that it appears whole or not at all: the bytes go to a temporary file beside the target,
/// which replaces the target only on <see cref="Commit"/>. Disposing without committing removes the temporary file.
/// </summary>
public sealed class AtomicFile : IDisposable
{
    private readonly string _temporary;
    private bool _committed;

    public AtomicFile(string path)
    {
        Path = System.IO.Path.GetFullPath(path);
        _temporary = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(Path)!, $".{System.IO.Path.GetFileName(Path)}.{Guid.NewGuid():N}.tmp");
        Stream = new FileStream(_temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
    }

    public string Path { get; }

    public FileStream Stream { get; }

    public void Commit()
    {
        Stream.Flush(flushToDisk: true);
        Stream.Dispose();
        File.Move(_temporary, Path, overwrite: true);
        _committed = true;
    }

    public void Dispose()
    {
        Stream.Dispose();
        if (!_committed)
        {
            File.Delete(_temporary);
        }
    }
}

namespace StrawberryPhi.Web;

/// <summary>
/// One studio per data directory. A second one would mark the first one's uploads as interrupted, clear the staging
/// folder under its running uploads and queue its validations again, so it stops before touching anything. The lock
/// is an exclusive open of <c>studio.lock</c> (an advisory <c>flock</c> on Unix), released by the system when the
/// process ends, however it ends.
/// </summary>
internal sealed class DataDirectoryLock : IDisposable
{
    private readonly FileStream _file;

    private DataDirectoryLock(FileStream file) => _file = file;

    /// <exception cref="StudioStartException">Another process holds the data directory.</exception>
    public static DataDirectoryLock Acquire(string dataDirectory)
    {
        try
        {
            return new DataDirectoryLock(new FileStream(Path.Combine(dataDirectory, "studio.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
        }
        catch (IOException)
        {
            throw new StudioStartException(
                $"Another Strawberry Phi studio is using the data directory {dataDirectory}. Open that one in the browser, stop it first, " +
                "or start this one with its own data directory (--DataDirectory /path).");
        }
    }

    public void Dispose() => _file.Dispose();
}

/// <summary>A reason the studio cannot start, said in one sentence (no stack trace).</summary>
public sealed class StudioStartException(string message) : Exception(message);

using System.Text;
using Microsoft.Extensions.Options;
using StrawberryPhi.Web.Datasets;

namespace StrawberryPhi.Web.Tests.Integration;

public sealed class DatasetFilesTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("phi-files-").FullName;
    private readonly DatasetFiles _files;

    public DatasetFilesTests() => _files = new DatasetFiles(Options.Create(new StudioOptions { DataDirectory = _directory }));

    public void Dispose()
    {
        _files.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    private Task<StagedFile> StageAsync(string text) =>
        _files.StageAsync(new MemoryStream(Encoding.UTF8.GetBytes(text)), ".jsonl", 1 << 20, CancellationToken.None);

    [Fact]
    public async Task Forget_WhileTheSameBytesAreBeingKept_WaitsAndLeavesTheFileToTheNewDataset()
    {
        // A dataset already keeps the content; the same bytes arrive again while that dataset is being deleted.
        var stored = await _files.KeepAsync(await StageAsync("same bytes\n"), ".jsonl", Task.FromResult, CancellationToken.None);
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var steps = new List<string>();
        var newUser = false;

        var keeping = _files.KeepAsync(await StageAsync("same bytes\n"), ".jsonl", async s =>
        {
            steps.Add("record starts");
            entered.SetResult();
            await release.Task;
            newUser = true; // the new dataset's row is in
            steps.Add("record done");
            return s;
        }, CancellationToken.None);
        await entered.Task.WaitAsync(StudioHost.Timeout);

        // The delete asks whether another dataset uses the content: only after the new row is in may it answer.
        var forgetting = _files.ForgetAsync(stored, () =>
        {
            steps.Add("forget");
            return Task.FromResult(newUser);
        }, CancellationToken.None);
        release.SetResult();
        await Task.WhenAll(keeping, forgetting).WaitAsync(StudioHost.Timeout);

        Assert.Equal(["record starts", "record done", "forget"], steps);
        Assert.True(File.Exists(_files.PathOf(stored)));
    }

    [Fact]
    public async Task Keep_RecordFails_NewContentIsRemovedButSharedContentStays()
    {
        var shared = await _files.KeepAsync(await StageAsync("shared\n"), ".jsonl", Task.FromResult, CancellationToken.None);

        static Task<string> Fails(string stored) => throw new InvalidOperationException("the database refused the row");
        var fresh = await StageAsync("fresh\n");
        var again = await StageAsync("shared\n");

        await Assert.ThrowsAsync<InvalidOperationException>(() => _files.KeepAsync(fresh, ".jsonl", Fails, CancellationToken.None));
        await Assert.ThrowsAsync<InvalidOperationException>(() => _files.KeepAsync(again, ".jsonl", Fails, CancellationToken.None));

        Assert.Equal([_files.PathOf(shared)], Directory.GetFiles(Path.Combine(_directory, "datasets"), "*.jsonl"));
        Assert.Empty(Directory.GetFiles(Path.Combine(_directory, "datasets", "staging")));
    }
}

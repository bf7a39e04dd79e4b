using StrawberryPhi.Web.Data;

namespace StrawberryPhi.Web.Tests.Data;

public sealed class EntityTransitionTests
{
    private static readonly DateTime At = new(2026, 12, 1, 12, 0, 0, DateTimeKind.Utc);

    private static Dataset NewDataset() => new() { Id = Guid.NewGuid(), Name = "d", FileName = "d.jsonl", StoredFile = "x.jsonl", Sha256 = "00", Format = "ChatJsonl", Origin = "upload" };

    private static DatasetUpload NewUpload() => new() { Id = Guid.NewGuid(), RemoteFileName = "d.000000000000.jsonl" };

    [Fact]
    public void Dataset_ValidatedThenRevalidatedThenFailed_FollowsItsLifecycle()
    {
        var dataset = NewDataset();
        Assert.Equal(DatasetStatus.Validating, dataset.Status);

        dataset.MarkValidated("{}", 12, 13, 1, 0, 2, 300, At, 40);
        Assert.Equal((DatasetStatus.Ready, 12L, 1L), (dataset.Status, dataset.Examples, dataset.Errors));

        dataset.MarkValidating();
        dataset.MarkFailed("The dataset file could not be read.");
        Assert.Equal((DatasetStatus.Failed, "The dataset file could not be read."), (dataset.Status, dataset.StatusMessage));

        dataset.MarkValidating(); // "Validate again"
        Assert.Null(dataset.StatusMessage);
    }

    [Fact]
    public void Dataset_IllegalMoves_AreRefused()
    {
        var source = NewDataset();
        source.MarkNeedsImport("CSV: import it.");
        Assert.Throws<InvalidOperationException>(source.MarkValidating); // a source is imported, never validated itself
        Assert.Throws<InvalidOperationException>(() => source.MarkFailed("x"));

        var ready = NewDataset();
        ready.MarkValidated("{}", 1, 1, 0, 0, 0, 1, At, 1);
        Assert.Throws<InvalidOperationException>(() => ready.MarkValidated("{}", 1, 1, 0, 0, 0, 1, At, 1));
        Assert.Throws<InvalidOperationException>(() => ready.MarkFailed("x"));
        Assert.Throws<InvalidOperationException>(() => ready.MarkNeedsImport("x"));
        Assert.Equal(DatasetStatus.Ready, ready.Status);
    }

    [Fact]
    public void Upload_FailedThenRetriedThenUploaded_CountsItsAttempts()
    {
        var upload = NewUpload();
        Assert.Equal((UploadStatus.Uploading, 1), (upload.Status, upload.Attempts));

        upload.MarkFailed("The provider had an internal error (503).");
        upload.MarkRetrying();
        Assert.Equal((UploadStatus.Uploading, 2, (string?)null), (upload.Status, upload.Attempts, upload.Error));

        upload.MarkUploaded("file-abc", At);
        Assert.Equal((UploadStatus.Uploaded, "file-abc", At), (upload.Status, upload.RemoteFileId, upload.CompletedAt!.Value));
    }

    [Fact]
    public void Upload_IllegalMoves_AreRefused()
    {
        var upload = NewUpload();
        upload.MarkUploaded("file-abc", At);

        Assert.Throws<InvalidOperationException>(upload.MarkRetrying); // never sent again once there
        Assert.Throws<InvalidOperationException>(() => upload.MarkFailed("x"));
        Assert.Throws<InvalidOperationException>(() => NewUpload().MarkRetrying());
        Assert.Equal(UploadStatus.Uploaded, upload.Status);
    }
}

using System.ClientModel;
using System.Text;
using System.Text.Json;
using OpenAI.Chat;
using OpenAI.Files;
using OpenAI.FineTuning;

namespace StrawberryPhi.LocalEngine.Tests;

/// <summary>Files and fine-tuning jobs through the official SDK: upload, train, follow, use the result, clean up.</summary>
public sealed class FineTuningContractTests(EngineHost host) : IClassFixture<EngineHost>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);

    /// <summary>This SDK version has no typed fine_tuned_model or error on a job; its raw response has them.</summary>
    private static JsonElement Raw(FineTuningJob job) => JsonDocument.Parse(job.GetRawResponse().Content).RootElement;

    private static BinaryData TrainingData(int count) => BinaryData.FromString(string.Join("\n",
        ArithmeticReflectionData.Pairs(3, count).Select(p => JsonSerializer.Serialize(new
        {
            messages = ArithmeticReflectionData.Example(p.A, p.B, withReflection: false).Select(m => new { role = m.Role, content = m.Content }),
        }))) + "\n");

    [Fact]
    public async Task Uploads_InParts_JoinInTheGivenOrder_AndRefuseWrongSizesOrParts()
    {
        var files = host.Client().GetOpenAIFileClient();
        async Task<string> Create(long bytes) => Id(await files.CreateUploadAsync(BinaryContent.Create(BinaryData.FromObjectAsJson(new { purpose = "fine-tune", filename = "parts.jsonl", bytes }))).WaitAsync(Timeout));
        async Task<string> Part(string upload, string text)
        {
            using var form = new System.Net.Http.MultipartFormDataContent("b0undary");
            form.Add(new System.Net.Http.ByteArrayContent(Encoding.UTF8.GetBytes(text)), "data", "part");
            return Id(await files.AddUploadPartAsync(upload, BinaryContent.Create(BinaryData.FromBytes(await form.ReadAsByteArrayAsync())), "multipart/form-data; boundary=b0undary").WaitAsync(Timeout));
        }
        static string Id(ClientResult result) => JsonDocument.Parse(result.GetRawResponse().Content).RootElement.GetProperty("id").GetString()!;
        Task<ClientResult> Complete(string upload, params string[] parts) =>
            files.CompleteUploadAsync(upload, BinaryContent.Create(BinaryData.FromObjectAsJson(new { part_ids = parts }))).WaitAsync(Timeout);

        var upload = await Create(6);
        var first = await Part(upload, "abc");
        var second = await Part(upload, "def");
        var wrongSize = await Assert.ThrowsAsync<ClientResultException>(() => Complete(upload, first));
        Assert.Contains("add up to 3 bytes", wrongSize.Message, StringComparison.Ordinal);
        var foreign = await Assert.ThrowsAsync<ClientResultException>(() => Complete(upload, first, "part_nope"));
        Assert.Contains("part_nope does not belong", foreign.Message, StringComparison.Ordinal);

        var done = JsonDocument.Parse((await Complete(upload, second, first)).GetRawResponse().Content).RootElement;
        Assert.Equal("completed", done.GetProperty("status").GetString());
        var content = await files.DownloadFileAsync(done.GetProperty("file").GetProperty("id").GetString()!).WaitAsync(Timeout);
        Assert.Equal("defabc", content.Value.ToString());
        var again = await Assert.ThrowsAsync<ClientResultException>(() => Complete(upload, second, first));
        Assert.Contains("already completed", again.Message, StringComparison.Ordinal);

        var cancelled = await Create(10);
        await files.CancelUploadAsync(cancelled).WaitAsync(Timeout);
        var late = await Assert.ThrowsAsync<ClientResultException>(() => Part(cancelled, "x"));
        Assert.Contains("already cancelled", late.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Files_UploadListGetContentDelete()
    {
        var files = host.Client().GetOpenAIFileClient();
        var data = TrainingData(10);
        var uploaded = (await files.UploadFileAsync(data, "train.jsonl", FileUploadPurpose.FineTune).WaitAsync(Timeout)).Value;
        Assert.StartsWith("file-", uploaded.Id);
        Assert.Equal(data.ToArray().Length, uploaded.SizeInBytes);
        Assert.Equal("train.jsonl", uploaded.Filename);

        Assert.Contains((await files.GetFilesAsync().WaitAsync(Timeout)).Value, f => f.Id == uploaded.Id);
        Assert.Equal(uploaded.Id, (await files.GetFileAsync(uploaded.Id).WaitAsync(Timeout)).Value.Id);
        Assert.Equal(data.ToArray(), (await files.DownloadFileAsync(uploaded.Id).WaitAsync(Timeout)).Value.ToArray());
        Assert.True((await files.DeleteFileAsync(uploaded.Id).WaitAsync(Timeout)).Value.Deleted);
        var gone = await Assert.ThrowsAsync<ClientResultException>(() => files.GetFileAsync(uploaded.Id).WaitAsync(Timeout));
        Assert.Equal(404, gone.Status);

        var wrongType = await Assert.ThrowsAsync<ClientResultException>(() => files.UploadFileAsync(data, "train.csv", FileUploadPurpose.FineTune).WaitAsync(Timeout));
        Assert.Equal(400, wrongType.Status);
        Assert.Contains("invalid_file_format", wrongType.Message);
    }

    [Fact]
    public async Task Job_CreateFollowUseAndDelete()
    {
        var client = host.Client();
        var file = (await client.GetOpenAIFileClient().UploadFileAsync(TrainingData(24), "train.jsonl", FileUploadPurpose.FineTune).WaitAsync(Timeout)).Value;
        var options = new FineTuningOptions
        {
            Suffix = "sdk",
            Seed = 7,
            TrainingMethod = FineTuningTrainingMethod.CreateSupervised(batchSize: 8, epochCount: 2),
        };
        options.Metadata["purpose"] = "contract-test";
        var tuning = client.GetFineTuningClient();
        var job = await tuning.FineTuneAsync("strawberry-tiny", file.Id, waitUntilCompleted: false, options).WaitAsync(Timeout);
        Assert.StartsWith("ftjob-", job.JobId);
        Assert.Equal("strawberry-tiny", job.BaseModel);

        using var deadline = new CancellationTokenSource(Timeout);
        await job.WaitForCompletionAsync(deadline.Token);
        Assert.Equal(FineTuningStatus.Succeeded, job.Status);
        var fineTuned = Raw(job).GetProperty("fine_tuned_model").GetString()!;
        Assert.Equal($"ft:strawberry-tiny:local:sdk:{job.JobId}", fineTuned);
        Assert.Equal(7, job.Seed);
        Assert.True(Raw(job).GetProperty("trained_tokens").GetInt32() > 0);

        var listed = new List<FineTuningJob>();
        await foreach (var item in tuning.GetJobsAsync(new FineTuningJobCollectionOptions { PageSize = 1 }, deadline.Token))
        {
            listed.Add(item);
        }
        Assert.Contains(listed, j => j.JobId == job.JobId);

        var events = new List<FineTuningEvent>();
        await foreach (var e in job.GetEventsAsync(new GetEventsOptions { PageSize = 5 }, deadline.Token))
        {
            events.Add(e);
        }
        Assert.Equal(6, events.Count(e => e.Kind == FineTuningJobEventKind.Metrics)); // 3 steps × 2 epochs
        Assert.Contains(events, e => e.Message == "The job has successfully completed.");

        var checkpoints = new List<FineTuningCheckpoint>();
        await foreach (var c in job.GetCheckpointsAsync(cancellationToken: deadline.Token))
        {
            checkpoints.Add(c);
        }
        Assert.Equal([6, 3], checkpoints.Select(c => c.StepNumber));
        Assert.Equal(6, checkpoints[0].Metrics.StepNumber);

        // The fine-tuned model and its checkpoints serve chat.
        Assert.Equal($"{fineTuned}:ckpt-step-3", checkpoints[1].ModelId);
        foreach (var model in checkpoints.Select(c => c.ModelId).Append(fineTuned))
        {
            var reply = (await client.GetChatClient(model).CompleteChatAsync(
                [new UserChatMessage("12+34=?")], new ChatCompletionOptions { MaxOutputTokenCount = 8, Temperature = 0f }).WaitAsync(Timeout)).Value;
            Assert.Equal(model, reply.Model);
        }
        var models = client.GetOpenAIModelClient();
        Assert.True((await models.DeleteModelAsync(fineTuned).WaitAsync(Timeout)).Value.Deleted);
        var deleted = await Assert.ThrowsAsync<ClientResultException>(() => models.GetModelAsync(fineTuned).WaitAsync(Timeout));
        Assert.Equal(404, deleted.Status);
    }

    [Fact]
    public async Task Job_BadFileFailsWithReason_AndCancel()
    {
        var client = host.Client();
        var lines = TrainingData(12).ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();
        lines[4] = """{"messages":[{"role":"user","content":"hi"}]}""";
        var bad = (await client.GetOpenAIFileClient().UploadFileAsync(BinaryData.FromString(string.Join("\n", lines)), "bad.jsonl", FileUploadPurpose.FineTune).WaitAsync(Timeout)).Value;
        var tuning = client.GetFineTuningClient();
        var failed = await tuning.FineTuneAsync("strawberry-tiny", bad.Id, waitUntilCompleted: false).WaitAsync(Timeout);
        using var deadline = new CancellationTokenSource(Timeout);
        await failed.WaitForCompletionAsync(deadline.Token);
        Assert.Equal(FineTuningStatus.Failed, failed.Status);
        var error = Raw(failed).GetProperty("error");
        Assert.Equal("invalid_training_file", error.GetProperty("code").GetString());
        Assert.Contains("line 5", error.GetProperty("message").GetString());
        Assert.Contains("example_missing_assistant_message", error.GetProperty("message").GetString());

        var big = (await client.GetOpenAIFileClient().UploadFileAsync(TrainingData(300), "big.jsonl", FileUploadPurpose.FineTune).WaitAsync(Timeout)).Value;
        var long_ = await tuning.FineTuneAsync("strawberry-tiny", big.Id, waitUntilCompleted: false,
            new FineTuningOptions { TrainingMethod = FineTuningTrainingMethod.CreateSupervised(batchSize: 2, epochCount: 50) }).WaitAsync(Timeout);
        await long_.CancelAndUpdateAsync(deadline.Token);
        Assert.Equal(FineTuningStatus.Cancelled, long_.Status);

        var unknown = await Assert.ThrowsAsync<ClientResultException>(() => tuning.FineTuneAsync("gpt-5", big.Id, waitUntilCompleted: false).WaitAsync(Timeout));
        Assert.Equal(400, unknown.Status);
        Assert.Contains("model_not_found", unknown.Message);
        var missing = await Assert.ThrowsAsync<ClientResultException>(() => tuning.GetJobAsync("ftjob-nope").WaitAsync(Timeout));
        Assert.Equal(404, missing.Status);
    }
}

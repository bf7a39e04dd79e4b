using System.Text.Json;
using Parquet;
using Parquet.Schema;
using StrawberryPhi.Core.Datasets;
using StrawberryPhi.Core.Import;
using StrawberryPhi.Core.Transform;
using StrawberryPhi.Core.Validation;

namespace StrawberryPhi.Core.Tests.Import;

public class ImportTests
{
    private static List<JsonElement> ReadJsonl(string path) =>
        File.ReadAllLines(path).Select(l => JsonDocument.Parse(l).RootElement).ToList();

    private static string Content(JsonElement example, int message) =>
        example.GetProperty("messages")[message].GetProperty("content").GetString()!;

    [Fact]
    public async Task ConvertAsync_CsvAutoMapping_WritesChatAndReportsBadRowsByLine()
    {
        using var dir = new TempDirectory();
        var input = dir.Write("qa.csv", "question,answer,system\nWhat is 2+2?,4,Be brief.\n\"Multi\nline?\",\"yes, it is\",\n,empty prompt,\nLast?,ok,\n");
        var result = await DatasetConverter.ConvertAsync(input, dir.File("out.jsonl"), DatasetFormat.Unknown, ColumnMapping.Auto, null);

        Assert.Equal(DatasetFormat.Csv, result.From);
        Assert.Contains("prompt=question, response=answer, system=system", result.Source);
        Assert.Equal(3, result.Written);
        Assert.Equal(1, result.Skipped);
        var issue = Assert.Single(result.Issues);
        Assert.Equal(5, issue.Line);
        Assert.Contains("prompt (column \"question\") is empty", issue.Message);

        var examples = ReadJsonl(dir.File("out.jsonl"));
        Assert.Equal("Be brief.", Content(examples[0], 0));
        Assert.Equal("What is 2+2?", Content(examples[0], 1));
        Assert.Equal("4", Content(examples[0], 2));
        Assert.Equal("Multi\nline?", Content(examples[1], 0));
        Assert.Equal(2, examples[1].GetProperty("messages").GetArrayLength());
    }

    [Fact]
    public async Task ConvertAsync_CsvExplicitMappingToMissingColumn_ThrowsWithColumns()
    {
        using var dir = new TempDirectory();
        var input = dir.Write("qa.csv", "q,a\nx,y\n");
        var e = await Assert.ThrowsAsync<ImportException>(() => DatasetConverter.ConvertAsync(input, dir.File("out.jsonl"), DatasetFormat.Csv, ColumnMapping.Parse("prompt=question,response=a"), null));
        Assert.Equal("The prompt column \"question\" does not exist; the columns are: q, a.", e.Message);
        Assert.False(File.Exists(dir.File("out.jsonl")));
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp"));
    }

    [Fact]
    public async Task ConvertAsync_CsvUnguessableColumns_AsksForTheColumn()
    {
        using var dir = new TempDirectory();
        var input = dir.Write("qa.csv", "left,right\nx,y\n");
        var e = await Assert.ThrowsAsync<ImportException>(() => DatasetConverter.ConvertAsync(input, dir.File("out.jsonl"), DatasetFormat.Csv, ColumnMapping.Auto, null));
        Assert.Equal("Cannot tell which column holds the prompt; the columns are: left, right. Choose the prompt column.", e.Message);
        var ok = await DatasetConverter.ConvertAsync(input, dir.File("out.jsonl"), DatasetFormat.Csv, ColumnMapping.Parse("prompt=left,response=right"), null);
        Assert.Equal(1, ok.Written);
    }

    [Fact]
    public async Task ConvertAsync_AlpacaJsonArray_JoinsInstructionAndInput()
    {
        using var dir = new TempDirectory();
        var input = dir.Write("alpaca.json", """
            [
              {"instruction": "Translate to French.", "input": "cat", "output": "chat"},
              {"instruction": "Say hi.", "input": "", "output": "hi"},
              {"instruction": "No output.", "input": ""}
            ]
            """);
        var result = await DatasetConverter.ConvertAsync(input, dir.File("out.jsonl"), DatasetFormat.Unknown, ColumnMapping.Auto, null);
        Assert.Equal(DatasetFormat.AlpacaJson, result.From);
        Assert.Equal(2, result.Written);
        Assert.Equal("$[2].output", Assert.Single(result.Issues).Path);
        var examples = ReadJsonl(dir.File("out.jsonl"));
        Assert.Equal("Translate to French.\n\ncat", Content(examples[0], 0));
        Assert.Equal("Say hi.", Content(examples[1], 0));
    }

    [Fact]
    public async Task ConvertAsync_ShareGptJsonl_MapsSpeakersAndRejectsUnknownByLine()
    {
        using var dir = new TempDirectory();
        var input = dir.WriteLines("sg.jsonl", [
            """{"conversations":[{"from":"system","value":"Be kind."},{"from":"human","value":"Hi"},{"from":"gpt","value":"Hello"}]}""",
            """{"conversations":[{"from":"narrator","value":"Once"}]}""",
        ]);
        var result = await DatasetConverter.ConvertAsync(input, dir.File("out.jsonl"), DatasetFormat.Unknown, ColumnMapping.Auto, null);
        Assert.Equal(DatasetFormat.ShareGptJsonl, result.From);
        Assert.Equal(1, result.Written);
        var issue = Assert.Single(result.Issues);
        Assert.Equal((2L, "$.conversations[0].from"), (issue.Line, issue.Path));
        var roles = ReadJsonl(dir.File("out.jsonl"))[0].GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("role").GetString());
        Assert.Equal(["system", "user", "assistant"], roles);
    }

    [Fact]
    public async Task ConvertAsync_Parquet_ReadsMappedStringColumnsAcrossRowGroups()
    {
        using var dir = new TempDirectory();
        var path = dir.File("hf.parquet");
        var prompt = new DataField<string>("prompt");
        var response = new DataField<string>("response");
        var id = new DataField<int>("id");
        await using (var stream = File.Create(path))
        await using (var writer = await ParquetWriter.CreateAsync(new ParquetSchema(id, prompt, response), stream))
        {
            for (var group = 0; group < 2; group++)
            {
                using var rowGroup = writer.CreateRowGroup();
                await rowGroup.WriteAsync(id, new ReadOnlyMemory<int>([group * 2, group * 2 + 1]));
                await rowGroup.WriteAsync(prompt, [$"q{group}a", group == 1 ? null : $"q{group}b"]);
                await rowGroup.WriteAsync(response, [$"r{group}a", $"r{group}b"]);
            }
        }
        var result = await DatasetConverter.ConvertAsync(path, dir.File("out.jsonl"), DatasetFormat.Unknown, ColumnMapping.Auto, null);
        Assert.Equal(DatasetFormat.Parquet, result.From);
        Assert.Equal(3, result.Written);
        Assert.Equal(4, Assert.Single(result.Issues).Line);
        Assert.Equal("r1a", Content(ReadJsonl(dir.File("out.jsonl"))[2], 1));

        var wrongType = await Assert.ThrowsAsync<ImportException>(() => DatasetConverter.ConvertAsync(path, dir.File("x.jsonl"), DatasetFormat.Parquet, ColumnMapping.Parse("prompt=id,response=response"), null));
        Assert.Contains("Column \"id\" holds Int32", wrongType.Message);
    }

    [Fact]
    public async Task ConvertAsync_NotParquet_ClearError()
    {
        using var dir = new TempDirectory();
        var path = dir.WriteBytes("bad.parquet", "PAR1garbage"u8.ToArray());
        var e = await Assert.ThrowsAsync<ImportException>(() => DatasetConverter.ConvertAsync(path, dir.File("out.jsonl"), DatasetFormat.Unknown, ColumnMapping.Auto, null));
        Assert.StartsWith("Not a readable Parquet file", e.Message);
    }

    [Fact]
    public async Task ConvertAsync_ImportedCsv_ValidatesClean()
    {
        using var dir = new TempDirectory();
        var rows = Enumerable.Range(0, 12).Select(i => $"What is {i}+1?,{i + 1}");
        var input = dir.WriteLines("qa.csv", rows.Prepend("prompt,response"));
        await DatasetConverter.ConvertAsync(input, dir.File("out.jsonl"), DatasetFormat.Unknown, ColumnMapping.Auto, null);
        var report = DatasetValidator.ValidateFile(dir.File("out.jsonl"), new ValidationOptions());
        Assert.Equal(0, report.Errors);
        Assert.Equal(12, report.Examples);
    }
}

public sealed class ReadColumnsTests
{
    [Fact]
    public async Task ReadColumns_Csv_ReturnsTheHeader()
    {
        using var directory = new TempDirectory();
        var path = directory.Write("qa.csv", "question;answer;sys\nq;a;s\n");

        var columns = await Sources.ReadColumnsAsync(path, DatasetFormat.Csv, CancellationToken.None);

        Assert.Equal(["question", "answer", "sys"], columns!.ToArray());
    }

    [Fact]
    public async Task ReadColumns_NotParquet_SaysSo()
    {
        using var directory = new TempDirectory();
        var path = directory.Write("bad.parquet", "not parquet at all");

        var error = await Assert.ThrowsAsync<ImportException>(() => Sources.ReadColumnsAsync(path, DatasetFormat.Parquet, CancellationToken.None));

        Assert.StartsWith("Not a readable Parquet file", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadColumns_FixedFormats_HaveNoMapping()
    {
        using var directory = new TempDirectory();
        var path = directory.Write("a.jsonl", "{\"instruction\":\"q\",\"output\":\"a\"}\n");

        Assert.Null(await Sources.ReadColumnsAsync(path, DatasetFormat.AlpacaJsonl, CancellationToken.None));
    }
}

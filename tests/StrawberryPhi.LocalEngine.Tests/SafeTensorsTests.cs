using System.Text;
using StrawberryPhi.LocalEngine.Model;

namespace StrawberryPhi.LocalEngine.Tests;

public sealed class SafeTensorsTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("phi-engine-").FullName;

    [Fact]
    public void SaveLoad_TrainedModel_SameGenerationAndMetadata()
    {
        using var model = new GptModel(ModelSize.Tiny);
        var data = ArithmeticReflectionData.Pairs(2, 16).Select(p =>
            ChatEncoder.EncodeForTraining(ArithmeticReflectionData.Example(p.A, p.B, false), EngineVocabulary.Default)).ToList();
        Trainer.Train(model, data, new TrainingOptions { Epochs = 1, BatchSize = 8 });
        var path = Path.Combine(_directory, "model.safetensors");
        SafeTensors.Save(model, path, new Dictionary<string, string> { ["job"] = "ftjob-1" });

        using var loaded = SafeTensors.Load(path);
        var prompt = ChatEncoder.EncodePrompt(ArithmeticReflectionData.Prompt(21, 43), EngineVocabulary.Default);
        var options = new SamplingOptions { MaxTokens = 30, Temperature = 0 };
        Assert.Equal(Sampler.Generate(model, prompt, options).Tokens, Sampler.Generate(loaded, prompt, options).Tokens);
        var metadata = SafeTensors.ReadMetadata(path);
        Assert.Equal("strawberry-tiny", metadata[SafeTensors.BaseKey]);
        Assert.Equal("ftjob-1", metadata["job"]);
        Assert.False(File.Exists(path + ".tmp"));
    }

    [Fact]
    public void Load_NotSafetensors_ClearError()
    {
        var path = Path.Combine(_directory, "bad.safetensors");
        File.WriteAllBytes(path, Encoding.UTF8.GetBytes("definitely not a model"));
        var e = Assert.Throws<InvalidDataException>(() => SafeTensors.Load(path));
        Assert.Contains("not a safetensors file", e.Message);
    }

    [Fact]
    public void Load_TruncatedData_ClearError()
    {
        using var model = new GptModel(ModelSize.Tiny);
        var path = Path.Combine(_directory, "cut.safetensors");
        SafeTensors.Save(model, path);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length - 100)]);
        var e = Assert.Throws<InvalidDataException>(() => SafeTensors.Load(path));
        Assert.Contains("bad byte range", e.Message);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}

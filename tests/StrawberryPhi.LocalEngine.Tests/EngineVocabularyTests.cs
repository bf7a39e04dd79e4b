using StrawberryPhi.LocalEngine.Model;

namespace StrawberryPhi.LocalEngine.Tests;

public class EngineVocabularyTests
{
    [Theory]
    [InlineData("<thinking>a<reflection>b</reflection></thinking><output>42</output>")]
    [InlineData("x < y, <b>bold</b>, naïve 東京 😀")]
    [InlineData("")]
    public void EncodeDecode_AnyText_RoundTrips(string text)
    {
        var tokens = new List<int>();
        EngineVocabulary.Default.Encode(text, tokens);
        Assert.Equal(text, EngineVocabulary.Default.Decode(tokens));
    }

    [Fact]
    public void Encode_ReflectionTags_AreOneTokenEach()
    {
        var tokens = new List<int>();
        EngineVocabulary.Default.Encode("<thinking></thinking><reflection></reflection><output></output>", tokens);
        Assert.Equal([EngineVocabulary.ThinkingOpen, EngineVocabulary.ThinkingClose, EngineVocabulary.ReflectionOpen,
            EngineVocabulary.ReflectionClose, EngineVocabulary.OutputOpen, EngineVocabulary.OutputClose], tokens);
    }

    [Fact]
    public void EncodeForTraining_LossOnlyOnTrainedAssistantContentAndEnd()
    {
        var encoded = ChatEncoder.EncodeForTraining(
            [new("user", "hi"), new("assistant", "no", Trained: false), new("user", "again"), new("assistant", "ok")],
            EngineVocabulary.Default);
        var trained = encoded.Tokens.Zip(encoded.Trained).Where(p => p.Second).Select(p => p.First).ToList();
        Assert.Equal(['o', 'k', EngineVocabulary.End], trained);
        Assert.Equal(EngineVocabulary.User, encoded.Tokens[0]);
    }
}

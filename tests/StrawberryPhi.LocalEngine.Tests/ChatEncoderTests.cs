using StrawberryPhi.LocalEngine.Engine;
using StrawberryPhi.LocalEngine.Model;

namespace StrawberryPhi.LocalEngine.Tests;

public sealed class ChatEncoderTests
{
    private static EncodedExample Example(int prompt, int answer, int after = 0) => new(
        [.. Enumerable.Range(0, prompt + answer + after)],
        [.. Enumerable.Repeat(false, prompt).Concat(Enumerable.Repeat(true, answer)).Concat(Enumerable.Repeat(false, after))]);

    [Fact]
    public void FitToContext_Fits_Unchanged()
    {
        var example = Example(5, 4);
        Assert.Same(example, ChatEncoder.FitToContext(example, context: 8));
    }

    [Fact]
    public void FitToContext_LongPrompt_CutsItFromTheLeftAndKeepsTheWholeAnswer()
    {
        var fitted = ChatEncoder.FitToContext(Example(prompt: 20, answer: 4, after: 2), context: 8)!;
        Assert.Equal(9, fitted.Tokens.Length);
        Assert.Equal(Enumerable.Range(15, 9), fitted.Tokens);
        Assert.Equal(4, fitted.Trained.Count(t => t));
        Assert.True(fitted.Trained[^1]);
    }

    [Fact]
    public void FitToContext_AnswerLongerThanTheWindow_KeepsItsBeginningAfterOnePromptToken()
    {
        var fitted = ChatEncoder.FitToContext(Example(prompt: 10, answer: 30), context: 8)!;
        Assert.Equal(Enumerable.Range(9, 9), fitted.Tokens);
        Assert.False(fitted.Trained[0]);
        Assert.All(fitted.Trained[1..], Assert.True);
    }

    [Fact]
    public void Measure_CountsPerBase_WhatIsLongerAndWhatKeepsNothing()
    {
        var path = Path.GetTempFileName();
        try
        {
            var prompt = new string('p', 300);
            File.WriteAllLines(path,
            [
                System.Text.Json.JsonSerializer.Serialize(new { messages = new object[] { new { role = "user", content = prompt }, new { role = "assistant", content = "ok" } } }),
                System.Text.Json.JsonSerializer.Serialize(new { messages = new object[] { new { role = "user", content = "short" }, new { role = "assistant", content = "ok" } } }),
                System.Text.Json.JsonSerializer.Serialize(new { messages = new object[] { new { role = "user", content = "q" }, new { role = "assistant", content = "a", weight = 0 } } }),
                "",
            ]);

            var fits = TrainingFile.Measure(path);

            Assert.Equal(new ContextFit("strawberry-tiny", 256, 3, 1, 1), fits[0]);
            Assert.Equal(new ContextFit("strawberry-small", 512, 3, 0, 1), fits[1]);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void FitToContext_NothingTrained_Null()
    {
        Assert.Null(ChatEncoder.FitToContext(Example(prompt: 6, answer: 0), context: 8));
        Assert.Null(ChatEncoder.FitToContext(Example(prompt: 60, answer: 0), context: 8));
    }
}

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
    public void FitToContext_NothingTrained_Null()
    {
        Assert.Null(ChatEncoder.FitToContext(Example(prompt: 6, answer: 0), context: 8));
        Assert.Null(ChatEncoder.FitToContext(Example(prompt: 60, answer: 0), context: 8));
    }
}

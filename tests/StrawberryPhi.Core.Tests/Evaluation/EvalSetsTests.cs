using StrawberryPhi.Core.Evaluation;

namespace StrawberryPhi.Core.Tests.Evaluation;

public class EvalSetsTests
{
    private static EvalSetRead Read(string text) => EvalSets.Read(new StringReader(text));

    [Fact]
    public void Read_PromptOrMessages_ReferenceStringOrNumber_IdsAndMetadata()
    {
        var read = Read("""
            {"prompt": "1+1=", "reference": 2}
            {"id": "q7", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": [{"type": "text", "text": "2+2="}]}], "reference": "Two and two.\n#### 4", "metadata": {"source": "gsm8k"}}

            {"id": 12, "prompt": "x", "reference": "-1.5"}
            """);
        Assert.Empty(read.Problems);
        Assert.Equal(["line-1", "q7", "12"], read.Items.Select(i => i.Id));
        Assert.Equal("2", read.Items[0].Reference);
        Assert.Equal(new EvalMessage("user", "1+1="), Assert.Single(read.Items[0].Messages));
        Assert.Equal("2+2=", read.Items[1].Messages[1].Content);
        Assert.Equal("4", Answers.Reference(read.Items[1].Reference));
        Assert.Equal("""{"source":"gsm8k"}""", read.Items[1].Metadata);
    }

    [Theory]
    [InlineData("""{"prompt": "1+1="}""", "reference")]
    [InlineData("""{"reference": 2}""", "messages")]
    [InlineData("""{"prompt": "", "reference": 2}""", "prompt")]
    [InlineData("""{"messages": [], "reference": 2}""", "messages")]
    [InlineData("""{"messages": [{"role": "robot", "content": "hi"}], "reference": 2}""", "messages[0].role")]
    [InlineData("""{"messages": [{"role": "user", "content": 5}], "reference": 2}""", "messages[0].content")]
    [InlineData("""{"messages": [{"role": "assistant", "content": "hi"}], "reference": 2}""", "messages")]
    [InlineData("""{"prompt": "a", "reference": {"x": 1}}""", "reference")]
    [InlineData("""{"prompt": "a", "reference": 1, "metadata": [1]}""", "metadata")]
    [InlineData("""{"prompt": "a", "reference": 1, "id": true}""", "id")]
    [InlineData("""{"prompt": "a", "reference": 1""", "line")]
    [InlineData("""[1, 2]""", "line")]
    public void Read_BadLine_SaysLineAndField(string line, string field)
    {
        var read = Read("{\"prompt\": \"ok\", \"reference\": 1}\n" + line + "\n");
        var problem = Assert.Single(read.Problems);
        Assert.Equal((2L, field), (problem.Line, problem.Field));
        Assert.Single(read.Items);
    }

    [Fact]
    public void Read_DuplicateIdOrEmptyFile_IsAProblem()
    {
        var read = Read("{\"id\": \"a\", \"prompt\": \"x\", \"reference\": 1}\n{\"id\": \"a\", \"prompt\": \"y\", \"reference\": 2}\n");
        Assert.Equal((2L, "id"), (read.Problems[0].Line, read.Problems[0].Field));
        Assert.Equal("file", Assert.Single(Read("\n\n").Problems).Field);
    }

    [Fact]
    public void FromChat_LastAssistantMessageIsTheReference_TurnsBeforeItThePrompt()
    {
        var read = EvalSets.FromChat(new StringReader("""
            {"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "Q1"}, {"role": "assistant", "content": "A1"}, {"role": "user", "content": "Q2"}, {"role": "assistant", "content": "A2"}]}
            {"messages": [{"role": "user", "content": "only a question"}]}
            """));
        var item = Assert.Single(read.Items);
        Assert.Equal("A2", item.Reference);
        Assert.Equal(["S", "Q1", "A1", "Q2"], item.Messages.Select(m => m.Content));
        Assert.Equal((2L, "messages"), (read.Problems[0].Line, read.Problems[0].Field));
    }

    [Theory]
    [InlineData("""{"score": 0.9, "pass": true, "reason": "same result"}""", 0.9, true, "same result")]
    [InlineData("""Sure! Here is my verdict: {"score": 0.2, "reason": "wrong sum"} Hope it helps.""", 0.2, false, "wrong sum")]
    [InlineData("""{"pass": true}""", 1.0, true, "the judge gave no reason")]
    [InlineData("""{"note": "x"} then {"score": 7, "pass": false, "reason": "r"}""", 1.0, false, "r")]
    public void Judge_Read_FindsTheVerdictInTheReply(string reply, double score, bool pass, string reason)
    {
        var (verdict, _) = Judge.Read(reply);
        Assert.Equal(new Verdict(score, pass, reason), verdict);
    }

    [Theory]
    [InlineData("I think it is right.")]
    [InlineData("""{"score": "high"}""")]
    [InlineData("""{"score": 0.5""")]
    public void Judge_Read_NoVerdict_SaysSoWithTheReply(string reply)
    {
        var (verdict, problem) = Judge.Read(reply);
        Assert.Null(verdict);
        Assert.Contains("no verdict", problem, StringComparison.Ordinal);
        Assert.Contains(reply[..5], problem, StringComparison.Ordinal);
    }
}

using Bunit;
using StrawberryPhi.Web.Components.Shared;

namespace StrawberryPhi.Web.Tests.Components;

public sealed class ConversationViewTests : ComponentTest
{
    [Fact]
    public void ReflectionAnswer_ThinkingCollapsed_ReflectionHighlighted_OutputProminent()
    {
        var example = Line("reflection-sample.jsonl", 3);

        var cut = Render<ConversationView>(p => p.Add(c => c.Example, example));

        var thinking = cut.Find("details.thinking");
        Assert.False(thinking.HasAttribute("open"));
        Assert.Contains("1 reflection", thinking.QuerySelector("summary")!.TextContent, StringComparison.Ordinal);
        Assert.StartsWith("Checking: 21 + 8 is 29", cut.Find(".segment-reflection").TextContent, StringComparison.Ordinal);
        Assert.Equal("29", cut.Find("[data-testid=output]").TextContent);
        Assert.DoesNotContain("<reflection>", cut.Find(".segment-reflection").TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public void PlainConversation_ShowsEachRole()
    {
        var example = Line("with-defects.jsonl", 3);

        var cut = Render<ConversationView>(p => p.Add(c => c.Example, example));

        Assert.Equal(["user", "assistent"], cut.FindAll(".message-role").Select(e => e.TextContent.Trim()).ToArray());
    }
}

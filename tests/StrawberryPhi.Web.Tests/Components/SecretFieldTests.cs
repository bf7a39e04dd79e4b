using Bunit;
using StrawberryPhi.Web.Components.Shared;

namespace StrawberryPhi.Web.Tests.Components;

public sealed class SecretFieldTests : ComponentTest
{
    [Fact]
    public void StoredKey_ShowsOnlyTheMaskedHint_AndNoInput()
    {
        var cut = Render<SecretField>(p => p.Add(c => c.KeyHint, "sk-…9f2c"));

        Assert.Equal("sk-…9f2c", cut.Find("[data-testid=key-hint]").TextContent);
        Assert.Empty(cut.FindAll("input"));
    }

    [Fact]
    public void Replace_ShowsAnEmptyPasswordInput_AndReportsWhatIsTyped()
    {
        string? typed = "untouched";
        var cut = Render<SecretField>(p => p.Add(c => c.KeyHint, "sk-…9f2c").Add(c => c.ValueChanged, value => typed = value));

        cut.Find("[data-testid=replace-key] button, button[data-testid=replace-key]").Click();
        var input = cut.Find("input");
        Assert.Equal("password", input.GetAttribute("type"));
        Assert.True(string.IsNullOrEmpty(input.GetAttribute("value")));
        input.Input("sk-new-key-123456");

        Assert.Equal("sk-new-key-123456", typed);
    }

    [Fact]
    public void NoStoredKey_AsksForOne_InAPasswordInput()
    {
        var cut = Render<SecretField>();

        Assert.Equal("password", cut.Find("input").GetAttribute("type"));
        Assert.Contains("Encrypted at rest", cut.Markup, StringComparison.Ordinal);
    }

    [Fact]
    public void Remove_TogglesRemoval()
    {
        var remove = false;
        var cut = Render<SecretField>(p => p.Add(c => c.KeyHint, "sk-…9f2c").Add(c => c.RemoveKeyChanged, value => remove = value));

        cut.Find("[data-testid=remove-key] button, button[data-testid=remove-key]").Click();

        Assert.True(remove);
    }
}

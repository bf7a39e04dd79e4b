using Microsoft.AspNetCore.Components;
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
    public async Task Replace_ShowsAnEmptyPasswordInput_AndReportsWhatIsTyped()
    {
        var typed = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var cut = Render<SecretField>(p => p.Add(c => c.KeyHint, "sk-…9f2c").Add(c => c.ValueChanged, value => typed.TrySetResult(value)));

        await cut.Find("[data-testid=replace-key] button, button[data-testid=replace-key]").ClickAsync(new());
        cut.WaitForAssertion(() => Assert.Equal("password", cut.Find("input").GetAttribute("type")), Wait);
        Assert.True(string.IsNullOrEmpty(cut.Find("input").GetAttribute("value")));
        await cut.Find("input").InputAsync(new ChangeEventArgs { Value = "sk-new-key-123456" });

        Assert.Equal("sk-new-key-123456", await typed.Task.WaitAsync(Wait));
    }

    [Fact]
    public void NoStoredKey_AsksForOne_InAPasswordInput()
    {
        var cut = Render<SecretField>();

        Assert.Equal("password", cut.Find("input").GetAttribute("type"));
        Assert.Contains("Encrypted at rest", cut.Markup, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Remove_TogglesRemoval()
    {
        var remove = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var cut = Render<SecretField>(p => p.Add(c => c.KeyHint, "sk-…9f2c").Add(c => c.RemoveKeyChanged, value => remove.TrySetResult(value)));

        await cut.Find("[data-testid=remove-key] button, button[data-testid=remove-key]").ClickAsync(new());

        Assert.True(await remove.Task.WaitAsync(Wait));
    }
}

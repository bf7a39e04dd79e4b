namespace StrawberryPhi.Web.Tests.Integration;

public sealed class BindingTests(AnyAddressStudioHost host) : IClassFixture<AnyAddressStudioHost>
{
    [Fact]
    public async Task ListeningBeyondLoopback_StopsTheStudioAndSaysWhy()
    {
        await host.Stopping.Task.WaitAsync(StudioHost.Timeout);

        Assert.Contains(host.Logs, line => line.StartsWith("Critical", StringComparison.Ordinal) && line.Contains("only listens on loopback", StringComparison.Ordinal));
    }
}

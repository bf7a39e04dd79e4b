using Bunit;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor.Services;
using StrawberryPhi.Core.Reflection;
using StrawberryPhi.Core.Validation;
using StrawberryPhi.Web.Datasets;

namespace StrawberryPhi.Web.Tests.Components;

/// <summary>bUnit with MudBlazor's services; inputs come from the real Core (validator, line index), not from fakes.</summary>
public abstract class ComponentTest : BunitContext, IAsyncLifetime
{
    protected static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    protected ComponentTest()
    {
        Services.AddMudServices();
        Services.AddSingleton(new StudioNotifier(TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger<StudioNotifier>.Instance));
        JSInterop.Mode = JSRuntimeMode.Loose;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    /// <summary>MudBlazor's services are async-disposable only; xUnit 2 would dispose synchronously.</summary>
    Task IAsyncLifetime.DisposeAsync() => DisposeAsync().AsTask();

    protected static ValidationReport Validate(string example) =>
        DatasetValidator.ValidateFile(StudioHost.Example(example), new ValidationOptions { Threads = 1 });

    protected static ExampleView Line(string example, long line) =>
        ExampleView.Parse(line, File.ReadLines(StudioHost.Example(example)).ElementAt((int)line - 1), ReflectionTags.Default);
}

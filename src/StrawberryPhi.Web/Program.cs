using StrawberryPhi.Web;
using StrawberryPhi.Web.Api;

var builder = WebApplication.CreateBuilder(args);

builder.AddStudioOptions();
builder.AddPersistence();
builder.AddProviders();
builder.AddDatasets();
builder.AddJobs();
builder.AddStudioLocalEngine();
builder.AddStudioApi();
builder.AddStudioUi();

var app = builder.Build();

try
{
    await app.PrepareStudioAsync();
    app.UseStudioPipeline();
    app.MapStudioApi();
    app.MapStudioHealth();
    app.MapStudioLocalEngine();
    app.MapStudioUi();

    // Non-zero when the studio stops itself because it may not run as configured (see PrepareStudioAsync).
    var exit = app.Services.GetRequiredService<StudioExit>();
    await app.RunAsync();
    return exit.Code;
}
catch (Exception e) when (StudioSetup.StartFailure(e) is { } reason)
{
    app.Logger.LogCritical("The studio cannot start: {Reason}", reason);
    // Disposing flushes the console logger's queue: returning at once lost the sentence.
    await app.DisposeAsync();
    return 1;
}

/// <summary>The entry point, visible to the integration tests' WebApplicationFactory.</summary>
public partial class Program;

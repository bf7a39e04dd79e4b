using StrawberryPhi.Web;
using StrawberryPhi.Web.Api;

var builder = WebApplication.CreateBuilder(args);

builder.AddStudioOptions();
builder.AddPersistence();
builder.AddProviders();
builder.AddDatasets();
builder.AddStudioLocalEngine();
builder.AddStudioApi();
builder.AddStudioUi();

var app = builder.Build();

await app.PrepareStudioAsync();
app.UseStudioPipeline();
app.MapStudioApi();
app.MapStudioLocalEngine();
app.MapStudioUi();

await app.RunAsync();

/// <summary>The entry point, visible to the integration tests' WebApplicationFactory.</summary>
public partial class Program;

using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using MudBlazor.Services;
using StrawberryPhi.Core;
using StrawberryPhi.LocalEngine.Api;
using StrawberryPhi.Providers;
using StrawberryPhi.Web.Components;
using StrawberryPhi.Web.Data;
using StrawberryPhi.Web.Datasets;
using StrawberryPhi.Web.Providers;
using StrawberryPhi.Web.Security;
using StrawberryPhi.Web.Settings;

namespace StrawberryPhi.Web;

/// <summary>Each area of the studio registers itself here; Program.cs reads as the table of contents.</summary>
public static partial class StudioSetup
{
    /// <summary>The named HttpClient every provider call goes through (tests add fault injection to it).</summary>
    public const string ProviderHttpClient = "providers";

    public static void AddStudioOptions(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<StudioOptions>()
            .Bind(builder.Configuration.GetSection("Studio"))
            .Configure(o => o.DataDirectory = DataDirectoryOf(builder.Configuration))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<StudioNotifier>();
        builder.Services.AddSingleton<StudioExit>();
        builder.Services.AddSingleton<BackgroundLoops>();
        builder.Services.AddHealthChecks().AddCheck<BackgroundLoops>("background loops");
    }

    public static void AddPersistence(this WebApplicationBuilder builder)
    {
        builder.Services.AddDbContextFactory<StudioDbContext>((services, options) =>
        {
            // PrepareStudioAsync creates the data directory (private to the user) before the first context.
            options.UseSqlite($"Data Source={services.GetRequiredService<IOptions<StudioOptions>>().Value.DatabasePath}");
        });
        // The key ring lives in the data directory, outside the database, readable by this user only.
        builder.Services.AddKeyVault(PathsOf(builder.Configuration).KeysDirectory);
        builder.Services.AddSingleton<SettingsService>();
    }

    public static void AddProviders(this WebApplicationBuilder builder)
    {
        // Limits, retries, timeouts and the circuit breaker: config section "Providers" (see ProviderClientOptions).
        builder.Services.AddOptions<ProviderClientOptions>().Bind(builder.Configuration.GetSection("Providers"));
        builder.Services.AddHttpClient(ProviderHttpClient, client => client.Timeout = Timeout.InfiniteTimeSpan)
            // A client is kept per connection, so its connections are renewed from the pool instead of by handler rotation.
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(2) })
            .SetHandlerLifetime(Timeout.InfiniteTimeSpan)
            .AddProviderResilience()
            // The factory's own logging writes every failed request with its stack trace at Information: an unreachable
            // host is expected, and the services log it as one warning naming the connection instead.
            .RemoveAllLoggers();
        builder.Services.AddSingleton(services =>
        {
            var http = services.GetRequiredService<IHttpClientFactory>();
            return new ProviderClientFactory(() => http.CreateClient(ProviderHttpClient),
                services.GetRequiredService<IOptions<ProviderClientOptions>>().Value, services.GetRequiredService<TimeProvider>());
        });
        builder.Services.AddSingleton<ProviderConnectionService>();
        builder.Services.AddSingleton<Chat.ModelRouter>();
        builder.Services.AddSingleton<Chat.ChatService>();
        builder.Services.AddSingleton<Chat.PlaygroundService>();
        builder.Services.AddSingleton<Evaluation.EvalRunner>();
        builder.Services.AddSingleton<Evaluation.EvalService>();
        builder.Services.AddSingleton<Evaluation.GoldenService>();
        builder.Services.AddSingleton<Evaluation.RerunComparer>();
        builder.Services.AddOptions<Bundle.BundleOptions>().Bind(builder.Configuration.GetSection("Bundle"));
        builder.Services.AddSingleton<Bundle.BundleService>();
        builder.Services.AddHostedService<Evaluation.EvalRunnerWorker>();
    }

    public static void AddDatasets(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<DatasetFiles>();
        builder.Services.AddSingleton<DatasetValidationQueue>();
        builder.Services.AddSingleton<DatasetService>();
        builder.Services.AddSingleton<DatasetUploadService>();
        builder.Services.AddHostedService<DatasetValidationWorker>();
        builder.Services.AddHostedService<DatasetUploadWorker>();
    }

    public static void AddJobs(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<Jobs.JobTrackerOptions>()
            .Bind(builder.Configuration.GetSection("Jobs"))
            .ValidateDataAnnotations()
            .Validate(o => o.MinDelay <= o.MaxDelay, "Jobs:MinDelay must not be longer than Jobs:MaxDelay.")
            .ValidateOnStart();
        builder.Services.AddOptions<Notifications.NotificationOptions>()
            .Bind(builder.Configuration.GetSection("Notifications"))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddHttpClient(Notifications.WebhookDeliveryWorker.HttpClientName, client => client.Timeout = Timeout.InfiniteTimeSpan).RemoveAllLoggers();
        builder.Services.AddSingleton<Notifications.NotificationService>();
        builder.Services.AddHostedService<Notifications.WebhookDeliveryWorker>();
        builder.Services.AddSingleton<Jobs.JobSubmitter>();
        builder.Services.AddSingleton<Jobs.JobTracker>();
        builder.Services.AddSingleton<Jobs.JobService>();
        builder.Services.AddSingleton<Jobs.JobImporter>();
        builder.Services.AddSingleton<Jobs.InventoryService>();
        builder.Services.AddHostedService<Jobs.JobSubmitterWorker>();
        builder.Services.AddHostedService<Jobs.JobTrackerWorker>();
    }

    public static void AddStudioLocalEngine(this WebApplicationBuilder builder)
    {
        // On loopback only (see PrepareStudioAsync), so the embedded engine needs no key of its own.
        builder.Services.AddLocalEngine(o => o.DataDirectory = PathsOf(builder.Configuration).EngineDirectory);
    }

    public static void AddStudioUi(this WebApplicationBuilder builder)
    {
        builder.Services.AddRazorComponents().AddInteractiveServerComponents();
        builder.Services.AddMudServices(o =>
        {
            // At the bottom, away from the page's own buttons; a few at a time, never the same one twice.
            o.SnackbarConfiguration.PositionClass = MudBlazor.Defaults.Classes.Position.BottomCenter;
            o.SnackbarConfiguration.PreventDuplicates = true;
            o.SnackbarConfiguration.MaxDisplayedSnackbars = 3;
            o.SnackbarConfiguration.VisibleStateDuration = 4000;
            o.SnackbarConfiguration.ShowCloseIcon = true;
        });
        // Run from the build output in any environment (not only Development), the packages' assets (MudBlazor's CSS
        // and scripts) are found through the build's manifest; a published app has them in wwwroot and no manifest.
        builder.WebHost.UseStaticWebAssets();
    }

    /// <summary>Migrates the database, adds the built-in local engine connection, and refuses non-loopback addresses.</summary>
    public static async Task PrepareStudioAsync(this WebApplication app)
    {
        var options = app.Services.GetRequiredService<IOptions<StudioOptions>>().Value;
        if (!Directory.Exists(options.DataDirectory) && !OperatingSystem.IsWindows())
        {
            // Datasets are the user's own data: a new data directory is private to the user.
            Directory.CreateDirectory(options.DataDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        Directory.CreateDirectory(options.DataDirectory);
        var directoryLock = DataDirectoryLock.Acquire(options.DataDirectory);
        app.Lifetime.ApplicationStopped.Register(directoryLock.Dispose);
        Directory.CreateDirectory(options.DatasetsDirectory);
        var factory = app.Services.GetRequiredService<IDbContextFactory<StudioDbContext>>();
        await using (var context = await factory.CreateDbContextAsync())
        {
            await context.Database.MigrateAsync();
        }
        await app.Services.GetRequiredService<ProviderConnectionService>().EnsureLocalAsync(CancellationToken.None);
        await app.Services.GetRequiredService<DatasetUploadService>().MarkInterruptedAsync(CancellationToken.None);

        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
            var remote = addresses.Where(a => !IsLoopback(a)).ToList();
            if (remote.Count > 0)
            {
                app.Logger.LogCritical(
                    "The studio cannot start: it has no sign-in yet, so it only listens on loopback addresses; {Addresses} is reachable from other machines. Use http://127.0.0.1:PORT.",
                    string.Join(", ", remote));
                // Stopping is not success: the process exits with 1, as it does for a taken port.
                app.Services.GetRequiredService<StudioExit>().Code = 1;
                app.Lifetime.StopApplication();
                return;
            }
            app.Logger.LogInformation("Strawberry Phi studio is ready at {Address} (data directory {DataDirectory})", addresses.FirstOrDefault(), options.DataDirectory);
        });
    }

    /// <summary>Why the studio could not start, in one sentence, when the reason is one a user can act on.</summary>
    public static string? StartFailure(Exception exception) => exception switch
    {
        StudioStartException e => e.Message,
        IOException { InnerException: Microsoft.AspNetCore.Connections.AddressInUseException } e =>
            $"{(BoundAddress().Match(e.Message) is { Success: true } m ? m.Groups[1].Value : "The address")} is already in use, by another studio " +
            "(open it in the browser) or another program. Start this one on another port: --urls http://127.0.0.1:5190",
        _ => null,
    };

    [System.Text.RegularExpressions.GeneratedRegex(@"bind to address (\S+?):? address already in use")]
    private static partial System.Text.RegularExpressions.Regex BoundAddress();

    public static void UseStudioPipeline(this WebApplication app)
    {
        // Before anything else answers: pages, the API, the Blazor hub and the local engine alike.
        app.UseLoopbackGuard((context, status, title, message) =>
        {
            context.Response.StatusCode = status;
            return context.RequestServices.GetRequiredService<Microsoft.AspNetCore.Http.IProblemDetailsService>().WriteAsync(new()
            {
                HttpContext = context,
                ProblemDetails = new Microsoft.AspNetCore.Mvc.ProblemDetails { Status = status, Title = title, Detail = message },
            }).AsTask();
        });
        app.UseExceptionHandler();
        // An unknown address in the studio is a page that says so; under /api and /local it stays an error in the API's shape.
        app.UseWhen(context => IsApi(context.Request.Path), api => api.UseStatusCodePages());
        app.UseWhen(context => !IsApi(context.Request.Path), pages => pages.UseStatusCodePagesWithReExecute("/not-found", createScopeForStatusCodePages: true));
        // Routing after the status code pages, so that a re-executed request is routed again (to the not-found page).
        app.UseRouting();
        app.UseAntiforgery();
    }

    /// <summary>/healthz: Healthy while every background loop runs; Unhealthy naming the one that stopped.</summary>
    public static void MapStudioHealth(this WebApplication app) => app.MapHealthChecks("/healthz");

    /// <summary>The engine speaks OpenAI's API (OpenAI's own document describes it), so the studio's document leaves it out.</summary>
    public static void MapStudioLocalEngine(this WebApplication app) => app.MapLocalEngine(ProviderConnectionService.LocalPrefix).ExcludeFromDescription();

    public static void MapStudioUi(this WebApplication app)
    {
        app.MapStaticAssets();
        app.MapRazorComponents<App>().AddInteractiveServerRenderMode();
    }

    /// <summary>Config key <c>DataDirectory</c>, else the default of DESIGN.md.</summary>
    private static string DataDirectoryOf(ConfigurationManager configuration) =>
        configuration["DataDirectory"] is { Length: > 0 } directory ? Path.GetFullPath(directory) : DataDirectory.Default();

    /// <summary>The data directory's layout, for services registered before options can be resolved.</summary>
    private static StudioOptions PathsOf(ConfigurationManager configuration) => new() { DataDirectory = DataDirectoryOf(configuration) };

    private static bool IsApi(PathString path) =>
        path.StartsWithSegments("/api") || path.StartsWithSegments("/local") || path.StartsWithSegments("/healthz") || path.StartsWithSegments("/_blazor") || path.StartsWithSegments("/_framework");

    private static bool IsLoopback(string address)
    {
        if (!Uri.TryCreate(address.Replace("*", "0.0.0.0", StringComparison.Ordinal).Replace("+", "0.0.0.0", StringComparison.Ordinal), UriKind.Absolute, out var uri))
        {
            return false;
        }
        return uri.IsLoopback || (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));
    }
}

/// <summary>The process's exit code when the studio stops itself because it may not run as configured.</summary>
public sealed class StudioExit
{
    public int Code { get; set; }
}

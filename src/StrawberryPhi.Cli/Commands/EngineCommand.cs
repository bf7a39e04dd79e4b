using System.CommandLine;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;
using StrawberryPhi.LocalEngine.Api;

namespace StrawberryPhi.Cli.Commands;

/// <summary><c>phi engine serve</c>: the local engine, standalone, at URL/v1.</summary>
internal static class EngineCommand
{
    public const string ApiKeyVariable = "PHI_ENGINE_API_KEY";

    public static Command Create(CliContext context)
    {
        var urls = new Option<string>("--urls")
        {
            Description = "Where to listen. Loopback by default; any other address needs an API key.",
            DefaultValueFactory = _ => "http://127.0.0.1:5199",
        };
        var dataDirectory = new Option<string?>("--data-dir") { Description = "The engine's data directory (default: the Strawberry Phi data directory's engine/)." };
        var threads = new Option<int>("--threads")
        {
            Description = "Threads for training and inference.",
            DefaultValueFactory = _ => Environment.ProcessorCount,
        };
        var maxJobs = new Option<int>("--max-jobs")
        {
            Description = "Training jobs that may run at once; the others wait in order.",
            DefaultValueFactory = _ => 1,
        };
        var serve = new Command("serve", $"Serve the local engine's OpenAI-compatible API at URL/v1. Set {ApiKeyVariable} to require a key.") { urls, dataDirectory, threads, maxJobs };
        serve.SetAction(async (parse, cancellationToken) =>
        {
            var url = parse.GetValue(urls)!;
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme != "http")
            {
                throw new CommandFailedException($"--urls must be an http URL such as http://127.0.0.1:5199; got \"{url}\".");
            }
            // From the environment, never the command line: arguments show in process lists and shell history.
            var key = Environment.GetEnvironmentVariable(ApiKeyVariable);
            if (!IsLoopback(uri) && string.IsNullOrEmpty(key))
            {
                throw new CommandFailedException($"refusing to serve on {uri.Host}, which is not a loopback address, without an API key: set {ApiKeyVariable}.");
            }
            if (parse.GetValue(maxJobs) < 1 || parse.GetValue(threads) < 1)
            {
                throw new CommandFailedException("--max-jobs and --threads must be 1 or more.");
            }
            var directory = parse.GetValue(dataDirectory) ?? Path.Combine(DefaultDataDirectory(), "engine");

            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls(url);
            builder.Logging.ClearProviders();
            builder.Services.AddLocalEngine(o =>
            {
                o.DataDirectory = directory;
                o.ApiKey = string.IsNullOrEmpty(key) ? null : key;
                o.Threads = parse.GetValue(threads);
                o.MaxConcurrentJobs = parse.GetValue(maxJobs);
            });
            await using var app = builder.Build();
            if (string.IsNullOrEmpty(key))
            {
                // Without a key the engine trusts loopback, so web pages must not reach it through a rebound name or another origin.
                app.UseLoopbackGuard((http, status, title, message) => OpenAiError.Result(status, "invalid_request_error", $"{title}: {message}", null,
                    status == 400 ? "host_not_allowed" : "cross_site_request").ExecuteAsync(http));
            }
            app.MapLocalEngine("/v1");
            await app.StartAsync(cancellationToken);
            context.Output.WriteLine($"Local engine listening on {app.Urls.First()}/v1 (data: {directory}{(key is null ? "" : "; API key required")}). Ctrl+C stops it.");
            context.Output.Flush();
            try
            {
                await Task.Delay(Timeout.InfiniteTimeSpan, TimeProvider.System, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                // Ctrl+C: stop cleanly below.
            }
            await app.StopAsync(CancellationToken.None);
            return ExitCodes.Ok;
        });
        return new Command("engine", "The local training engine.") { serve };
    }

    private static bool IsLoopback(Uri uri) =>
        uri.IsLoopback || (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address));

    internal static string DefaultDataDirectory() => Core.DataDirectory.Default();
}

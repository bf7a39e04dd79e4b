using System.Globalization;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Telemetry;

namespace StrawberryPhi.Providers;

/// <summary>
/// The one resilience pipeline every provider call goes through (jobs and evaluations inherit it), on the HttpClient
/// under the SDK: jittered exponential retries of transient failures that honour <c>Retry-After</c> and OpenAI's
/// <c>retry-after-ms</c>; never a retry of <c>insufficient_quota</c>; a timeout per attempt; and a circuit breaker per
/// endpoint (host and port), so a provider that is down fails fast instead of holding every caller. Only requests that
/// are safe to repeat are retried here (chat completions among them): a POST that creates something (a file, a job) is
/// retried by its caller after looking for what the failed attempt left (FACTS §8), never blindly.
/// </summary>
public static class ProviderResilience
{
    public const string PipelineName = "provider";

    public static IHttpClientBuilder AddProviderResilience(this IHttpClientBuilder builder)
    {
        // Polly would log each retried attempt as a warning and the last as an error, with the exception: a failed
        // call is logged once, by the service that made it, naming the connection. A circuit opening is worth a line.
        builder.Services.Configure<Polly.Telemetry.TelemetryOptions>(o => o.SeverityProvider = args => args.Event.EventName switch
        {
            "OnCircuitOpened" => ResilienceEventSeverity.Warning,
            "OnCircuitClosed" => ResilienceEventSeverity.Information,
            _ => ResilienceEventSeverity.Debug,
        });
        builder.AddResilienceHandler(PipelineName, (pipeline, context) =>
        {
            var options = context.ServiceProvider.GetRequiredService<IOptions<ProviderClientOptions>>().Value;
            var time = context.ServiceProvider.GetService<TimeProvider>() ?? TimeProvider.System;
            pipeline.AddRetry(new HttpRetryStrategyOptions
            {
                MaxRetryAttempts = Math.Max(1, options.MaxRetries),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.RetryDelay,
                MaxDelay = options.MaxRetryDelay,
                ShouldHandle = args => ShouldRetryAsync(args.Context, args.Outcome, options.MaxRetries),
                DelayGenerator = args => ValueTask.FromResult(RetryAfter(args.Outcome.Result, options.MaxRetryDelay, time)),
            });
            pipeline.AddCircuitBreaker(new HttpCircuitBreakerStrategyOptions
            {
                FailureRatio = options.BreakerFailureRatio,
                MinimumThroughput = options.BreakerMinimumThroughput,
                SamplingDuration = options.BreakerSamplingDuration,
                BreakDuration = options.BreakDuration,
                // A provider that is down or failing, not one that says no (4xx) or asks to slow down (429).
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is HttpRequestException or Polly.Timeout.TimeoutRejectedException
                    || args.Outcome.Result is { StatusCode: >= HttpStatusCode.InternalServerError }),
            });
            pipeline.AddTimeout(new HttpTimeoutStrategyOptions
            {
                // A file's upload takes as long as the file needs; every other call gets the attempt timeout.
                TimeoutGenerator = args => ValueTask.FromResult(
                    args.Context.GetRequestMessage() is { Method.Method: "POST", Content.Headers.ContentLength: null or > 1_000_000 }
                        ? Timeout.InfiniteTimeSpan
                        : options.AttemptTimeout),
            });
        }).SelectPipelineByAuthority();
        return builder;
    }

    private static async ValueTask<bool> ShouldRetryAsync(ResilienceContext context, Outcome<HttpResponseMessage> outcome, int maxRetries)
    {
        if (maxRetries < 1 || context.GetRequestMessage() is not { } request || !IsSafeToRepeat(request))
        {
            return false;
        }
        if (outcome.Exception is HttpRequestException or Polly.Timeout.TimeoutRejectedException)
        {
            return true;
        }
        if (outcome.Result is not { } response)
        {
            return false;
        }
        return (int)response.StatusCode switch
        {
            408 or >= 500 => true,
            429 => !await IsOutOfQuotaAsync(response),
            _ => false,
        };
    }

    /// <summary>
    /// GET, HEAD, OPTIONS and DELETE can be sent twice without making two of anything; so can a chat completion
    /// (a POST that creates nothing at the provider: a repeat after an unknown outcome costs tokens at most).
    /// </summary>
    internal static bool IsSafeToRepeat(HttpRequestMessage request) =>
        request.Method == HttpMethod.Get || request.Method == HttpMethod.Head || request.Method == HttpMethod.Options || request.Method == HttpMethod.Delete
        || (request.Method == HttpMethod.Post && request.RequestUri?.AbsolutePath.EndsWith("/chat/completions", StringComparison.Ordinal) == true);

    /// <summary>A 429 for <c>insufficient_quota</c> is a billing state, not a rate: waiting does not help.</summary>
    internal static async ValueTask<bool> IsOutOfQuotaAsync(HttpResponseMessage response)
    {
        await response.Content.LoadIntoBufferAsync();
        var body = await response.Content.ReadAsStringAsync();
        return body.Contains("insufficient_quota", StringComparison.Ordinal);
    }

    /// <summary>OpenAI's <c>retry-after-ms</c>, else <c>Retry-After</c> (seconds or a date), clamped; null for the backoff's own delay.</summary>
    internal static TimeSpan? RetryAfter(HttpResponseMessage? response, TimeSpan max, TimeProvider time)
    {
        if (response is null)
        {
            return null;
        }
        if (response.Headers.TryGetValues("retry-after-ms", out var ms) && double.TryParse(ms.First(), CultureInfo.InvariantCulture, out var milliseconds))
        {
            return Clamp(TimeSpan.FromMilliseconds(milliseconds), max);
        }
        return response.Headers.RetryAfter switch
        {
            { Delta: { } delta } => Clamp(delta, max),
            { Date: { } date } => Clamp(date - time.GetUtcNow(), max),
            _ => null,
        };
    }

    private static TimeSpan Clamp(TimeSpan delay, TimeSpan max) => delay < TimeSpan.Zero ? TimeSpan.Zero : delay > max ? max : delay;
}

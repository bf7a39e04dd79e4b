using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using StrawberryPhi.LocalEngine.Engine;
using StrawberryPhi.LocalEngine.Model;

namespace StrawberryPhi.LocalEngine.Api;

/// <summary>The local engine's OpenAI-compatible HTTP surface: files, fine-tuning jobs, models, chat completions.</summary>
public static class EngineApi
{
    /// <summary>The wire format of every engine response.</summary>
    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static IServiceCollection AddLocalEngine(this IServiceCollection services, Action<LocalEngineOptions> configure)
    {
        var options = new LocalEngineOptions();
        configure(options);
        if (string.IsNullOrWhiteSpace(options.DataDirectory))
        {
            throw new InvalidOperationException("LocalEngineOptions.DataDirectory is required.");
        }
        services.AddSingleton(options);
        services.AddSingleton(sp => new LocalEngine(options, sp.GetService<TimeProvider>() ?? TimeProvider.System));
        return services;
    }

    /// <summary>Maps the engine under <paramref name="prefix"/> (the studio uses /local/v1; standalone, /v1).</summary>
    public static RouteGroupBuilder MapLocalEngine(this IEndpointRouteBuilder routes, string prefix = "/v1")
    {
        var group = routes.MapGroup(prefix);
        group.AddEndpointFilter(async (context, next) =>
        {
            var key = context.HttpContext.RequestServices.GetRequiredService<LocalEngineOptions>().ApiKey;
            if (key is not null && !Authorized(context.HttpContext.Request, key))
            {
                return OpenAiError.Unauthorized();
            }
            try
            {
                return await next(context);
            }
            catch (BadRequestException e)
            {
                return OpenAiError.BadRequest(e.Message, e.Param, e.Code);
            }
            catch (EngineRequestException e)
            {
                return OpenAiError.BadRequest(e.Message, e.Param, e.Code);
            }
            catch (JsonException e)
            {
                return OpenAiError.BadRequest($"The request body is not valid JSON: {e.Message}", null, "invalid_json");
            }
            catch (Exception e) when (e is not OperationCanceledException && !context.HttpContext.Response.HasStarted)
            {
                // Clients get OpenAI's error shape whatever failed; the type tells a developer where to look.
                return OpenAiError.Result(StatusCodes.Status500InternalServerError, "server_error", $"The local engine failed: {e.GetType().Name}: {e.Message}", null, "server_error");
            }
        });

        group.MapGet("/models", (LocalEngine engine) =>
            Results.Json(new { @object = "list", data = engine.ListModels().Select(ModelJson) }, Json));
        group.MapGet("/models/{id}", (string id, LocalEngine engine) =>
            engine.FindModel(id) is { } model ? Results.Json(ModelJson(model), Json) : ModelNotFound(id, "model"));
        group.MapDelete("/models/{id}", (string id, LocalEngine engine) =>
        {
            if (ModelSize.Find(id) is not null)
            {
                return OpenAiError.BadRequest($"'{id}' is a base model and cannot be deleted.", "model", "model_not_deletable");
            }
            engine.Forget(id);
            return engine.Store.DeleteModel(id)
                ? Results.Json(new { id, @object = "model", deleted = true }, Json)
                : ModelNotFound(id, "model");
        });
        group.MapPost("/chat/completions", ChatCompletions);
        FineTuningApi.Map(group);
        UploadsApi.Map(group);
        return group;
    }

    private static object ModelJson(EngineModel model) =>
        new { id = model.Id, @object = "model", created = model.Created, owned_by = model.OwnedBy };

    private static IResult ModelNotFound(string id, string param) =>
        OpenAiError.NotFound($"The model '{id}' does not exist.", param, "model_not_found");

    private static bool Authorized(HttpRequest request, string key)
    {
        var header = request.Headers.Authorization.ToString();
        var given = header.StartsWith("Bearer ", StringComparison.Ordinal) ? header["Bearer ".Length..] : request.Headers["api-key"].ToString();
        return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(given), Encoding.UTF8.GetBytes(key));
    }

    private static async Task<IResult> ChatCompletions(HttpContext http, LocalEngine engine, CancellationToken cancellationToken)
    {
        var body = await JsonNode.ParseAsync(http.Request.Body, cancellationToken: cancellationToken) as JsonObject
            ?? throw new BadRequestException("The request body must be a JSON object.", null);
        var request = ChatRequest.Parse(body);
        if (engine.FindModel(request.Model) is not { } model)
        {
            return ModelNotFound(request.Model, "model");
        }
        var prompt = ChatEncoder.EncodePrompt(request.Messages, EngineVocabulary.Default);
        var id = engine.Store.NewId("chatcmpl-");
        var created = engine.Now;

        if (!request.Stream)
        {
            // The n choices are decoded together, each with its own seed.
            var completions = await Task.WhenAll(Enumerable.Range(0, request.N).Select(i =>
                engine.GenerateAsync(model, prompt, request.Sampling with { Seed = request.Sampling.Seed + i }, null, cancellationToken)));
            var completionTokens = completions.Sum(c => c.Tokens.Length);
            return Results.Json(new
            {
                id,
                @object = "chat.completion",
                created,
                model = model.Id,
                choices = completions.Select((c, i) => new
                {
                    index = i,
                    message = new { role = "assistant", content = c.Text, refusal = (string?)null },
                    logprobs = c.Logprobs is null ? null : LogprobsJson(c.Logprobs),
                    finish_reason = c.FinishReason,
                }),
                usage = Usage(prompt.Length, completionTokens),
            }, Json);
        }

        http.Response.ContentType = "text/event-stream";
        http.Response.Headers.CacheControl = "no-cache";
        async Task Send(object chunk) =>
            await http.Response.WriteAsync($"data: {JsonSerializer.Serialize(chunk, Json)}\n\n", cancellationToken);
        object Chunk(int index, object delta, string? finish) => new
        {
            id, @object = "chat.completion.chunk", created, model = model.Id,
            choices = new[] { new { index, delta, logprobs = (object?)null, finish_reason = finish } },
        };

        var total = 0;
        for (var i = 0; i < request.N; i++)
        {
            var index = i;
            await Send(Chunk(index, new { role = "assistant", content = "" }, null));
            // Generation runs on the engine's decoder; each piece of text reaches the client as soon as it exists.
            var pieces = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
            var generation = engine.GenerateAsync(model, prompt, request.Sampling with { Seed = request.Sampling.Seed + index },
                piece => pieces.Writer.TryWrite(piece), cancellationToken);
            _ = generation.ContinueWith(_ => pieces.Writer.TryComplete(), TaskScheduler.Default);
            await foreach (var piece in pieces.Reader.ReadAllAsync(cancellationToken))
            {
                await Send(Chunk(index, new { content = piece }, null));
                await http.Response.Body.FlushAsync(cancellationToken);
            }
            var completion = await generation;
            await Send(Chunk(index, new { }, completion.FinishReason));
            total += completion.Tokens.Length;
        }
        if (request.IncludeUsage)
        {
            await Send(new { id, @object = "chat.completion.chunk", created, model = model.Id, choices = Array.Empty<object>(), usage = Usage(prompt.Length, total) });
        }
        await http.Response.WriteAsync("data: [DONE]\n\n", cancellationToken);
        return Results.Empty;
    }

    private static object Usage(int prompt, int completion) =>
        new { prompt_tokens = prompt, completion_tokens = completion, total_tokens = prompt + completion };

    private static object LogprobsJson(IReadOnlyList<TokenLogprob> logprobs) => new
    {
        content = logprobs.Select(l => new
        {
            token = TokenText(l.Token),
            logprob = l.Logprob,
            bytes = TokenBytes(l.Token),
            top_logprobs = l.Top.Select(t => new { token = TokenText(t.Token), logprob = t.Logprob, bytes = TokenBytes(t.Token) }),
        }),
        // A model that refuses says so in its own tokens; the engine's never do, and the document requires the field.
        refusal = (object?)null,
    };

    private static string TokenText(int token) => token switch
    {
        < 256 => Encoding.Latin1.GetString([(byte)token]),
        EngineVocabulary.End => "<|end|>",
        _ => EngineVocabulary.Default.Decode([token]),
    };

    private static int[] TokenBytes(int token) => token < 256 ? [token] : [.. Encoding.UTF8.GetBytes(TokenText(token))];
}

using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Diagnostics;
using StrawberryPhi.Providers;
using StrawberryPhi.Web.Security;

namespace StrawberryPhi.Web.Api;

public static class StudioApi
{
    public static void AddStudioApi(this WebApplicationBuilder builder)
    {
        builder.Services.AddProblemDetails();
        builder.Services.AddExceptionHandler<StudioExceptionHandler>();
        builder.Services.AddOpenApi("v1", o => o.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "Strawberry Phi studio API";
            document.Info.Description = "Providers (never with their keys), datasets, validation reports, previews and derived datasets, and fine-tuning jobs with every event, metric point and checkpoint.";
            return Task.CompletedTask;
        }));
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.Converters.Add(new JsonStringEnumConverter()));
        // Outside Development a body or query that does not bind is answered with a bare 400; throwing lets the
        // handler below say what was wrong and where.
        builder.Services.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
    }

    public static void MapStudioApi(this WebApplication app)
    {
        app.MapOpenApi("/api/openapi/{documentName}.json");
        var api = app.MapGroup("/api");
        api.MapProvidersApi();
        api.MapDatasetsApi();
        api.MapJobsApi();
        api.MapWebhooksApi();
        api.MapSettingsApi();
        api.MapEvalsApi();
        api.MapPlaygroundApi();
        api.MapBundleApi();
        app.MapGatewayApi();
    }
}

internal static class EndpointNaming
{
    /// <summary>
    /// The operation's stable name (its OpenAPI operationId, what generated clients call the method) and the
    /// ProblemDetails answers it gives besides success, so that clients get error types instead of guesses.
    /// </summary>
    public static RouteHandlerBuilder Named(this RouteHandlerBuilder endpoint, string name, params int[] problems)
    {
        endpoint.WithName(name);
        foreach (var status in problems)
        {
            endpoint.ProducesProblem(status);
        }
        return endpoint;
    }
}

/// <summary>The one place expected failures become ProblemDetails: status, a title, and the message in words.</summary>
internal sealed class StudioExceptionHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        var (status, title, detail, field) = exception switch
        {
            StudioException e => (e.StatusCode, e.Error switch
            {
                StudioError.Invalid => "Invalid input",
                StudioError.NotFound => "Not found",
                StudioError.Conflict => "Not possible now",
                StudioError.TooLarge => "Too large",
                _ => "Provider error",
            }, e.Message, e.Field),
            ProviderException => (StatusCodes.Status502BadGateway, "Provider error", exception.Message, (string?)null),
            KeyVaultException => (StatusCodes.Status409Conflict, "Stored key unreadable", exception.Message, "apiKey"),
            BadHttpRequestException e => BadRequestWording.Describe(e),
            _ => (0, "", "", null),
        };
        if (status == 0)
        {
            return false;
        }
        context.Response.StatusCode = status;
        var details = new Microsoft.AspNetCore.Mvc.ProblemDetails { Status = status, Title = title, Detail = detail };
        if (field is not null)
        {
            details.Extensions["field"] = field;
        }
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = details, Exception = exception });
    }
}

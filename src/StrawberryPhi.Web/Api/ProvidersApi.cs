using Microsoft.AspNetCore.Http.HttpResults;
using StrawberryPhi.Web.Providers;

namespace StrawberryPhi.Web.Api;

/// <summary>/api/providers: connections without their keys (only the masked hint ever leaves the server).</summary>
internal static class ProvidersApi
{
    public static void MapProvidersApi(this RouteGroupBuilder api)
    {
        var group = api.MapGroup("/providers").WithTags("Providers");
        group.MapGet("/", List).Named("ListProviders");
        group.MapGet("/{id:guid}", Get).Named("GetProvider", 404);
        group.MapPost("/", Create).Named("CreateProvider", 400);
        group.MapPut("/{id:guid}", Update).Named("UpdateProvider", 400, 404);
        group.MapDelete("/{id:guid}", Delete).Named("DeleteProvider", 404, 409);
        group.MapPost("/{id:guid}/test", Test).Named("TestProvider", 404, 409);
        group.MapGet("/{id:guid}/models", Models).Named("ListProviderModels", 404, 409, 502);
        group.MapPost("/{id:guid}/import-jobs", async (Guid id, Jobs.JobImporter importer, CancellationToken cancellationToken) =>
            TypedResults.Ok(await importer.ImportAsync(id, null, cancellationToken))).Named("ImportProviderJobs", 404, 502);
    }

    private static async Task<Ok<IReadOnlyList<ProviderView>>> List(ProviderConnectionService providers, CancellationToken cancellationToken) =>
        TypedResults.Ok(await providers.ListAsync(cancellationToken));

    private static async Task<Ok<ProviderView>> Get(Guid id, ProviderConnectionService providers, CancellationToken cancellationToken) =>
        TypedResults.Ok(await providers.GetAsync(id, cancellationToken));

    private static async Task<Created<ProviderView>> Create(ProviderInput input, ProviderConnectionService providers, CancellationToken cancellationToken)
    {
        var created = await providers.CreateAsync(input, cancellationToken);
        return TypedResults.Created($"/api/providers/{created.Id}", created);
    }

    private static async Task<Ok<ProviderView>> Update(Guid id, ProviderInput input, ProviderConnectionService providers, CancellationToken cancellationToken) =>
        TypedResults.Ok(await providers.UpdateAsync(id, input, cancellationToken));

    private static async Task<NoContent> Delete(Guid id, ProviderConnectionService providers, CancellationToken cancellationToken)
    {
        await providers.DeleteAsync(id, cancellationToken);
        return TypedResults.NoContent();
    }

    private static async Task<Ok<ProviderTestResult>> Test(Guid id, ProviderConnectionService providers, CancellationToken cancellationToken) =>
        TypedResults.Ok(await providers.TestAsync(id, cancellationToken));

    private static async Task<Ok<ProviderModels>> Models(Guid id, ProviderConnectionService providers, CancellationToken cancellationToken) =>
        TypedResults.Ok(await providers.ModelsAsync(id, cancellationToken));
}

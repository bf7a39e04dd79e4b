using Microsoft.AspNetCore.Http.HttpResults;
using StrawberryPhi.Web.Settings;

namespace StrawberryPhi.Web.Api;

/// <summary>/api/settings: theme, default testing parameters, notification preferences.</summary>
internal static class SettingsApi
{
    public static void MapSettingsApi(this RouteGroupBuilder api)
    {
        var group = api.MapGroup("/settings").WithTags("Settings");
        group.MapGet("/", async Task<Ok<SettingsView>> (SettingsService settings, CancellationToken cancellationToken) =>
            TypedResults.Ok(await settings.GetAsync(cancellationToken))).Named("GetSettings");
        group.MapPut("/", async Task<Ok<SettingsView>> (SettingsView input, SettingsService settings, CancellationToken cancellationToken) =>
            TypedResults.Ok(await settings.SaveAsync(input, cancellationToken))).Named("SaveSettings", 400);
    }
}

using StrawberryPhi.Providers;
using StrawberryPhi.Web.Providers;

namespace StrawberryPhi.Web.Components.Settings;

/// <summary>A connection being added or edited. It never holds the stored key: only a new one being typed.</summary>
public sealed record ProviderDraft(
    string Name = "", ProviderKind Kind = ProviderKind.OpenAI, string? BaseUrl = null, string? ApiKey = null, bool RemoveKey = false,
    string? Organization = null, string? Project = null, string? WebhookSecret = null, bool RemoveWebhookSecret = false)
{
    public static ProviderDraft From(ProviderView p) => new(p.Name, p.Kind, p.BaseUrl, null, false, p.Organization, p.Project);

    public ProviderInput ToInput() => new(Name, Kind, BaseUrl, ApiKey, Organization, Project, RemoveKey, WebhookSecret, RemoveWebhookSecret);
}

using StrawberryPhi.Web.Data;
using StrawberryPhi.Web.Settings;

namespace StrawberryPhi.Web.Components.Settings;

/// <summary>The editable copy of the settings a panel shows; each panel saves only its own fields.</summary>
public sealed class SettingsForm
{
    public ThemeMode Theme { get; set; }
    public double Temperature { get; set; }
    public double TopP { get; set; }
    public int MaxTokens { get; set; }
    public double FrequencyPenalty { get; set; }
    public double PresencePenalty { get; set; }
    public string? SystemPrompt { get; set; }
    public bool NotifyInApp { get; set; }
    public bool NotifyBrowser { get; set; }
    public string? NotifyWebhookUrl { get; set; }
    public string DefaultTargetModel { get; set; } = "";
    public HashSet<string> InAppOn { get; set; } = [];
    public HashSet<string> BrowserOn { get; set; } = [];
    public HashSet<string> WebhookOn { get; set; } = [];

    public static SettingsForm From(SettingsView s) => new()
    {
        Theme = s.Theme, Temperature = s.Temperature, TopP = s.TopP, MaxTokens = s.MaxTokens, FrequencyPenalty = s.FrequencyPenalty,
        PresencePenalty = s.PresencePenalty, SystemPrompt = s.SystemPrompt, NotifyInApp = s.NotifyInApp, NotifyBrowser = s.NotifyBrowser,
        NotifyWebhookUrl = s.NotifyWebhookUrl, DefaultTargetModel = s.DefaultTargetModel,
        InAppOn = [.. s.NotifyInAppOn.Split(',', StringSplitOptions.RemoveEmptyEntries)],
        BrowserOn = [.. s.NotifyBrowserOn.Split(',', StringSplitOptions.RemoveEmptyEntries)],
        WebhookOn = [.. s.NotifyWebhookOn.Split(',', StringSplitOptions.RemoveEmptyEntries)],
    };
}

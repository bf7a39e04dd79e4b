using Microsoft.EntityFrameworkCore;
using StrawberryPhi.Core.Catalog;
using StrawberryPhi.Web.Data;

namespace StrawberryPhi.Web.Settings;

public sealed record SettingsView(
    ThemeMode Theme, double Temperature, double TopP, int MaxTokens, double FrequencyPenalty, double PresencePenalty, string? SystemPrompt,
    bool NotifyInApp, bool NotifyBrowser, string? NotifyWebhookUrl, string DefaultTargetModel,
    string NotifyInAppOn = "succeeded,failed,cancelled", string NotifyBrowserOn = "succeeded,failed", string NotifyWebhookOn = "succeeded,failed,cancelled");

/// <summary>The studio's settings row: theme, default testing parameters, notification preferences.</summary>
public sealed class SettingsService(IDbContextFactory<StudioDbContext> db, StudioNotifier events, TimeProvider time)
{
    public async Task<SettingsView> GetAsync(CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        return View(await context.Settings.AsNoTracking().FirstOrDefaultAsync(s => s.Id == StudioSettings.SingletonId, cancellationToken) ?? new StudioSettings());
    }

    public async Task<SettingsView> SaveAsync(SettingsView input, CancellationToken cancellationToken)
    {
        Check(input);
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        var row = await context.Settings.FirstOrDefaultAsync(s => s.Id == StudioSettings.SingletonId, cancellationToken);
        if (row is null)
        {
            row = new StudioSettings();
            context.Settings.Add(row);
        }
        row.Theme = input.Theme;
        row.Temperature = input.Temperature;
        row.TopP = input.TopP;
        row.MaxTokens = input.MaxTokens;
        row.FrequencyPenalty = input.FrequencyPenalty;
        row.PresencePenalty = input.PresencePenalty;
        row.SystemPrompt = string.IsNullOrWhiteSpace(input.SystemPrompt) ? null : input.SystemPrompt;
        row.NotifyInApp = input.NotifyInApp;
        row.NotifyBrowser = input.NotifyBrowser;
        row.NotifyWebhookUrl = string.IsNullOrWhiteSpace(input.NotifyWebhookUrl) ? null : input.NotifyWebhookUrl.Trim();
        row.DefaultTargetModel = ModelCatalog.Default.Find(input.DefaultTargetModel)!.Id;
        row.NotifyInAppOn = Kinds(input.NotifyInAppOn);
        row.NotifyBrowserOn = Kinds(input.NotifyBrowserOn);
        row.NotifyWebhookOn = Kinds(input.NotifyWebhookOn);
        await context.SaveChangesAsync(cancellationToken);
        events.Publish(StudioTopic.Settings);
        return View(row);
    }

    /// <summary>Changes part of the settings (a panel's own fields) on top of what is stored now.</summary>
    public async Task<SettingsView> UpdateAsync(Func<SettingsView, SettingsView> change, CancellationToken cancellationToken) =>
        await SaveAsync(change(await GetAsync(cancellationToken)), cancellationToken);

    public Task<SettingsView> SetThemeAsync(ThemeMode theme, CancellationToken cancellationToken) =>
        UpdateAsync(s => s with { Theme = theme }, cancellationToken);

    /// <summary>A channel's endings, in the canonical order; an unknown one is refused.</summary>
    private static string Kinds(string? kinds)
    {
        var given = (kinds ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (given.FirstOrDefault(k => !Notifications.NotificationService.Kinds.Contains(k)) is { } unknown)
        {
            throw StudioException.Invalid("notify", $"\"{unknown}\" is not a job ending; notifications are for succeeded, failed and cancelled.");
        }
        return string.Join(',', Notifications.NotificationService.Kinds.Where(given.Contains));
    }

    private void Check(SettingsView s)
    {
        if (s.Temperature is < 0 or > 2 || double.IsNaN(s.Temperature))
        {
            throw StudioException.Invalid("temperature", "Temperature is between 0 and 2.");
        }
        if (s.TopP is < 0 or > 1 || double.IsNaN(s.TopP))
        {
            throw StudioException.Invalid("topP", "top_p is between 0 and 1.");
        }
        if (s.MaxTokens is < 1 or > 128_000)
        {
            throw StudioException.Invalid("maxTokens", "Max tokens is between 1 and 128,000.");
        }
        if (s.FrequencyPenalty is < -2 or > 2 || double.IsNaN(s.FrequencyPenalty))
        {
            throw StudioException.Invalid("frequencyPenalty", "The frequency penalty is between -2 and 2.");
        }
        if (s.PresencePenalty is < -2 or > 2 || double.IsNaN(s.PresencePenalty))
        {
            throw StudioException.Invalid("presencePenalty", "The presence penalty is between -2 and 2.");
        }
        if (!string.IsNullOrWhiteSpace(s.NotifyWebhookUrl)
            && (!Uri.TryCreate(s.NotifyWebhookUrl.Trim(), UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp)))
        {
            throw StudioException.Invalid("notifyWebhookUrl", $"\"{s.NotifyWebhookUrl}\" is not an http(s) URL.");
        }
        if (ModelCatalog.Default.Find(s.DefaultTargetModel) is not { } model)
        {
            throw StudioException.Invalid("defaultTargetModel", $"\"{s.DefaultTargetModel}\" is not in the model catalog.");
        }
        if (model.IsShutDown(DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime)))
        {
            throw StudioException.Invalid("defaultTargetModel", $"{model.Id} was shut down on {model.ShutdownDate:yyyy-MM-dd}: choose a model that can still be fine-tuned.");
        }
    }

    private static SettingsView View(StudioSettings s) =>
        new(s.Theme, s.Temperature, s.TopP, s.MaxTokens, s.FrequencyPenalty, s.PresencePenalty, s.SystemPrompt, s.NotifyInApp, s.NotifyBrowser, s.NotifyWebhookUrl, s.DefaultTargetModel,
            s.NotifyInAppOn, s.NotifyBrowserOn, s.NotifyWebhookOn);
}

using Microsoft.AspNetCore.Components;
using MudBlazor;
using StrawberryPhi.Web.Settings;

namespace StrawberryPhi.Web.Components.Settings;

/// <summary>
/// A settings tab: loads the settings row itself (with loading and error states), and saves its own fields on top of
/// what is stored, saying which field was refused and why.
/// </summary>
public abstract class SettingsPanel : StudioComponent
{
    [Inject]
    protected SettingsService Settings { get; set; } = null!;

    [Inject]
    protected ISnackbar Snackbar { get; set; } = null!;

    protected SettingsForm? Form { get; private set; }

    protected string? LoadError { get; private set; }

    protected string? Field { get; private set; }

    protected string? FieldError { get; private set; }

    protected bool Saving { get; private set; }

    protected override async Task OnInitializedAsync() => await LoadAsync();

    protected async Task LoadAsync()
    {
        try
        {
            Form = SettingsForm.From(await Settings.GetAsync(Lifetime));
            LoadError = null;
        }
        catch (Exception e) when (e is IOException or Microsoft.Data.Sqlite.SqliteException or InvalidOperationException)
        {
            LoadError = $"The settings could not be loaded: {e.Message}";
        }
    }

    /// <summary>The error text for <paramref name="field"/> when the last save was refused for it.</summary>
    protected string? ErrorFor(string field) => Field == field ? FieldError : null;

    protected async Task SaveAsync(Func<SettingsView, SettingsForm, SettingsView> apply, string saved)
    {
        if (Form is not { } form)
        {
            return;
        }
        Saving = true;
        (Field, FieldError) = (null, null);
        try
        {
            Form = SettingsForm.From(await Settings.UpdateAsync(s => apply(s, form), Lifetime));
            Snackbar.Add(saved, Severity.Success);
        }
        catch (StudioException e)
        {
            (Field, FieldError) = (e.Field ?? "", e.Message);
        }
        finally
        {
            Saving = false;
        }
    }
}

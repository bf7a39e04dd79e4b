using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.EntityFrameworkCore;
using StrawberryPhi.Core.Catalog;
using StrawberryPhi.Core.Text;
using StrawberryPhi.Providers;
using StrawberryPhi.Web.Data;
using StrawberryPhi.Web.Security;

namespace StrawberryPhi.Web.Providers;

/// <summary>A connection as pages and the API see it: never the key, only its masked form.</summary>
/// <param name="HasWebhookSecret">A webhook signing secret is stored: the provider's job webhooks are verified and trigger an immediate poll.</param>
public sealed record ProviderView(
    Guid Id, string Name, ProviderKind Kind, string? BaseUrl, string? KeyHint, bool HasKey, string? Organization, string? Project,
    bool BuiltIn, DateTime? LastTestedAt, bool? LastTestOk, string? LastTestMessage, bool HasWebhookSecret = false);

/// <summary>What a user enters. A null or empty <see cref="ApiKey"/> (or <see cref="WebhookSecret"/>) on edit keeps the stored one.</summary>
public sealed record ProviderInput(
    string Name, ProviderKind Kind, string? BaseUrl, string? ApiKey, string? Organization, string? Project, bool RemoveKey = false,
    string? WebhookSecret = null, bool RemoveWebhookSecret = false);

/// <param name="Removed">The connection was removed while the provider answered: nothing was kept.</param>
public sealed record ProviderTestResult(bool Ok, string Message, int Models, long ElapsedMs, bool Removed = false);

/// <summary>A base model that can be fine-tuned through a connection, with its dates.</summary>
/// <param name="ShutDown">Its shutdown date has passed: it can no longer be fine-tuned (and no price is given as if it could).</param>
public sealed record FineTunableModel(
    string Id, int? TrainingTokenLimit, decimal? TrainingPricePer1M, DateOnly? ShutdownDate, IReadOnlyList<string> Methods, IReadOnlyList<Notice> Notices,
    bool ShutDown = false);

public sealed record ProviderModels(Guid ProviderId, DateOnly CatalogAsOf, DateOnly? NewJobsEnd, string? Note, IReadOnlyList<FineTunableModel> Models);

/// <summary>Provider connections: saved with keys encrypted by the <see cref="KeyVault"/>, tested, and turned into clients.</summary>
public sealed class ProviderConnectionService(
    IDbContextFactory<StudioDbContext> db, KeyVault vault, ProviderClientFactory clients, IServer server, TimeProvider time,
    StudioNotifier events, ILogger<ProviderConnectionService> logger)
{
    public const string LocalName = "Local engine";
    public const string LocalPrefix = "/local/v1";

    private readonly System.Collections.Concurrent.ConcurrentDictionary<Guid, (DateTime Version, Uri BaseUrl, IProviderClient Client)> _clients = new();
    private int _version;

    /// <summary>Changes whenever a connection is added, edited or removed (after the change is saved), for caches of names and clients.</summary>
    public int Version => Volatile.Read(ref _version);

    public async Task<IReadOnlyList<ProviderView>> ListAsync(CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        var rows = await context.Providers.AsNoTracking().OrderByDescending(p => p.BuiltIn).ThenBy(p => p.Name).ToListAsync(cancellationToken);
        return rows.Select(View).ToList();
    }

    public async Task<ProviderView> GetAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        return View(await Find(context, id, cancellationToken));
    }

    public async Task<ProviderView> CreateAsync(ProviderInput input, CancellationToken cancellationToken)
    {
        if (input.Kind == ProviderKind.Local)
        {
            throw StudioException.Invalid("kind", "The local engine is built in; add OpenAI, Azure OpenAI or a custom OpenAI-compatible endpoint.");
        }
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        var now = time.GetUtcNow().UtcDateTime;
        var row = new ProviderConnection { Id = Guid.CreateVersion7(time.GetUtcNow()), Name = "", CreatedAt = now, UpdatedAt = now };
        await Apply(context, row, input, cancellationToken);
        context.Providers.Add(row);
        await SaveNamedAsync(context, row.Name, cancellationToken);
        logger.LogInformation("Added provider connection {ProviderId} ({Kind})", row.Id, row.Kind);
        Interlocked.Increment(ref _version);
        events.Publish(StudioTopic.Providers);
        return View(row);
    }

    /// <summary>Connections were stored by another part of the studio (a bundle's import): lists and routes read them again.</summary>
    public void AddedElsewhere()
    {
        Interlocked.Increment(ref _version);
        events.Publish(StudioTopic.Providers);
    }

    public async Task<ProviderView> UpdateAsync(Guid id, ProviderInput input, CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        var row = await Find(context, id, cancellationToken);
        if (row.BuiltIn)
        {
            // Only the name of the built-in engine is the user's to change.
            input = input with { Kind = ProviderKind.Local, BaseUrl = null, ApiKey = null, Organization = null, Project = null, RemoveKey = false };
        }
        else if (input.Kind == ProviderKind.Local)
        {
            throw StudioException.Invalid("kind", "Only the built-in connection is the local engine.");
        }
        await Apply(context, row, input, cancellationToken);
        row.UpdatedAt = time.GetUtcNow().UtcDateTime;
        await SaveNamedAsync(context, row.Name, cancellationToken);
        _clients.TryRemove(id, out _);
        logger.LogInformation("Updated provider connection {ProviderId}", row.Id);
        Interlocked.Increment(ref _version);
        events.Publish(StudioTopic.Providers);
        return View(row);
    }

    /// <summary>Saves a connection; a name another save took in the meantime (the unique index) is said as such.</summary>
    private static async Task SaveNamedAsync(StudioDbContext context, string name, CancellationToken cancellationToken)
    {
        try
        {
            await context.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException e) when (DbErrors.IsUniqueViolation(e))
        {
            throw NameTaken(name);
        }
    }

    public async Task DeleteAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        var row = await Find(context, id, cancellationToken);
        if (row.BuiltIn)
        {
            throw new StudioException(StudioError.Conflict, "The built-in local engine cannot be removed.");
        }
        context.Providers.Remove(row);
        await context.SaveChangesAsync(cancellationToken);
        _clients.TryRemove(id, out _);
        logger.LogInformation("Removed provider connection {ProviderId}", id);
        Interlocked.Increment(ref _version);
        events.Publish(StudioTopic.Providers);
    }

    /// <summary>
    /// Lists the provider's models with the stored key; the outcome is kept on the connection. A connection removed
    /// while the provider answered keeps nothing and the caller is told so: the test ends quietly.
    /// </summary>
    public async Task<ProviderTestResult> TestAsync(Guid id, CancellationToken cancellationToken)
    {
        ProviderConnection row;
        await using (var context = await db.CreateDbContextAsync(cancellationToken))
        {
            row = await Find(context, id, cancellationToken);
        }
        var started = time.GetTimestamp();
        ProviderTestResult result;
        try
        {
            var models = await ClientFor(row).ListModelsAsync(cancellationToken);
            result = new ProviderTestResult(true, $"Connected: {Plural.Of(models.Count, "model")} listed.", models.Count, Elapsed(started));
        }
        catch (Exception e) when (e is ProviderException or KeyVaultException or StudioException)
        {
            result = new ProviderTestResult(false, e.Message, 0, Elapsed(started));
            logger.LogWarning("Test of provider connection {ProviderId} failed: {Reason}", id, e.Message);
        }
        await using (var context = await db.CreateDbContextAsync(cancellationToken))
        {
            var now = time.GetUtcNow().UtcDateTime;
            var kept = await context.Providers.Where(p => p.Id == id).ExecuteUpdateAsync(set => set
                .SetProperty(p => p.LastTestedAt, now)
                .SetProperty(p => p.LastTestOk, result.Ok)
                .SetProperty(p => p.LastTestMessage, result.Message), cancellationToken);
            if (kept == 0)
            {
                return result with { Removed = true };
            }
        }
        events.Publish(StudioTopic.Providers);
        return result;
    }

    private long Elapsed(long started) => (long)time.GetElapsedTime(started).TotalMilliseconds;

    /// <summary>
    /// Which base models can be fine-tuned through a connection: the dated catalog for OpenAI and Azure, what the
    /// server lists for the local engine and a custom endpoint (with the catalog's facts where it knows the model).
    /// </summary>
    public async Task<ProviderModels> ModelsAsync(Guid id, CancellationToken cancellationToken)
    {
        ProviderConnection row;
        await using (var context = await db.CreateDbContextAsync(cancellationToken))
        {
            row = await Find(context, id, cancellationToken);
        }
        var catalog = ModelCatalog.Default;
        var today = DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
        FineTunableModel FromCatalog(CatalogModel m) => m.IsShutDown(today)
            ? new FineTunableModel(m.Id, m.TrainingTokenLimit, null, m.ShutdownDate, m.Methods, FineTuneEstimator.Notices(m, catalog, today), ShutDown: true)
            : new FineTunableModel(m.Id, m.TrainingTokenLimit, m.TrainingPricePer1M, m.ShutdownDate, m.Methods, FineTuneEstimator.Notices(m, catalog, today));
        if (row.Kind is ProviderKind.Local or ProviderKind.Custom)
        {
            IReadOnlyList<ProviderModel> listed;
            try
            {
                listed = await ClientFor(row).ListModelsAsync(cancellationToken);
            }
            catch (Exception e) when (e is ProviderException or KeyVaultException)
            {
                logger.LogWarning("Listing the models of provider connection {ProviderId} failed: {Reason}", id, e.Message);
                throw;
            }
            var bases = listed.Where(m => !m.Id.StartsWith("ft:", StringComparison.Ordinal))
                .Select(m => row.Kind == ProviderKind.Custom && catalog.Find(m.Id) is { } known
                    ? FromCatalog(known) with { Id = m.Id }
                    : new FineTunableModel(m.Id, null, row.Kind == ProviderKind.Local ? 0m : null, m.ShutdownDate, row.Kind == ProviderKind.Local ? ["supervised", "dpo"] : [], [],
                        ShutDown: m.ShutdownDate is { } date && date <= today))
                .ToList();
            var note = row.Kind == ProviderKind.Local
                ? "Trains on this machine's CPU; free, private, and small."
                : "What this endpoint lists (fine-tunes left out); token limits and prices are shown where the catalog knows the model.";
            return new ProviderModels(id, catalog.AsOf, null, note, bases);
        }
        var providerId = row.Kind == ProviderKind.OpenAI ? "openai" : "azure-openai";
        var info = catalog.FindProvider(providerId);
        var models = catalog.Models.Where(m => m.Providers.Contains(providerId)).Select(FromCatalog).ToList();
        return new ProviderModels(id, catalog.AsOf, info?.FineTuningNewJobsEnd, info?.Note, models);
    }

    /// <summary>A client for the connection, with the key decrypted for this use only.</summary>
    public async Task<IProviderClient> ClientAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        return ClientFor(await Find(context, id, cancellationToken));
    }

    /// <summary>Adds the built-in local engine connection on first start.</summary>
    public async Task EnsureLocalAsync(CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        if (!await context.Providers.AnyAsync(p => p.BuiltIn, cancellationToken))
        {
            var now = time.GetUtcNow().UtcDateTime;
            context.Providers.Add(new ProviderConnection
            {
                Id = Guid.CreateVersion7(time.GetUtcNow()),
                Name = await context.Providers.AnyAsync(p => p.Name == LocalName, cancellationToken) ? $"{LocalName} (built in)" : LocalName,
                Kind = ProviderKind.Local,
                BuiltIn = true,
                CreatedAt = now,
                UpdatedAt = now,
            });
            await context.SaveChangesAsync(cancellationToken);
        }
    }

    /// <summary>
    /// The connection's client, made once (one key decryption) and kept while the connection is unchanged: the
    /// SDK's clients are thread-safe. An edit (a new UpdatedAt) or a removal drops it.
    /// </summary>
    /// <remarks>
    /// The local engine's address is part of the key: before Kestrel listens, the addresses are the configured ones
    /// (a port it may not get), and a client made then must not outlive them.
    /// </remarks>
    private IProviderClient ClientFor(ProviderConnection row)
    {
        var baseUrl = row.Kind switch
        {
            ProviderKind.Local => LocalBaseUrl(),
            ProviderKind.OpenAI when string.IsNullOrEmpty(row.BaseUrl) => ProviderEndpoint.DefaultBaseUrl(ProviderKind.OpenAI),
            _ => new Uri(row.BaseUrl!),
        };
        if (_clients.TryGetValue(row.Id, out var cached) && cached.Version == row.UpdatedAt && cached.BaseUrl == baseUrl)
        {
            return cached.Client;
        }
        if (row.ProtectedApiKey is null && row.Kind is ProviderKind.OpenAI or ProviderKind.AzureOpenAI)
        {
            throw new StudioException(StudioError.Conflict, $"The connection \"{row.Name}\" has no API key (it came from a bundle, which never holds keys): add it in Settings.");
        }
        var key = row.ProtectedApiKey is null ? null : vault.Unprotect(row.ProtectedApiKey);
        var client = clients.Create(new ProviderEndpoint(row.Kind, baseUrl, key, row.Organization, row.Project));
        _clients[row.Id] = (row.UpdatedAt, baseUrl, client);
        return client;
    }

    /// <summary>The engine is mounted in this studio; its address is the one Kestrel listens on.</summary>
    private Uri LocalBaseUrl()
    {
        var address = server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault()
            ?? throw new StudioException(StudioError.Conflict, "The studio is not listening on any address yet.");
        var uri = new UriBuilder(address);
        if (uri.Host is "0.0.0.0" or "[::]" or "+" or "*" or "localhost")
        {
            uri.Host = "127.0.0.1";
        }
        uri.Path = LocalPrefix + "/";
        return uri.Uri;
    }

    private async Task Apply(StudioDbContext context, ProviderConnection row, ProviderInput input, CancellationToken cancellationToken)
    {
        var name = input.Name?.Trim() ?? "";
        if (name.Length is 0 or > 100)
        {
            throw StudioException.Invalid("name", "Give the connection a name of 1 to 100 characters.");
        }
        if (await context.Providers.AnyAsync(p => p.Name == name && p.Id != row.Id, cancellationToken))
        {
            throw NameTaken(name);
        }
        row.Name = name;
        if (row.BuiltIn)
        {
            return;
        }
        row.Kind = input.Kind;
        row.BaseUrl = NormalizeBaseUrl(input.Kind, input.BaseUrl);
        row.Organization = Input.Blank(input.Organization);
        row.Project = Input.Blank(input.Project);
        var key = input.ApiKey?.Trim();
        if (!string.IsNullOrEmpty(key))
        {
            if (key.Any(char.IsWhiteSpace) || key.Length > 1000)
            {
                throw StudioException.Invalid("apiKey", "The API key has spaces or line breaks in it (a copy-paste slip?).");
            }
            row.ProtectedApiKey = vault.Protect(key);
            row.KeyHint = KeyVault.Mask(key);
        }
        else if (input.RemoveKey)
        {
            row.ProtectedApiKey = null;
            row.KeyHint = null;
        }
        var secret = input.WebhookSecret?.Trim();
        if (!string.IsNullOrEmpty(secret))
        {
            if (!secret.StartsWith("whsec_", StringComparison.Ordinal) || !IsBase64(secret["whsec_".Length..]))
            {
                throw StudioException.Invalid("webhookSecret", "A webhook signing secret looks like whsec_ followed by base64, as the provider's dashboard shows it.");
            }
            row.ProtectedWebhookSecret = vault.Protect(secret);
        }
        else if (input.RemoveWebhookSecret)
        {
            row.ProtectedWebhookSecret = null;
        }
        if (row.ProtectedApiKey is null && input.Kind is ProviderKind.OpenAI or ProviderKind.AzureOpenAI)
        {
            throw StudioException.Invalid("apiKey", $"{(input.Kind == ProviderKind.OpenAI ? "OpenAI" : "Azure OpenAI")} needs an API key.");
        }
    }

    private static string? NormalizeBaseUrl(ProviderKind kind, string? text)
    {
        text = Input.Blank(text);
        if (text is null)
        {
            return kind is ProviderKind.OpenAI ? null : throw StudioException.Invalid("baseUrl",
                kind == ProviderKind.AzureOpenAI
                    ? "Azure OpenAI needs the resource's endpoint, such as https://RESOURCE.openai.azure.com/openai/v1/."
                    : "A custom endpoint needs its base URL, such as http://127.0.0.1:8000/v1/.");
        }
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp))
        {
            throw StudioException.Invalid("baseUrl", $"\"{text}\" is not an http(s) URL.");
        }
        if (!string.IsNullOrEmpty(uri.UserInfo) || !string.IsNullOrEmpty(uri.Query))
        {
            throw StudioException.Invalid("baseUrl", "Put credentials in the API key field, not in the URL (the URL is shown on screen).");
        }
        var builder = new UriBuilder(uri);
        if (kind == ProviderKind.AzureOpenAI && builder.Path.TrimEnd('/').Length == 0)
        {
            builder.Path = "/openai/v1/";
        }
        if (!builder.Path.EndsWith('/'))
        {
            builder.Path += "/";
        }
        return builder.Uri.ToString();
    }


    private static bool IsBase64(string text)
    {
        var buffer = new byte[text.Length];
        return text.Length > 0 && Convert.TryFromBase64String(text, buffer, out _);
    }

    /// <summary>The connection's webhook signing secret, decrypted for one verification; null when none is stored.</summary>
    public async Task<string?> WebhookSecretAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        var row = await Find(context, id, cancellationToken);
        return row.ProtectedWebhookSecret is { } secret ? vault.Unprotect(secret) : null;
    }

    private static StudioException NameTaken(string name) => StudioException.Invalid("name", $"A connection named \"{name}\" already exists.");

    private static async Task<ProviderConnection> Find(StudioDbContext context, Guid id, CancellationToken cancellationToken) =>
        await context.Providers.FirstOrDefaultAsync(p => p.Id == id, cancellationToken) ?? throw StudioException.NotFound("This provider connection");

    private static ProviderView View(ProviderConnection p) =>
        new(p.Id, p.Name, p.Kind, p.BaseUrl, p.KeyHint, p.ProtectedApiKey is not null, p.Organization, p.Project, p.BuiltIn, p.LastTestedAt, p.LastTestOk, p.LastTestMessage,
            p.ProtectedWebhookSecret is not null);
}

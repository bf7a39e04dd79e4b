using Microsoft.EntityFrameworkCore;
using StrawberryPhi.Providers;
using StrawberryPhi.Web.Data;
using StrawberryPhi.Web.Providers;

namespace StrawberryPhi.Web.Chat;

/// <summary>A model reached through a connection: the gateway's <c>CONNECTION/MODEL</c>.</summary>
public sealed record ModelRoute(Guid ProviderId, string Connection, string Model)
{
    public string Name => $"{Connection}/{Model}";
}

/// <summary>A model the gateway lists: its routed name and where it came from.</summary>
public sealed record RoutedModel(string Id, Guid ProviderId, string Connection, string Model, string? OwnedBy, DateTimeOffset? Created);

public static class RoutedModels
{
    /// <summary>
    /// The names a model picker offers for <paramref name="text"/>: those that contain it, or all of them when it is
    /// a whole model name already (the picker just opened on a chosen model).
    /// </summary>
    public static IEnumerable<string> Matching(IReadOnlyList<RoutedModel> models, string? text) =>
        string.IsNullOrWhiteSpace(text) || models.Any(m => m.Id == text)
            ? models.Select(m => m.Id)
            : models.Select(m => m.Id).Where(id => id.Contains(text, StringComparison.OrdinalIgnoreCase));
}

/// <summary>
/// Names every connected model as <c>CONNECTION/MODEL</c> and finds the connection of such a name. Connection names
/// may hold a slash, and so may model ids: the longest connection name that prefixes the name wins.
/// </summary>
public sealed class ModelRouter(IDbContextFactory<StudioDbContext> db, ProviderConnectionService connections, TimeProvider time, ILogger<ModelRouter> logger)
{
    /// <summary>How long one connection may take to list its models before the list goes on without it.</summary>
    public static readonly TimeSpan ListTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Connection names and their clients as of one <see cref="ProviderConnectionService.Version"/>: the gateway's hot path reads no row.</summary>
    private sealed record Snapshot(int Version, IReadOnlyList<(Guid Id, string Name)> Names, System.Collections.Concurrent.ConcurrentDictionary<Guid, IProviderClient> Clients);

    private volatile Snapshot? _snapshot;

    public async Task<ModelRoute?> ResolveAsync(string name, CancellationToken cancellationToken)
    {
        var snapshot = await SnapshotAsync(cancellationToken);
        ModelRoute? best = null;
        foreach (var (id, connection) in snapshot.Names)
        {
            if (name.Length > connection.Length + 1 && name[connection.Length] == '/' && name.StartsWith(connection, StringComparison.Ordinal)
                && connection.Length > (best?.Connection.Length ?? -1))
            {
                best = new ModelRoute(id, connection, name[(connection.Length + 1)..]);
            }
        }
        return best;
    }

    /// <summary>The route's client, kept until a connection changes.</summary>
    public async Task<IProviderClient> ClientAsync(ModelRoute route, CancellationToken cancellationToken)
    {
        var snapshot = await SnapshotAsync(cancellationToken);
        if (snapshot.Clients.TryGetValue(route.ProviderId, out var client))
        {
            return client;
        }
        client = await connections.ClientAsync(route.ProviderId, cancellationToken);
        snapshot.Clients[route.ProviderId] = client;
        return client;
    }

    private async Task<Snapshot> SnapshotAsync(CancellationToken cancellationToken)
    {
        // Read the version first: a change saved while the names load makes the next call load again.
        var version = connections.Version;
        if (_snapshot is { } current && current.Version == version)
        {
            return current;
        }
        await using var context = await db.CreateDbContextAsync(cancellationToken);
        var names = (await context.Providers.AsNoTracking().Select(p => new { p.Id, p.Name }).ToListAsync(cancellationToken)).Select(p => (p.Id, p.Name)).ToList();
        var fresh = new Snapshot(version, names, new());
        _snapshot = fresh;
        return fresh;
    }

    /// <summary>
    /// The ids a connection lists now, or null when it cannot say within <see cref="ListTimeout"/> (then a model
    /// cannot be checked before it is used, and its first request says whether it exists).
    /// </summary>
    public async Task<IReadOnlySet<string>?> ModelIdsAsync(Guid providerId, CancellationToken cancellationToken)
    {
        var (models, _) = await ListOneAsync(providerId, cancellationToken);
        return models?.Select(m => m.Id).ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>
    /// Every connection's models; a connection that cannot list them now (an error, or no answer within
    /// <see cref="ListTimeout"/>) is left out and logged, so one slow provider does not hold up a page.
    /// </summary>
    public async Task<IReadOnlyList<RoutedModel>> ListAsync(CancellationToken cancellationToken) =>
        [.. (await ListByConnectionAsync(cancellationToken)).Values.SelectMany(models => models ?? [])];

    /// <summary>
    /// <see cref="ListAsync"/> by connection: null for a connection that could not list its models now, so that a
    /// model missing from a list is told from a list that did not come.
    /// </summary>
    public async Task<IReadOnlyDictionary<Guid, IReadOnlyList<RoutedModel>?>> ListByConnectionAsync(CancellationToken cancellationToken)
    {
        var views = await connections.ListAsync(cancellationToken);
        var lists = await Task.WhenAll(views.Select(async view =>
        {
            var (models, problem) = await ListOneAsync(view.Id, cancellationToken);
            if (models is null)
            {
                logger.LogWarning("The models of {Connection} are left out of the list: {Reason}", view.Name, problem);
                return (view.Id, (IReadOnlyList<RoutedModel>?)null);
            }
            return (view.Id, models.Select(m => new RoutedModel($"{view.Name}/{m.Id}", view.Id, view.Name, m.Id, m.OwnedBy, m.Created)).ToList());
        }));
        return lists.ToDictionary(l => l.Item1, l => l.Item2);
    }

    /// <summary>One connection's models within <see cref="ListTimeout"/>, or null and why not.</summary>
    private async Task<(IReadOnlyList<ProviderModel>? Models, string? Problem)> ListOneAsync(Guid providerId, CancellationToken cancellationToken)
    {
        using var bounded = new CancellationTokenSource(ListTimeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, bounded.Token);
        try
        {
            var client = await connections.ClientAsync(providerId, linked.Token);
            return (await client.ListModelsAsync(linked.Token), null);
        }
        catch (Exception e) when (e is ProviderException or StudioException)
        {
            return (null, e.Message);
        }
        catch (OperationCanceledException) when (bounded.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return (null, $"it did not answer within {ListTimeout.TotalSeconds} s");
        }
    }
}

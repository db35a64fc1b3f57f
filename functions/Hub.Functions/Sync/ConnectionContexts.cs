using System.Collections.Concurrent;
using Hub.Connectors;
using Hub.Functions.State;
using Newtonsoft.Json.Linq;

namespace Hub.Functions.Sync;

/// <summary>
/// Builds the <see cref="ConnectionContext"/> a connector call needs: the connection's settings with its secrets
/// decrypted (cached briefly by secrets reference, so a webhook burst decrypts once), and a callback that stores a
/// refreshed token at once (the old refresh token may no longer work) and points the connection at it (ETag-checked).
/// </summary>
public sealed class ConnectionContexts(ConnectionStore connections, ISecretStore secrets, TimeProvider clock)
{
    private static readonly TimeSpan CacheFor = TimeSpan.FromMinutes(1);
    private readonly ConcurrentDictionary<string, (JObject Secrets, DateTimeOffset Until)> _cache = new(StringComparer.Ordinal);

    public async Task<ConnectionContext> ForAsync(ConnectionEntity connection, CancellationToken ct)
    {
        var tenant = connection.PartitionKey;
        var settings = JObject.Parse(string.IsNullOrWhiteSpace(connection.SettingsJson) ? "{}" : connection.SettingsJson);
        if (!string.IsNullOrEmpty(connection.SecretsRef))
        {
            // Keyed by the row's ETag too: a Key Vault reference keeps its name when a refreshed token is stored.
            var now = clock.GetUtcNow();
            var cacheKey = $"{connection.SecretsRef}|{connection.ETag}";
            if (!_cache.TryGetValue(cacheKey, out var cached) || cached.Until < now)
            {
                cached = (await secrets.LoadAsync(connection.SecretsRef, ct), now + CacheFor);
                _cache[cacheKey] = cached;
                foreach (var stale in _cache.Where(e => e.Value.Until < now).Select(e => e.Key).ToList())
                {
                    _cache.TryRemove(stale, out _);
                }
            }

            settings["secrets"] = cached.Secrets.DeepClone();
        }

        return new ConnectionContext(tenant, connection.RowKey, connection.ConnectorId, settings)
        {
            SaveSecretsAsync = async (fresh, token) =>
            {
                var reference = await secrets.SaveAsync(tenant, connection.RowKey, fresh, token);
                await connections.UpdateSecretsRefAsync(tenant, connection.RowKey, reference, token);
            },
        };
    }
}

using System.Collections.Concurrent;
using Azure.Storage.Queues;

namespace Hub.LocalHost;

/// <summary>
/// Azurite queue clients for bindings. Messages are base64 on the wire (host.json <c>messageEncoding</c>), as the
/// Functions queue extension expects; serviceBus bindings use Storage queues of the same name locally.
/// </summary>
public sealed class QueueClientFactory(AppSettings settings, bool base64)
{
    private readonly ConcurrentDictionary<string, Lazy<Task<QueueClient>>> _clients = new(StringComparer.Ordinal);

    public Task<QueueClient> GetAsync(string queueName, string? connectionSetting, CancellationToken ct)
    {
        var connection = settings.QueueConnection(connectionSetting);
        return _clients.GetOrAdd($"{connection}|{queueName}", _ => new Lazy<Task<QueueClient>>(async () =>
        {
            var client = new QueueClient(connection, queueName, new QueueClientOptions
            {
                MessageEncoding = base64 ? QueueMessageEncoding.Base64 : QueueMessageEncoding.None,
            });
            await client.CreateIfNotExistsAsync(cancellationToken: ct);
            return client;
        })).Value;
    }
}

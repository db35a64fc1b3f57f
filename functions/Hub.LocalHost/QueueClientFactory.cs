using System.Collections.Concurrent;
using Azure.Storage.Queues;

namespace Hub.LocalHost;

/// <summary>
/// Azurite queue clients for bindings. Messages are base64 on the wire (host.json <c>messageEncoding</c>), as the
/// Functions queue extension expects; serviceBus bindings use Storage queues of the same name locally.
/// </summary>
/// <remarks>
/// It also wakes a queue's listener when this host itself sent to that queue (<see cref="Sent"/>). The Functions
/// host does the same for its queue outputs (the WebJobs SDK's <c>SharedQueueWatcher</c> tells the listener, which
/// polls at once instead of finishing its back-off), and Service Bus hands a message to a waiting receiver as soon as
/// it is sent. Without it a chain of messages (pull page after pull page) waited up to the polling interval at every
/// hop. Messages from anywhere else are still found by polling.
/// </remarks>
public sealed class QueueClientFactory(AppSettings settings, bool base64)
{
    private readonly ConcurrentDictionary<string, Lazy<Task<QueueClient>>> _clients = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _sent = new(StringComparer.Ordinal);

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

    /// <summary>This host put a message on <paramref name="queueName"/>: its listener, if idle, polls now.</summary>
    public void Sent(string queueName)
    {
        var signal = Signal(queueName);
        lock (signal)
        {
            if (signal.CurrentCount == 0)
            {
                signal.Release();
            }
        }
    }

    /// <summary>
    /// Waits until this host sends to <paramref name="queueName"/> or <paramref name="timeout"/> passes; true when a
    /// send woke it. A send that came while nobody waited wakes the next wait at once, so none is missed.
    /// </summary>
    public async Task<bool> WaitForSendAsync(string queueName, TimeSpan timeout, CancellationToken ct)
    {
        try
        {
            return await Signal(queueName).WaitAsync(timeout, ct);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private SemaphoreSlim Signal(string queueName) => _sent.GetOrAdd(queueName, _ => new SemaphoreSlim(0, 1));
}

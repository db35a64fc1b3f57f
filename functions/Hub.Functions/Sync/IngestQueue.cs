using Azure.Storage.Queues;
using Hub.Functions.State;
using Newtonsoft.Json;

namespace Hub.Functions.Sync;

/// <summary>
/// Sends <c>ingest</c> messages to the Storage queue IngestEvent is triggered by. ReceiveWebhook is a forwarded HTTP
/// function (it needs the raw body bytes for the signature), and a forwarded function can have no output binding, so
/// it sends with the Storage SDK itself (ADR 0011). Base64, as the queue extension reads by default.
/// Azure: <c>HubStorage__queueServiceUri</c> with the managed identity; locally the <c>HubStorage</c> connection string.
/// One message names the Inbox events of one connection that <see cref="WebhookIntake"/> stored together.
/// </summary>
public class IngestQueue
{
    public const string QueueName = "ingest";
    private readonly Lazy<Task<QueueClient>> _client;
    private long _messages;

    public IngestQueue(IConfiguration configuration)
    {
        _client = new Lazy<Task<QueueClient>>(async () =>
        {
            var options = new QueueClientOptions { MessageEncoding = QueueMessageEncoding.Base64 };
            var serviceUri = configuration["HubStorage:queueServiceUri"];
            var client = serviceUri is not null
                ? new QueueClient(new Uri(serviceUri.TrimEnd('/') + "/" + QueueName), AzureCredentials.Create(configuration), options)
                : new QueueClient(configuration["HubStorage"] ?? configuration["AzureWebJobsStorage"]
                    ?? throw new InvalidOperationException("Set HubStorage or HubStorage__queueServiceUri for the ingest queue."), QueueName, options);
            await client.CreateIfNotExistsAsync();
            return client;
        });
    }

    /// <summary>Messages sent, for /api/health (the events they named are <see cref="WebhookIntake.Counts"/>).</summary>
    public long MessagesSent => Interlocked.Read(ref _messages);

    public virtual async Task SendAsync(string tenant, string connectionId, IReadOnlyList<string> inboxKeys, CancellationToken ct)
    {
        var client = await _client.Value;
        foreach (var chunk in inboxKeys.Chunk(IngestMessage.MaxKeys))
        {
            var message = chunk.Length == 1
                ? new IngestMessage(tenant, connectionId, chunk[0])
                : new IngestMessage(tenant, connectionId, null) { InboxKeys = chunk };
            await client.SendMessageAsync(JsonConvert.SerializeObject(message), ct);
            Interlocked.Increment(ref _messages);
        }
    }
}

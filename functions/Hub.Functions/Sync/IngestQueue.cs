using Azure.Storage.Queues;
using Hub.Functions.State;
using Newtonsoft.Json;

namespace Hub.Functions.Sync;

/// <summary>
/// Sends <c>ingest</c> messages to the Storage queue IngestEvent is triggered by. ReceiveWebhook is a forwarded HTTP
/// function (it needs the raw body bytes for the signature), and a forwarded function can have no output binding, so
/// it sends with the Storage SDK itself (ADR 0011). Base64, as the queue extension reads by default.
/// Azure: <c>HubStorage__queueServiceUri</c> with the managed identity; locally the <c>HubStorage</c> connection string.
/// </summary>
public sealed class IngestQueue
{
    public const string QueueName = "ingest";
    private readonly Lazy<Task<QueueClient>> _client;

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

    public async Task SendAsync(IngestMessage message, CancellationToken ct)
    {
        var client = await _client.Value;
        await client.SendMessageAsync(JsonConvert.SerializeObject(message), ct);
    }
}

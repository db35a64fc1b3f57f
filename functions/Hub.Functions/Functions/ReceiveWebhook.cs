using System.Text;
using Hub.Connectors;
using Hub.Functions.Hosting;
using Hub.Functions.State;
using Hub.Functions.Sync;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using Newtonsoft.Json;

namespace Hub.Functions.Functions;

/// <summary>
/// <c>POST /api/webhooks/{tenant}/{connection}</c> (function <c>ReceiveWebhook</c>, forwarded HTTP so the body arrives
/// byte for byte). The route names the connection; its connector verifies the signature on the raw bytes (constant
/// time) and parses the events; each event is added to the Inbox (a duplicate event adds nothing), and the answer
/// waits for that write and nothing else, well within Shopify's and Youzan's 5 s. An <c>ingest</c> message names the
/// event after the answer (<see cref="WebhookIntake"/>, <see cref="IngestBatcher"/>, ADR 0023). A forged delivery gets
/// 401, a malformed one 400, an oversized one 413, an unknown connection 404, all as problem+json, and none of them
/// writes anything. The connection row is kept in memory for <see cref="ConnectionCacheFor"/>: a burst of deliveries
/// costs no connection read per delivery (a pause or a rotated secret applies
/// after at most that long; IngestEvent reads the connection again in any case).
/// </summary>
public static class ReceiveWebhook
{
    public static readonly TimeSpan ConnectionCacheFor = TimeSpan.FromSeconds(10);

    public static IEndpointRouteBuilder MapReceiveWebhook(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/webhooks/{tenant}/{connection}", ReceiveAsync);
        return app;
    }

    private static async Task<IResult> ReceiveAsync(
        string tenant,
        string connection,
        HttpContext http,
        ConnectionStore connections,
        ConnectionContexts contexts,
        WebhookIntake intake,
        IServiceProvider services,
        IOptions<SyncOptions> options,
        IMemoryCache cache,
        ILoggerFactory loggers,
        CancellationToken ct)
    {
        var logger = loggers.CreateLogger(typeof(ReceiveWebhook));
        try
        {
            HubTables.ValidateKey(tenant, "tenant");
            HubTables.ValidateKey(connection, "connection");
        }
        catch (ArgumentException)
        {
            return InvocationEndpoints.Problem(StatusCodes.Status404NotFound, "Unknown connection", "No connection has that address.");
        }

        var max = options.Value.MaxWebhookBytes;
        if (http.Request.ContentLength > max)
        {
            return InvocationEndpoints.Problem(StatusCodes.Status413PayloadTooLarge, "Delivery too large", $"Webhook bodies are limited to {max} bytes.");
        }

        var received = System.Diagnostics.Stopwatch.GetTimestamp();
        var body = await ReadBodyAsync(http.Request.Body, max, ct);
        if (body is null)
        {
            return InvocationEndpoints.Problem(StatusCodes.Status413PayloadTooLarge, "Delivery too large", $"Webhook bodies are limited to {max} bytes.");
        }

        var cacheKey = $"webhook-connection|{tenant}|{connection}";
        if (!cache.TryGetValue(cacheKey, out ConnectionEntity? entity))
        {
            entity = tenant == HubTables.SystemPartition ? null : await connections.GetAsync(tenant, connection, ct);
            if (entity is not null)
            {
                cache.Set(cacheKey, entity, ConnectionCacheFor);
            }
        }

        if (entity is null || services.GetKeyedService<IStoreConnector>(entity.ConnectorId) is not { } connector)
        {
            return InvocationEndpoints.Problem(StatusCodes.Status404NotFound, "Unknown connection", "No store connection has that address.");
        }

        var context = await contexts.ForAsync(entity, ct);
        WebhookBatch batch;
        try
        {
            var headers = http.Request.Headers.Select(h => new KeyValuePair<string, string>(h.Key, h.Value.ToString()));
            batch = connector.ParseWebhook(new WebhookRequest(context, body, headers));
        }
        catch (WebhookUnauthorizedException ex)
        {
            logger.LogWarning("Webhook for {Tenant}/{Connection} refused: {Reason}", tenant, connection, ex.Message);
            return InvocationEndpoints.Problem(StatusCodes.Status401Unauthorized, "Signature check failed", ex.Message);
        }
        catch (ConnectorValidationException ex)
        {
            logger.LogWarning("Webhook for {Tenant}/{Connection} is malformed: {Reason}", tenant, connection, ex.Message);
            return InvocationEndpoints.Problem(StatusCodes.Status400BadRequest, "Malformed delivery", ex.Message);
        }
        catch (JsonException ex)
        {
            return InvocationEndpoints.Problem(StatusCodes.Status400BadRequest, "Malformed delivery", ex.Message);
        }

        if (entity.Status != ConnectionStatus.Active)
        {
            // Paused: acknowledge (so the platform does not disable the subscription) and let Reconcile catch up on resume.
            return Reply(batch);
        }

        var share = body.Length / Math.Max(1, batch.Events.Count);
        var outcomes = await Task.WhenAll(batch.Events.Select(evt => intake.AddAsync(tenant, connection, evt, share, ct)));
        for (var i = 0; i < outcomes.Length; i++)
        {
            logger.LogInformation("Webhook {Topic} for {Tenant}/{Connection}: {Outcome}", batch.Events[i].Topic, tenant, connection, outcomes[i].Added ? "stored" : "duplicate");
        }

        intake.Answers.Add(System.Diagnostics.Stopwatch.GetElapsedTime(received));

        return Reply(batch);
    }

    private static IResult Reply(WebhookBatch batch) =>
        batch.ReplyJson is { } reply ? Results.Text(reply, "application/json", Encoding.UTF8) : Results.Ok();

    /// <summary>Reads the body up to <paramref name="max"/> bytes; null when it is longer (chunked bodies have no length up front).</summary>
    private static async Task<byte[]?> ReadBodyAsync(Stream body, int max, CancellationToken ct)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await body.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + read > max)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }
}

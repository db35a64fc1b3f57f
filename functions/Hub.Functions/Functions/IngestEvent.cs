using Hub.Connectors;
using Hub.Functions.Hosting;
using Hub.Functions.State;
using Hub.Functions.Sync;
using Hub.Mappings.Model;
using Newtonsoft.Json.Linq;

namespace Hub.Functions.Functions;

/// <summary>
/// <c>ingest</c> trigger (Storage queue). Takes one Inbox event and goes the same way as a pulled page: upserts are
/// stored if newer (so duplicates and out-of-order deliveries end in the newest state, applied once), deletes remove
/// the record, and the affected records and profiles are sent to <c>resolve</c>. Privacy topics are honoured here:
/// customers/redact and shop/redact erase the records from the Hub's tables and recompute the profiles they fed;
/// data_request and app/uninstalled are recorded (and uninstall pauses the connection). Each is logged in the
/// Compliance table without personal data.
/// </summary>
public sealed class IngestEvent(
    ConnectionStore connections,
    InboxStore inbox,
    RecordStore records,
    ComplianceLog compliance,
    RulesProvider rules,
    TimeProvider clock,
    ILogger<IngestEvent> logger) : IFunction
{
    public const string Name = nameof(IngestEvent);
    public const string ResolveOutput = "resolve";

    public async Task<InvocationResult> InvokeAsync(Invocation invocation, CancellationToken cancellationToken)
    {
        var message = invocation.Read<IngestMessage>("message");
        if (string.IsNullOrEmpty(message.TenantId) || string.IsNullOrEmpty(message.InboxKey))
        {
            throw new InvocationDecodingException("An ingest message needs tenantId and inboxKey.");
        }

        var result = new InvocationResult();
        var tenant = message.TenantId;
        var evt = await inbox.GetAsync(tenant, message.InboxKey, cancellationToken);
        if (evt is null || evt.Status != InboxStore.Received)
        {
            result.Logs.Add($"Inbox event {message.InboxKey} is {evt?.Status ?? "gone"}: nothing to do.");
            return result;
        }

        var now = clock.GetUtcNow();
        var connection = await connections.GetAsync(tenant, evt.ConnectionId, cancellationToken);
        if (connection is null)
        {
            await inbox.MarkAsync(tenant, evt, "dropped", "connection removed", now, cancellationToken);
            return result;
        }

        var platform = connection.ConnectorId;
        var entity = PullStream.EntityOf(evt.Stream ?? "orders");
        var region = JObject.Parse(string.IsNullOrWhiteSpace(connection.SettingsJson) ? "{}" : connection.SettingsJson).Value<string>("region");
        string note;
        switch (evt.Kind)
        {
            case WebhookEventKind.Upsert:
            {
                var ingest = await records.IngestAsync(tenant, platform, connection.RowKey, entity, evt.Records, await rules.ForTenantAsync(tenant, cancellationToken), region, now, cancellationToken);
                Send(result, ResolveMessage.Chunk(tenant, ingest.ToResolve));
                note = $"{ingest.Stored} stored, {ingest.Unchanged} unchanged, {ingest.Older} older, {ingest.Invalid.Count} invalid";
                if (ingest.Invalid.Count > 0)
                {
                    logger.LogWarning("Webhook {Topic} of {Tenant}/{Connection}: {Invalid}", evt.Topic, tenant, connection.RowKey, ingest.Invalid[0]);
                }

                break;
            }

            case WebhookEventKind.Delete:
            {
                var keys = evt.Records.Select(r => VendorId(r)).OfType<string>().Select(id => RecordStore.KeyOf(entity, new SourceRef(platform, connection.RowKey, id, null))).ToList();
                var profiles = await records.DeleteAsync(tenant, keys, cancellationToken);
                Send(result, ResolveMessage.Chunk(tenant, [], profiles));
                note = $"{keys.Count} deleted";
                break;
            }

            case WebhookEventKind.CustomerRedact:
            {
                var keys = CustomerKeys(evt, platform, connection.RowKey, "orders_to_redact");
                var profiles = await records.RedactAsync(tenant, connection.RowKey, keys, cancellationToken);
                Send(result, ResolveMessage.Chunk(tenant, [], profiles));
                await compliance.WriteAsync(tenant, connection.RowKey, evt.Topic, "erased the customer's member and order records (kept as tombstones so no later read stores them again); profiles recomputed from what other records remain", keys.Count, profiles, now, cancellationToken);
                note = $"redacted {keys.Count} record key(s)";
                break;
            }

            case WebhookEventKind.ShopRedact:
            {
                var keys = await records.KeysOfConnectionAsync(tenant, connection.RowKey, cancellationToken);
                var profiles = await records.DeleteAsync(tenant, keys, cancellationToken);
                foreach (var chunk in profiles.Chunk(ResolveMessage.MaxRecords))
                {
                    Send(result, ResolveMessage.Chunk(tenant, [], chunk));
                }

                await compliance.WriteAsync(tenant, connection.RowKey, evt.Topic, "erased every record of the shop; profiles recomputed", keys.Count, profiles, now, cancellationToken);
                note = $"shop redacted: {keys.Count} record(s)";
                break;
            }

            case WebhookEventKind.CustomerDataRequest:
            {
                var keys = CustomerKeys(evt, platform, connection.RowKey, "orders_requested");
                var held = await records.GetManyAsync(tenant, keys, cancellationToken);
                var profiles = held.Values.Select(h => h.ProfileId).OfType<string>().Distinct().ToList();
                await compliance.WriteAsync(tenant, connection.RowKey, evt.Topic, "data request recorded: the merchant exports the listed profiles from the setup page", held.Count, profiles, now, cancellationToken);
                note = $"data request: {held.Count} record(s) held";
                break;
            }

            case WebhookEventKind.Uninstalled:
            {
                connection.Status = ConnectionStatus.Paused;
                await connections.UpsertAsync(connection, cancellationToken);
                await compliance.WriteAsync(tenant, connection.RowKey, evt.Topic, "app uninstalled: connection paused; data kept until shop/redact", 0, [], now, cancellationToken);
                note = "uninstalled: connection paused";
                break;
            }

            default:
                note = "ignored";
                break;
        }

        await inbox.MarkAsync(tenant, evt, InboxStore.Ingested, note, clock.GetUtcNow(), cancellationToken);
        result.Logs.Add($"Ingested {evt.Topic} for {tenant}/{connection.RowKey}: {note}.");
        return result;
    }

    private static void Send(InvocationResult result, IEnumerable<ResolveMessage> messages)
    {
        foreach (var message in messages)
        {
            result.Send(ResolveOutput, message with { Live = true });
        }
    }

    /// <summary>The record keys a privacy request names: the customer's member record and the listed orders.</summary>
    private static List<string> CustomerKeys(InboxEvent evt, string platform, string connectionId, string ordersField)
    {
        var keys = new List<string>();
        foreach (var r in evt.Records)
        {
            if (r["customer"] is JObject customer && VendorId(customer) is { } customerId)
            {
                keys.Add(RecordStore.KeyOf("member", new SourceRef(platform, connectionId, customerId, null)));
            }

            foreach (var order in r[ordersField] as JArray ?? [])
            {
                keys.Add(RecordStore.KeyOf("order", new SourceRef(platform, connectionId, order.ToString(), null)));
            }
        }

        return keys;
    }

    private static string? VendorId(JObject record) =>
        (record["legacyResourceId"] ?? record["id"] ?? record["tid"] ?? record["yz_open_id"]) is { Type: not JTokenType.Null } id ? id.ToString() : null;
}

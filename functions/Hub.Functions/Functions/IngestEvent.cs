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
        var keys = message.Keys;
        if (string.IsNullOrEmpty(message.TenantId) || keys.Count == 0)
        {
            throw new InvocationDecodingException("An ingest message needs tenantId and inboxKey or inboxKeys.");
        }

        var result = new InvocationResult();
        var tenant = message.TenantId;
        var toResolve = new List<string>();
        var profiles = new List<string>();
        var done = new List<(InboxEvent Event, string Status, string Note)>();
        var byId = new Dictionary<string, (ConnectionEntity? Row, string? Region)>(StringComparer.Ordinal);
        foreach (var key in keys)
        {
            var evt = await inbox.GetAsync(tenant, key, cancellationToken);
            if (evt is null || evt.Status != InboxStore.Received)
            {
                result.Logs.Add($"Inbox event {key} is {evt?.Status ?? "gone"}: nothing to do.");
                continue;
            }

            if (!byId.TryGetValue(evt.ConnectionId, out var found))
            {
                // Once per connection and message: its row and the region its settings name.
                var row = await connections.GetAsync(tenant, evt.ConnectionId, cancellationToken);
                found = (row, row is null ? null : JObject.Parse(string.IsNullOrWhiteSpace(row.SettingsJson) ? "{}" : row.SettingsJson).Value<string>("region"));
                byId[evt.ConnectionId] = found;
            }

            if (found.Row is not { } connection)
            {
                done.Add((evt, "dropped", "connection removed"));
                continue;
            }

            var note = await IngestAsync(tenant, evt, connection, found.Region, toResolve, profiles, cancellationToken);
            done.Add((evt, InboxStore.Ingested, note));
            result.Logs.Add($"Ingested {evt.Topic} for {tenant}/{connection.RowKey}: {note}.");
        }

        // Every event is closed at the end, and its resolve messages go out with the result. A failure anywhere
        // before that redelivers the whole message and each event is taken again; upserts end unchanged (newest
        // version wins). Deletes and privacy topics always come alone in their message (WebhookIntake), because a
        // second run finds their records gone and could no longer name the profiles to recompute.
        foreach (var chunk in ResolveMessage.Chunk(tenant, toResolve.Distinct(StringComparer.Ordinal).ToList()))
        {
            result.Send(ResolveOutput, chunk with { Live = true });
        }

        foreach (var chunk in profiles.Distinct(StringComparer.Ordinal).Chunk(ResolveMessage.MaxRecords))
        {
            result.Send(ResolveOutput, new ResolveMessage(tenant, [], chunk) { Live = true });
        }

        await inbox.MarkManyAsync(tenant, done, clock.GetUtcNow(), cancellationToken);
        return result;
    }

    /// <summary>One event, the same way as a pulled page; returns the note the Inbox keeps.</summary>
    private async Task<string> IngestAsync(string tenant, InboxEvent evt, ConnectionEntity connection, string? region, List<string> toResolve, List<string> profiles, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        var platform = connection.ConnectorId;
        var entity = PullStream.EntityOf(evt.Stream ?? "orders");
        switch (evt.Kind)
        {
            case WebhookEventKind.Upsert:
            {
                var ingest = await records.IngestAsync(tenant, platform, connection.RowKey, entity, evt.Records, await rules.ForTenantAsync(tenant, cancellationToken), region, now, cancellationToken);
                toResolve.AddRange(ingest.ToResolve);
                if (ingest.Invalid.Count > 0)
                {
                    logger.LogWarning("Webhook {Topic} of {Tenant}/{Connection}: {Invalid}", evt.Topic, tenant, connection.RowKey, ingest.Invalid[0]);
                }

                return $"{ingest.Stored} stored, {ingest.Unchanged} unchanged, {ingest.Older} older, {ingest.Invalid.Count} invalid";
            }

            case WebhookEventKind.Delete:
            {
                var keys = evt.Records.Select(r => VendorId(r)).OfType<string>().Select(id => RecordStore.KeyOf(entity, new SourceRef(platform, connection.RowKey, id, null))).ToList();
                profiles.AddRange(await records.DeleteAsync(tenant, keys, cancellationToken));
                return $"{keys.Count} deleted";
            }

            case WebhookEventKind.CustomerRedact:
            {
                var keys = CustomerKeys(evt, platform, connection.RowKey, "orders_to_redact");
                var affected = await records.RedactAsync(tenant, connection.RowKey, keys, cancellationToken);
                profiles.AddRange(affected);
                await compliance.WriteAsync(tenant, connection.RowKey, evt.Topic, "erased the customer's member and order records (kept as tombstones so no later read stores them again); profiles recomputed from what other records remain", keys.Count, affected, now, cancellationToken);
                return $"redacted {keys.Count} record key(s)";
            }

            case WebhookEventKind.ShopRedact:
            {
                var keys = await records.KeysOfConnectionAsync(tenant, connection.RowKey, cancellationToken);
                var affected = await records.DeleteAsync(tenant, keys, cancellationToken);
                profiles.AddRange(affected);
                await compliance.WriteAsync(tenant, connection.RowKey, evt.Topic, "erased every record of the shop; profiles recomputed", keys.Count, affected, now, cancellationToken);
                return $"shop redacted: {keys.Count} record(s)";
            }

            case WebhookEventKind.CustomerDataRequest:
            {
                var keys = CustomerKeys(evt, platform, connection.RowKey, "orders_requested");
                var held = await records.GetManyAsync(tenant, keys, cancellationToken);
                var requested = held.Values.Select(h => h.ProfileId).OfType<string>().Distinct().ToList();
                await compliance.WriteAsync(tenant, connection.RowKey, evt.Topic, "data request recorded: the merchant exports the listed profiles from the setup page", held.Count, requested, now, cancellationToken);
                return $"data request: {held.Count} record(s) held";
            }

            case WebhookEventKind.Uninstalled:
            {
                connection.Status = ConnectionStatus.Paused;
                await connections.UpsertAsync(connection, cancellationToken);
                await compliance.WriteAsync(tenant, connection.RowKey, evt.Topic, "app uninstalled: connection paused; data kept until shop/redact", 0, [], now, cancellationToken);
                return "uninstalled: connection paused";
            }

            default:
                return "ignored";
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

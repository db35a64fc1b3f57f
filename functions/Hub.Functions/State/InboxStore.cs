using Azure;
using Azure.Data.Tables;
using Hub.Connectors;
using Newtonsoft.Json.Linq;

namespace Hub.Functions.State;

/// <summary>An event as the Inbox holds it.</summary>
public sealed record InboxEvent(string Key, string ConnectionId, string Topic, WebhookEventKind Kind, string? Stream, IReadOnlyList<JObject> Records, DateTimeOffset? OccurredAt, string Status, ETag ETag);

/// <summary>
/// Inbox table: every verified webhook event, once (PartitionKey = tenant, RowKey = <c>{connectionId}|SHA-256(event id)</c>).
/// Adding an event that is already there is how duplicates are recognised: the platform's retries and replays of one
/// event add nothing. Status goes <c>received</c> → <c>ingested</c>; Reconcile re-sends events left <c>received</c>.
/// </summary>
public sealed class InboxStore(HubTables tables)
{
    public const string Received = "received";
    public const string Ingested = "ingested";

    public static string KeyOf(string connectionId, string eventId) => $"{connectionId}|{Packed.KeyHash(eventId)}";

    /// <summary>Stores the event; returns false when it was already there (a duplicate delivery), with its status.</summary>
    public async Task<(bool Added, string Status)> AddAsync(string tenant, string connectionId, WebhookEvent evt, DateTimeOffset now, CancellationToken ct)
    {
        var table = await tables.GetAsync(HubTables.Inbox, ct);
        var row = NewRow(tenant, connectionId, evt, now);
        try
        {
            await table.AddEntityAsync(row, ct);
            return (true, Received);
        }
        catch (RequestFailedException ex) when (ex.Status == 409)
        {
            var existing = await table.GetEntityIfExistsAsync<TableEntity>(tenant, row.RowKey, ["Status"], ct);
            return (false, existing.HasValue ? existing.Value!.GetString("Status") ?? Received : Received);
        }
    }

    /// <summary>
    /// Stores several events of one connection (distinct event ids) in one transaction of the tenant's partition.
    /// When one of them is there already the transaction adds nothing, and each is added on its own instead, so
    /// every duplicate is still told apart. At most 100 events (a transaction's limit).
    /// </summary>
    public async Task<IReadOnlyList<(bool Added, string Status)>> AddManyAsync(string tenant, string connectionId, IReadOnlyList<WebhookEvent> events, DateTimeOffset now, CancellationToken ct)
    {
        if (events.Count <= 1)
        {
            return events.Count == 0 ? [] : [await AddAsync(tenant, connectionId, events[0], now, ct)];
        }

        var table = await tables.GetAsync(HubTables.Inbox, ct);
        try
        {
            var actions = events.Select(e => new TableTransactionAction(TableTransactionActionType.Add, NewRow(tenant, connectionId, e, now))).ToList();
            TableOperations.CountBatch(table.Name, actions);
            await table.SubmitTransactionAsync(actions, ct);
            return events.Select(_ => (true, Received)).ToList();
        }
        catch (RequestFailedException ex) when (ex.Status == 409)
        {
            var results = new List<(bool, string)>(events.Count);
            foreach (var e in events)
            {
                results.Add(await AddAsync(tenant, connectionId, e, now, ct));
            }

            return results;
        }
    }

    private static TableEntity NewRow(string tenant, string connectionId, WebhookEvent evt, DateTimeOffset now)
    {
        var row = new TableEntity(tenant, KeyOf(connectionId, evt.EventId))
        {
            ["ConnectionId"] = connectionId,
            ["Topic"] = evt.Topic,
            ["Kind"] = evt.Kind.ToString(),
            ["Stream"] = evt.Stream,
            ["OccurredAt"] = evt.OccurredAt,
            ["ReceivedAt"] = now,
            ["Status"] = Received,
            ["Deliveries"] = 1,
        };
        Packed.Write(row, "Records", new JArray(evt.Records));
        return row;
    }

    public async Task<InboxEvent?> GetAsync(string tenant, string key, CancellationToken ct)
    {
        var table = await tables.GetAsync(HubTables.Inbox, ct);
        var response = await table.GetEntityIfExistsAsync<TableEntity>(tenant, key, cancellationToken: ct);
        if (!response.HasValue || response.Value is not { } row)
        {
            return null;
        }

        var records = Packed.Read(row, "Records") as JArray ?? [];
        return new InboxEvent(
            key,
            row.GetString("ConnectionId") ?? "",
            row.GetString("Topic") ?? "",
            Enum.TryParse<WebhookEventKind>(row.GetString("Kind"), out var kind) ? kind : WebhookEventKind.Upsert,
            row.GetString("Stream"),
            records.OfType<JObject>().ToList(),
            row.GetDateTimeOffset("OccurredAt"),
            row.GetString("Status") ?? Received,
            row.ETag);
    }

    /// <summary>
    /// Closes events of one tenant, in transactions of up to 100 (one partition). Each row keeps what dedupe and the
    /// audit need and drops the records: the vendor data lives in Members/Orders from now on, where a redaction can
    /// find and erase it.
    /// </summary>
    public async Task MarkManyAsync(string tenant, IReadOnlyList<(InboxEvent Event, string Status, string Note)> events, DateTimeOffset now, CancellationToken ct)
    {
        if (events.Count == 0)
        {
            return;
        }

        var table = await tables.GetAsync(HubTables.Inbox, ct);
        await Packed.SubmitAsync(table, events.Select(e => new TableTransactionAction(TableTransactionActionType.UpdateReplace, Closed(tenant, e.Event, e.Status, e.Note, now), ETag.All)).ToList(), ct);
    }

    private static TableEntity Closed(string tenant, InboxEvent evt, string status, string? note, DateTimeOffset now) => new(tenant, evt.Key)
    {
        ["ConnectionId"] = evt.ConnectionId,
        ["Topic"] = evt.Topic,
        ["Kind"] = evt.Kind.ToString(),
        ["Stream"] = evt.Stream,
        ["OccurredAt"] = evt.OccurredAt,
        ["Status"] = status,
        ["Note"] = note,
        ["DoneAt"] = now,
    };

    /// <summary>Events received before <paramref name="before"/> and still not ingested (their ingest message was lost).</summary>
    public async Task<IReadOnlyList<(string Tenant, string Key, string ConnectionId)>> StuckAsync(DateTimeOffset before, int max, CancellationToken ct)
    {
        var table = await tables.GetAsync(HubTables.Inbox, ct);
        var list = new List<(string, string, string)>();
        await foreach (var row in table.QueryAsync<TableEntity>(r => r.GetString("Status") == Received, select: ["PartitionKey", "RowKey", "ConnectionId", "ReceivedAt"], cancellationToken: ct))
        {
            if (row.GetDateTimeOffset("ReceivedAt") is { } at && at < before)
            {
                list.Add((row.PartitionKey, row.RowKey, row.GetString("ConnectionId") ?? ""));
                if (list.Count >= max)
                {
                    break;
                }
            }
        }

        return list;
    }
}

/// <summary>
/// Compliance table: what the Hub did for each privacy request (Shopify customers/redact, shop/redact,
/// customers/data_request) and uninstall: which connection, how many records, which profiles. Never the personal data.
/// </summary>
public sealed class ComplianceLog(HubTables tables, RunStore runs)
{
    public async Task WriteAsync(string tenant, string connectionId, string topic, string action, int records, IReadOnlyCollection<string> profiles, DateTimeOffset now, CancellationToken ct)
    {
        var table = await tables.GetAsync(HubTables.Compliance, ct);
        await table.AddEntityAsync(new TableEntity(tenant, runs.NewRunId())
        {
            ["ConnectionId"] = connectionId,
            ["Topic"] = topic,
            ["Action"] = action,
            ["Records"] = records,
            ["Profiles"] = string.Join(',', profiles.Take(200)),
            ["At"] = now,
        }, ct);
    }

    public async Task<IReadOnlyList<TableEntity>> ListAsync(string tenant, int top, CancellationToken ct)
    {
        var table = await tables.GetAsync(HubTables.Compliance, ct);
        var list = new List<TableEntity>();
        await foreach (var row in table.QueryAsync<TableEntity>(r => r.PartitionKey == tenant, maxPerPage: top, cancellationToken: ct))
        {
            list.Add(row);
            if (list.Count >= top)
            {
                break;
            }
        }

        return list;
    }
}

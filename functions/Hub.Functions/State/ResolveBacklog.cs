using Azure.Data.Tables;

namespace Hub.Functions.State;

/// <summary>What a resolution took from the backlog: the records and profiles to resolve, and the rows to remove after.</summary>
/// <param name="Live">Those of the records and profiles a webhook brought (their pushes are not held by a backfill).</param>
/// <param name="Added">Those of the records their page added as new rows (<see cref="AddedRecord"/>).</param>
public sealed record BacklogBatch(IReadOnlyList<string> Records, IReadOnlyList<string> Profiles, DateTimeOffset? RulesAsOf, IReadOnlyList<TableEntity> Rows, IReadOnlySet<string> Live, IReadOnlyDictionary<string, AddedRecord> Added)
{
    public int Count => Rows.Count;
}

/// <summary>
/// Work waiting for the tenant's resolution in progress (table <c>Backlog</c>, one row per record key or profile id in
/// the tenant's partition). A <c>resolve</c> message that finds the <see cref="ResolveGate"/> taken writes its records
/// here and returns instead of waiting; the holder takes the backlog in batches before it lets go, and looks once
/// more after letting go. So a burst of single-record webhooks, or a backfill's pages, is resolved in a few large
/// batches that read each customer's component once, not once per message. One row per key: a record updated five
/// times while it waits is resolved once. Nothing is lost when a holder dies: the rows stay until a resolution has
/// written them, the records stay marked unresolved, and the scheduler nudges a backlog nobody drained.
/// </summary>
public sealed class ResolveBacklog(HubTables tables)
{
    private const string RecordPrefix = "r|";
    private const string ProfilePrefix = "p|";

    public async Task AddAsync(string tenant, IEnumerable<string> records, IEnumerable<string> profiles, DateTimeOffset? rulesAsOf, bool live, CancellationToken ct, IReadOnlyDictionary<string, AddedRecord>? added = null)
    {
        var table = await tables.GetAsync(HubTables.Backlog, ct);
        var rows = records.Distinct(StringComparer.Ordinal).Select(k => Row(tenant, RecordPrefix, k, null, live, added?.GetValueOrDefault(k)))
            .Concat(profiles.Distinct(StringComparer.Ordinal).Select(p => Row(tenant, ProfilePrefix, p, rulesAsOf, live)))
            .Select(r => new TableTransactionAction(TableTransactionActionType.UpsertReplace, r)).ToList();
        await Packed.SubmitAsync(table, rows, ct);
    }

    private static TableEntity Row(string tenant, string prefix, string key, DateTimeOffset? rulesAsOf, bool live, AddedRecord? added = null) =>
        new(tenant, prefix + Packed.RowKey(key)) { ["Key"] = key, ["RulesAsOf"] = rulesAsOf, ["Live"] = live, ["AddedVersion"] = added?.Version, ["AddedETag"] = added?.ETag };

    /// <summary>Up to <paramref name="max"/> waiting rows of the tenant, in key order.</summary>
    public async Task<BacklogBatch> TakeAsync(string tenant, int max, CancellationToken ct)
    {
        var table = await tables.GetAsync(HubTables.Backlog, ct);
        var rows = new List<TableEntity>();
        if (max > 0)
        {
            await foreach (var row in table.QueryAsync<TableEntity>(r => r.PartitionKey == tenant, maxPerPage: Math.Min(max, 1000), select: ["RowKey", "Key", "RulesAsOf", "Live", "AddedVersion", "AddedETag"], cancellationToken: ct))
            {
                row.PartitionKey = tenant;
                rows.Add(row);
                if (rows.Count >= max)
                {
                    break;
                }
            }
        }

        var records = rows.Where(r => r.RowKey.StartsWith(RecordPrefix, StringComparison.Ordinal)).Select(r => r.GetString("Key")).ToList();
        var profiles = rows.Where(r => r.RowKey.StartsWith(ProfilePrefix, StringComparison.Ordinal)).Select(r => r.GetString("Key")).ToList();
        var asOf = rows.Select(r => r.GetDateTimeOffset("RulesAsOf")).Max();
        var live = rows.Where(r => r.GetBoolean("Live") == true).Select(r => r.GetString("Key")).ToHashSet(StringComparer.Ordinal);
        var added = rows.Where(r => r.RowKey.StartsWith(RecordPrefix, StringComparison.Ordinal) && r.GetString("AddedVersion") is not null && r.GetString("AddedETag") is not null)
            .ToDictionary(r => r.GetString("Key"), r => new AddedRecord(r.GetString("AddedVersion"), r.GetString("AddedETag")), StringComparer.Ordinal);
        return new BacklogBatch(records, profiles, asOf, rows, live, added);
    }

    /// <summary>
    /// Removes rows a resolution has written. A row written again since it was taken (the record changed once more)
    /// keeps its new ETag and stays for the next batch.
    /// </summary>
    public async Task RemoveAsync(BacklogBatch batch, CancellationToken ct)
    {
        if (batch.Count == 0)
        {
            return;
        }

        await Packed.DeleteUnchangedAsync(await tables.GetAsync(HubTables.Backlog, ct), batch.Rows, ct);
    }

    /// <summary>Whether anything waits (after <paramref name="olderThan"/>, only rows written before that time).</summary>
    public async Task<bool> AnyAsync(string tenant, CancellationToken ct, DateTimeOffset? olderThan = null)
    {
        var table = await tables.GetAsync(HubTables.Backlog, ct);
        var filter = olderThan is { } before
            ? TableClient.CreateQueryFilter($"PartitionKey eq {tenant} and Timestamp lt {before}")
            : TableClient.CreateQueryFilter($"PartitionKey eq {tenant}");
        await foreach (var _ in table.QueryAsync<TableEntity>(filter, maxPerPage: 1, select: ["RowKey"], cancellationToken: ct))
        {
            return true;
        }

        return false;
    }
}

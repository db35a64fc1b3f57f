using Azure.Data.Tables;
using Newtonsoft.Json.Linq;

namespace Hub.Functions.State;

/// <summary>What a resolution took from the backlog: the records and profiles to resolve, and the rows to remove after.</summary>
/// <param name="Live">Those of the records and profiles a webhook brought (their pushes are not held by a backfill).</param>
/// <param name="Added">Those of the records their page added as new rows (<see cref="AddedRecord"/>), where every mention agrees.</param>
public sealed record BacklogBatch(IReadOnlyList<string> Records, IReadOnlyList<string> Profiles, DateTimeOffset? RulesAsOf, IReadOnlyList<TableEntity> Rows, IReadOnlySet<string> Live, IReadOnlyDictionary<string, AddedRecord> Added)
{
    /// <summary>Records and profiles taken.</summary>
    public int Count => Records.Count + Profiles.Count;
}

/// <summary>
/// Work waiting for the tenant's resolution in progress (table <c>Backlog</c>, in the tenant's partition). A
/// <c>resolve</c> message that finds the <see cref="ResolveGate"/> taken writes its records here and returns instead of
/// waiting; the holder takes the backlog in batches before it lets go, and looks once more after letting go. So a
/// burst of single-record webhooks, or a backfill's pages, is resolved in a few large batches that read each
/// customer's component once, not once per message. Nothing is lost when a holder dies: the rows stay until a
/// resolution has written them, the records stay marked unresolved, and the scheduler nudges a backlog nobody drained.
/// <para>
/// One row per message (up to <see cref="KeysPerRow"/> keys, packed), oldest first: a backfill of 100,000 orders
/// waits in about a thousand rows, not a hundred thousand. Each row is written once and removed once, so a row key
/// is never rewritten: a record mentioned again while an earlier mention is being resolved is in a row of its own,
/// which stays for the next batch. Keys mentioned by several rows of a batch are resolved once. Rows of the earlier
/// layout (one row per key, with <c>Key</c>) are still read, so a backlog written before an upgrade is drained.
/// </para>
/// </summary>
public sealed class ResolveBacklog(HubTables tables)
{
    /// <summary>Records and profiles one backlog row holds at most.</summary>
    public const int KeysPerRow = 100;

    private const string RecordPrefix = "r|";
    private const string ProfilePrefix = "p|";

    public async Task AddAsync(string tenant, IEnumerable<string> records, IEnumerable<string> profiles, DateTimeOffset? rulesAsOf, bool live, CancellationToken ct, IReadOnlyDictionary<string, AddedRecord>? added = null)
    {
        var items = records.Distinct(StringComparer.Ordinal).Select(k => (Profile: false, Key: k))
            .Concat(profiles.Distinct(StringComparer.Ordinal).Select(p => (Profile: true, Key: p)));
        var now = DateTimeOffset.UtcNow.UtcTicks;
        var rows = items.Chunk(KeysPerRow).Select(chunk =>
        {
            var row = new TableEntity(tenant, $"{now:D19}|{Guid.NewGuid():N}") { ["RulesAsOf"] = rulesAsOf, ["Live"] = live, ["Keys"] = chunk.Length };
            var addedHere = new JObject();
            foreach (var (_, key) in chunk.Where(c => !c.Profile))
            {
                if (added?.GetValueOrDefault(key) is { } info)
                {
                    addedHere[key] = new JArray(info.Version, info.ETag);
                }
            }

            Packed.Write(row, "Items", new JObject
            {
                ["r"] = new JArray(chunk.Where(c => !c.Profile).Select(c => c.Key)),
                ["p"] = new JArray(chunk.Where(c => c.Profile).Select(c => c.Key)),
                ["a"] = addedHere,
            });
            return new TableTransactionAction(TableTransactionActionType.Add, row);
        }).ToList();
        await Packed.SubmitAsync(await tables.GetAsync(HubTables.Backlog, ct), rows, ct);
    }

    /// <summary>The oldest waiting rows of the tenant, up to <paramref name="max"/> records and profiles (at least one row).</summary>
    public async Task<BacklogBatch> TakeAsync(string tenant, int max, CancellationToken ct)
    {
        var table = await tables.GetAsync(HubTables.Backlog, ct);
        var rows = new List<TableEntity>();
        var records = new List<string>();
        var profiles = new List<string>();
        var seenRecords = new HashSet<string>(StringComparer.Ordinal);
        var seenProfiles = new HashSet<string>(StringComparer.Ordinal);
        var live = new HashSet<string>(StringComparer.Ordinal);
        var added = new Dictionary<string, AddedRecord>(StringComparer.Ordinal);
        var refused = new HashSet<string>(StringComparer.Ordinal); // mentioned without (or with other) added info
        DateTimeOffset? asOf = null;
        var taken = 0;
        if (max > 0)
        {
            await foreach (var row in table.QueryAsync<TableEntity>(r => r.PartitionKey == tenant, maxPerPage: 100, cancellationToken: ct))
            {
                var (rowRecords, rowProfiles, rowAdded) = ItemsOf(row);
                if (taken > 0 && taken + rowRecords.Count + rowProfiles.Count > max)
                {
                    break;
                }

                row.PartitionKey = tenant;
                rows.Add(row);
                taken += rowRecords.Count + rowProfiles.Count;
                asOf = new[] { asOf, row.GetDateTimeOffset("RulesAsOf") }.Max();
                var isLive = row.GetBoolean("Live") == true;
                foreach (var key in rowRecords)
                {
                    if (seenRecords.Add(key))
                    {
                        records.Add(key);
                    }

                    if (isLive)
                    {
                        live.Add(key);
                    }

                    var info = rowAdded.GetValueOrDefault(key);
                    if (info is null || refused.Contains(key) || (added.TryGetValue(key, out var other) && other != info))
                    {
                        refused.Add(key);
                        added.Remove(key);
                    }
                    else
                    {
                        added[key] = info;
                    }
                }

                foreach (var id in rowProfiles)
                {
                    if (seenProfiles.Add(id))
                    {
                        profiles.Add(id);
                    }

                    if (isLive)
                    {
                        live.Add(id);
                    }
                }

                if (taken >= max)
                {
                    break;
                }
            }
        }

        return new BacklogBatch(records, profiles, asOf, rows, live, added);
    }

    private static (IReadOnlyList<string> Records, IReadOnlyList<string> Profiles, IReadOnlyDictionary<string, AddedRecord> Added) ItemsOf(TableEntity row)
    {
        if (row.GetString("Key") is { } key)
        {
            // The earlier layout: one key per row.
            var isRecord = row.RowKey.StartsWith(RecordPrefix, StringComparison.Ordinal);
            var info = isRecord && row.GetString("AddedVersion") is { } version && row.GetString("AddedETag") is { } etag ? new AddedRecord(version, etag) : null;
            return isRecord
                ? ([key], [], info is null ? new Dictionary<string, AddedRecord>() : new Dictionary<string, AddedRecord> { [key] = info })
                : row.RowKey.StartsWith(ProfilePrefix, StringComparison.Ordinal) ? ([], [key], new Dictionary<string, AddedRecord>()) : ([], [], new Dictionary<string, AddedRecord>());
        }

        var items = Packed.Read(row, "Items") as JObject ?? [];
        var addedInfo = (items["a"] as JObject ?? []).Properties()
            .Where(p => p.Value is JArray { Count: 2 })
            .ToDictionary(p => p.Name, p => new AddedRecord(p.Value[0]!.ToString(), p.Value[1]!.ToString()), StringComparer.Ordinal);
        return ((items["r"] as JArray ?? []).Select(t => t.ToString()).ToList(), (items["p"] as JArray ?? []).Select(t => t.ToString()).ToList(), addedInfo);
    }

    /// <summary>Removes the rows a resolution took and has written.</summary>
    public async Task RemoveAsync(BacklogBatch batch, CancellationToken ct)
    {
        if (batch.Rows.Count == 0)
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

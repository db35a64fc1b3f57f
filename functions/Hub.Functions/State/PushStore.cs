using Azure;
using Azure.Data.Tables;
using Newtonsoft.Json.Linq;

namespace Hub.Functions.State;

/// <summary>
/// The push side's tables, all keyed <c>{crmConnectionId}|{module}|{profileId}</c> in the tenant's partition:
/// <list type="bullet">
/// <item><c>Pending</c>: profiles whose payload differs from what the CRM last accepted (the outbox PushCrm drains),
/// with attempts and a not-before time for back-off; plus one lease row per connection and module.</item>
/// <item><c>Ledger</c>: per profile and target, the CRM id it is bound to and the hash of the payload last written.</item>
/// <item><c>Failures</c>: records the CRM refused (its code and message, the payload, attempts), open until a later push
/// of the profile succeeds; replayable one by one or by filter.</item>
/// </list>
/// </summary>
public sealed class PushStore(HubTables tables)
{
    public const string LeaseSuffix = "~lease";

    public static string Key(string connectionId, string module, string profileId) => $"{connectionId}|{module}|{profileId}";

    public static string Prefix(string connectionId, string module) => $"{connectionId}|{module}|";

    public static string ProfileOf(string rowKey) => rowKey.Split('|')[2];

    /// <summary>
    /// An outbox row that merges the CRM record of <paramref name="mergedId"/> into that of <paramref name="survivorId"/>
    /// once the survivor is written. It sorts right after the survivor's own row.
    /// </summary>
    public static string MergeKey(string connectionId, string module, string survivorId, string mergedId) => $"{Key(connectionId, module, survivorId)}|m|{mergedId}";

    /// <summary>The merged profile of a merge row, or null for a push row.</summary>
    public static string? MergedOf(string rowKey) => rowKey.Split('|') is { Length: 5 } parts && parts[3] == "m" ? parts[4] : null;

    public async Task EnqueueMergesAsync(string tenant, string connectionId, string module, IEnumerable<(string SurvivorId, string MergedId)> merges, CancellationToken ct)
    {
        var table = await tables.GetAsync(HubTables.Pending, ct);
        var actions = merges.Select(m => new TableTransactionAction(TableTransactionActionType.UpsertReplace, new TableEntity(tenant, MergeKey(connectionId, module, m.SurvivorId, m.MergedId)) { ["Attempts"] = 0 })).ToList();
        await Packed.SubmitAsync(table, actions, ct);
    }

    public async Task DeleteLedgerAsync(string tenant, string connectionId, string module, string profileId, CancellationToken ct)
    {
        var table = await tables.GetAsync(HubTables.Ledger, ct);
        await table.DeleteEntityAsync(tenant, Key(connectionId, module, profileId), ETag.All, ct);
    }

    /// <summary>
    /// The Ledger or Failures rows of these profiles for one connection and module (of Failures, only open ones matter
    /// to callers, and only those are certain to be returned). For many profiles, one query first reads every such row
    /// of the module: when they fit in one page (a first sync, where the Ledger is empty, or a tenant with a few
    /// thousand contacts), that one request replaces a point read per profile. Otherwise the rows are read one by one.
    /// </summary>
    public async Task<Dictionary<string, TableEntity>> ReadAsync(string table, string tenant, string connectionId, string module, IEnumerable<string> profileIds, CancellationToken ct)
    {
        var client = await tables.GetAsync(table, ct);
        var ids = profileIds.Distinct(StringComparer.Ordinal).ToList();
        if (ids.Count >= ScanFrom)
        {
            var from = Prefix(connectionId, module);
            var to = from[..^1] + (char)(from[^1] + 1);
            var filter = table == HubTables.Failures
                ? TableClient.CreateQueryFilter($"PartitionKey eq {tenant} and RowKey ge {from} and RowKey lt {to} and Status eq 'open'")
                : TableClient.CreateQueryFilter($"PartitionKey eq {tenant} and RowKey ge {from} and RowKey lt {to}");
            await foreach (var page in client.QueryAsync<TableEntity>(filter, maxPerPage: 1000, cancellationToken: ct).AsPages())
            {
                if (page.ContinuationToken is null)
                {
                    var wanted = ids.ToHashSet(StringComparer.Ordinal);
                    return page.Values.Select(r => (Id: ProfileOf(r.RowKey), Row: r)).Where(r => wanted.Contains(r.Id)).ToDictionary(r => r.Id, r => r.Row, StringComparer.Ordinal);
                }

                break; // more than a page: point reads cost less than reading the module's every row
            }
        }

        var rows = await Packed.ReadManyAsync(client, tenant, ids.Select(p => Key(connectionId, module, p)), ct);
        return rows.ToDictionary(r => ProfileOf(r.Key), r => r.Value, StringComparer.Ordinal);
    }

    /// <summary>From how many profiles <see cref="ReadAsync"/> tries one query before point reads.</summary>
    public const int ScanFrom = 50;

    /// <summary>
    /// Adds (or refreshes) outbox rows; a refreshed row loses its back-off and gets a new ETag. <c>Live</c> rows (a
    /// webhook's change) and <c>Force</c> rows (a replay) are not held while a backfill runs. <c>Hash</c> is the payload
    /// the planner checked against the Ledger, for whoever reads the row; a held row has none (it was not checked).
    /// The drain maps each profile again and decides from that.
    /// </summary>
    public async Task EnqueueAsync(string tenant, string connectionId, string module, IEnumerable<(string ProfileId, string Hash, bool Force, bool Live)> items, CancellationToken ct)
    {
        var table = await tables.GetAsync(HubTables.Pending, ct);
        var actions = items.Select(i => new TableTransactionAction(TableTransactionActionType.UpsertReplace, new TableEntity(tenant, Key(connectionId, module, i.ProfileId))
        {
            ["Hash"] = i.Hash,
            ["Force"] = i.Force,
            ["Live"] = i.Live,
            ["Attempts"] = 0,
        })).ToList();
        await Packed.SubmitAsync(table, actions, ct);
    }

    /// <summary>Whether an outbox row waits for the backfill in progress (not a webhook's change, a replay or a merge).</summary>
    public static bool IsHeld(TableEntity row, bool backfilling) =>
        backfilling && row.GetBoolean("Live") != true && row.GetBoolean("Force") != true && MergedOf(row.RowKey) is null;

    /// <summary>Outbox rows due now, oldest key first, up to <paramref name="max"/>; while <paramref name="backfilling"/>, held rows are left.</summary>
    public async Task<List<TableEntity>> DueAsync(string tenant, string connectionId, string module, int max, DateTimeOffset now, CancellationToken ct, bool backfilling = false)
    {
        var table = await tables.GetAsync(HubTables.Pending, ct);
        var from = Prefix(connectionId, module);
        var to = from + LeaseSuffix;
        var due = new List<TableEntity>(Math.Min(max, 1000));
        await foreach (var row in table.QueryAsync<TableEntity>(r => r.PartitionKey == tenant && r.RowKey.CompareTo(from) >= 0 && r.RowKey.CompareTo(to) < 0, cancellationToken: ct))
        {
            if ((row.GetDateTimeOffset("NotBefore") is { } notBefore && notBefore > now) || IsHeld(row, backfilling))
            {
                continue;
            }

            due.Add(row);
            if (due.Count >= max)
            {
                break;
            }
        }

        return due;
    }

    /// <summary>Every (connection, module) with outbox rows due, for the scheduler's nudge (held rows are not due while <paramref name="backfilling"/>).</summary>
    public async Task<IReadOnlyList<(string ConnectionId, string Module)>> DueTargetsAsync(string tenant, DateTimeOffset now, CancellationToken ct, bool backfilling = false)
    {
        var table = await tables.GetAsync(HubTables.Pending, ct);
        var found = new HashSet<(string, string)>();
        await foreach (var row in table.QueryAsync<TableEntity>(r => r.PartitionKey == tenant, select: ["RowKey", "NotBefore", "Live", "Force"], cancellationToken: ct))
        {
            var parts = row.RowKey.Split('|');
            if (parts.Length >= 3 && parts[2] != LeaseSuffix && (row.GetDateTimeOffset("NotBefore") is not { } nb || nb <= now) && !IsHeld(row, backfilling))
            {
                found.Add((parts[0], parts[1]));
            }
        }

        return found.ToList();
    }

    /// <summary>Takes the drain lease of one connection and module: one pusher at a time fills whole batches.</summary>
    public async Task<TableEntity?> TryLeaseAsync(string tenant, string connectionId, string module, string owner, DateTimeOffset now, TimeSpan duration, CancellationToken ct) =>
        (await TakeLeaseAsync(tenant, connectionId, module, owner, now, duration, current =>
            current is null || current.GetString("Owner") == owner || current.GetDateTimeOffset("Until") is not { } until || until <= now, ct))?.Lease;

    /// <summary>
    /// Reads the lease row and, when <paramref name="mayTake"/> allows it (null: there is no row), writes it for
    /// <paramref name="owner"/> on the ETag it read: the lease and the ETag the row had (default when it was added).
    /// Null when the row may not be taken or changed meanwhile.
    /// </summary>
    private async Task<(TableEntity Lease, ETag Found)?> TakeLeaseAsync(string tenant, string connectionId, string module, string owner, DateTimeOffset now, TimeSpan duration, Func<TableEntity?, bool> mayTake, CancellationToken ct, bool keepMarks = false)
    {
        var table = await tables.GetAsync(HubTables.Pending, ct);
        var key = Prefix(connectionId, module) + LeaseSuffix;
        var existing = await table.GetEntityIfExistsAsync<TableEntity>(tenant, key, cancellationToken: ct);
        var current = existing.HasValue ? existing.Value : null;
        if (!mayTake(current))
        {
            return null;
        }

        var lease = new TableEntity(tenant, key);
        if (keepMarks && current is not null)
        {
            CopyMarks(current, lease);
        }

        lease["Owner"] = owner;
        lease["Until"] = now + duration;

        try
        {
            var written = current is null ? await table.AddEntityAsync(lease, ct) : await table.UpdateEntityAsync(lease, current.ETag, TableUpdateMode.Replace, ct);
            lease.ETag = written.Headers.ETag ?? default;
            return (lease, current?.ETag ?? default);
        }
        catch (RequestFailedException ex) when (ex.Status is 409 or 412)
        {
            return null;
        }
    }

    /// <summary>
    /// Passes a held lease on to <paramref name="token"/>, on the lease's ETag: the lease row names the token as its
    /// owner until <paramref name="until"/>, and the row's new ETag is returned. Null when the row changed since the
    /// lease's last renewal (disturbed or taken over): nothing was passed.
    /// </summary>
    public async Task<ETag?> PassLeaseAsync(TableEntity lease, string token, DateTimeOffset until, CancellationToken ct)
    {
        var table = await tables.GetAsync(HubTables.Pending, ct);
        var passed = new TableEntity(lease.PartitionKey, lease.RowKey);
        CopyMarks(lease, passed);
        passed["Owner"] = token;
        passed["Until"] = until;

        try
        {
            var response = await table.UpdateEntityAsync(passed, lease.ETag, TableUpdateMode.Replace, ct);
            return response.Headers.ETag;
        }
        catch (RequestFailedException ex) when (ex.Status is 404 or 412)
        {
            return null;
        }
    }

    /// <summary>
    /// Takes a lease passed to <paramref name="token"/> (<see cref="PassLeaseAsync"/>) under a new owner, whatever its
    /// time left: the lease and the ETag the row had when it was taken. Null when the row no longer names the token
    /// (it ran out and was taken, or the token was used already).
    /// </summary>
    public Task<(TableEntity Lease, ETag Found)?> TakePassedLeaseAsync(string tenant, string connectionId, string module, string token, string owner, DateTimeOffset now, TimeSpan duration, CancellationToken ct) =>
        TakeLeaseAsync(tenant, connectionId, module, owner, now, duration, current => current?.GetString("Owner") == token, ct, keepMarks: true);

    /// <summary>
    /// A hand-over keeps what the holder marked on its lease row (ResolveGate's outbox mark): every property but the
    /// owner, the time and a disturbance, which the new holder starts without.
    /// </summary>
    private static void CopyMarks(TableEntity from, TableEntity to)
    {
        foreach (var (name, value) in from)
        {
            if (name is not ("PartitionKey" or "RowKey" or "Timestamp" or "odata.etag" or "Owner" or "Until" or "DisturbedAt"))
            {
                to[name] = value;
            }
        }
    }

    /// <summary>Until when the lease of one connection and module is held, or null when nobody holds it.</summary>
    public async Task<DateTimeOffset?> LeaseUntilAsync(string tenant, string connectionId, string module, CancellationToken ct)
    {
        var table = await tables.GetAsync(HubTables.Pending, ct);
        var row = await table.GetEntityIfExistsAsync<TableEntity>(tenant, Prefix(connectionId, module) + LeaseSuffix, ["Until"], ct);
        return row.HasValue ? row.Value?.GetDateTimeOffset("Until") : null;
    }

    public async Task<bool> RenewLeaseAsync(TableEntity lease, DateTimeOffset until, CancellationToken ct)
    {
        var table = await tables.GetAsync(HubTables.Pending, ct);
        lease["Until"] = until;
        try
        {
            var response = await table.UpdateEntityAsync(lease, lease.ETag, TableUpdateMode.Replace, ct);
            lease.ETag = response.Headers.ETag ?? default;
            return true;
        }
        catch (RequestFailedException ex) when (ex.Status is 404 or 412)
        {
            return false;
        }
    }

    /// <summary>Touches a lease row (any holder's) so that its holder's next renewal fails; the lease itself is left as it is.</summary>
    public async Task DisturbLeaseAsync(string tenant, string rowKey, DateTimeOffset now, CancellationToken ct)
    {
        var table = await tables.GetAsync(HubTables.Pending, ct);
        try
        {
            await table.UpdateEntityAsync(new TableEntity(tenant, rowKey) { ["DisturbedAt"] = now }, ETag.All, TableUpdateMode.Merge, ct);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
        }
    }

    /// <summary>The lease row as it is now, or null when there is none (one point read).</summary>
    public async Task<TableEntity?> LeaseRowAsync(string tenant, string rowKey, CancellationToken ct)
    {
        var table = await tables.GetAsync(HubTables.Pending, ct);
        var row = await table.GetEntityIfExistsAsync<TableEntity>(tenant, rowKey, cancellationToken: ct);
        return row.HasValue ? row.Value : null;
    }

    /// <summary>
    /// <see cref="DisturbLeaseAsync"/> only if the row still has <paramref name="seen"/>: false when it changed or went
    /// meanwhile (its holder renewed it, someone took it, or it was released).
    /// </summary>
    public async Task<bool> DisturbLeaseIfUnchangedAsync(string tenant, string rowKey, ETag seen, DateTimeOffset now, CancellationToken ct)
    {
        var table = await tables.GetAsync(HubTables.Pending, ct);
        try
        {
            await table.UpdateEntityAsync(new TableEntity(tenant, rowKey) { ["DisturbedAt"] = now }, seen, TableUpdateMode.Merge, ct);
            return true;
        }
        catch (RequestFailedException ex) when (ex.Status is 404 or 412)
        {
            return false;
        }
    }

    /// <summary>
    /// After a renewal failed on its ETag: if the row still names this lease's owner (it was only touched by
    /// <see cref="DisturbLeaseAsync"/>), renews it on its current ETag and returns true; false when someone else holds it.
    /// </summary>
    public async Task<bool> ReclaimLeaseAsync(TableEntity lease, DateTimeOffset until, CancellationToken ct)
    {
        var table = await tables.GetAsync(HubTables.Pending, ct);
        var current = await table.GetEntityIfExistsAsync<TableEntity>(lease.PartitionKey, lease.RowKey, cancellationToken: ct);
        if (!current.HasValue || current.Value is null || current.Value.GetString("Owner") != lease.GetString("Owner"))
        {
            return false;
        }

        lease.ETag = current.Value.ETag;
        return await RenewLeaseAsync(lease, until, ct);
    }

    public async Task ReleaseLeaseAsync(TableEntity lease, CancellationToken ct)
    {
        var table = await tables.GetAsync(HubTables.Pending, ct);
        try
        {
            await table.DeleteEntityAsync(lease.PartitionKey, lease.RowKey, lease.ETag, ct);
        }
        catch (RequestFailedException ex) when (ex.Status == 412)
        {
            // Disturbed (DisturbLeaseAsync) since the last renewal, or taken over: released only if still ours.
            var current = await table.GetEntityIfExistsAsync<TableEntity>(lease.PartitionKey, lease.RowKey, cancellationToken: ct);
            if (current.HasValue && current.Value is { } row && row.GetString("Owner") == lease.GetString("Owner"))
            {
                try
                {
                    await table.DeleteEntityAsync(lease.PartitionKey, lease.RowKey, row.ETag, ct);
                }
                catch (RequestFailedException again) when (again.Status is 404 or 412)
                {
                }
            }
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
        }
    }

    /// <summary>Removes an outbox row unless it was refreshed meanwhile (then it is pushed again with the newer payload).</summary>
    public async Task CompleteAsync(TableEntity pending, CancellationToken ct)
    {
        var table = await tables.GetAsync(HubTables.Pending, ct);
        try
        {
            await table.DeleteEntityAsync(pending.PartitionKey, pending.RowKey, pending.ETag, ct);
        }
        catch (RequestFailedException ex) when (ex.Status is 404 or 412)
        {
        }
    }

    /// <summary><see cref="CompleteAsync"/> for many rows, in transactions (<see cref="Packed.DeleteUnchangedAsync"/>).</summary>
    public async Task CompleteManyAsync(IReadOnlyCollection<TableEntity> rows, CancellationToken ct) =>
        await Packed.DeleteUnchangedAsync(await tables.GetAsync(HubTables.Pending, ct), rows, ct);

    public async Task RetryLaterAsync(TableEntity pending, int attempts, DateTimeOffset notBefore, string error, CancellationToken ct)
    {
        var table = await tables.GetAsync(HubTables.Pending, ct);
        try
        {
            await table.UpdateEntityAsync(new TableEntity(pending.PartitionKey, pending.RowKey)
            {
                ["Attempts"] = attempts,
                ["NotBefore"] = notBefore,
                ["LastError"] = error.Length > 1000 ? error[..1000] : error,
            }, pending.ETag, TableUpdateMode.Merge, ct);
        }
        catch (RequestFailedException ex) when (ex.Status is 404 or 412)
        {
        }
    }

    public async Task WriteLedgerAsync(string tenant, IEnumerable<TableEntity> rows, CancellationToken ct)
    {
        var table = await tables.GetAsync(HubTables.Ledger, ct);
        await Packed.SubmitAsync(table, rows.Select(r => { r.PartitionKey = tenant; return new TableTransactionAction(TableTransactionActionType.UpsertReplace, r); }).ToList(), ct);
    }

    /// <summary>Records (or updates) an open failure, counting attempts across pushes.</summary>
    public async Task RecordFailureAsync(string tenant, string connectionId, string module, string profileId, string kind, string? code, string message, JObject? payload, string? hash, DateTimeOffset now, CancellationToken ct)
    {
        var table = await tables.GetAsync(HubTables.Failures, ct);
        var key = Key(connectionId, module, profileId);
        var existing = await table.GetEntityIfExistsAsync<TableEntity>(tenant, key, cancellationToken: ct);
        var previous = existing.HasValue ? existing.Value : null;
        var row = new TableEntity(tenant, key)
        {
            ["ConnectionId"] = connectionId,
            ["Module"] = module,
            ["ProfileId"] = profileId,
            ["Status"] = "open",
            ["Kind"] = kind,
            ["Code"] = code,
            ["Message"] = message.Length > 4000 ? message[..4000] : message,
            ["Hash"] = hash,
            ["Attempts"] = (previous?.GetString("Status") == "open" ? previous.GetInt32("Attempts") ?? 0 : 0) + 1,
            ["FirstFailedAt"] = previous?.GetString("Status") == "open" ? previous.GetDateTimeOffset("FirstFailedAt") ?? now : now,
            ["LastFailedAt"] = now,
        };
        if (payload is not null)
        {
            Packed.Write(row, "Payload", payload);
        }

        await table.UpsertEntityAsync(row, TableUpdateMode.Replace, ct);
    }

    /// <summary>Whether a failure row is open for exactly this payload: the CRM refused it, and sending it again cannot help until a fix and a replay.</summary>
    public static bool StillRefused(TableEntity? failure, string hash) =>
        failure?.GetString("Status") == "open" && failure.GetString("Hash") == hash;

    /// <summary>A later push of these profiles succeeded: their open failures (rows as read before the push) are closed and kept for history.</summary>
    public async Task CloseFailuresAsync(string tenant, IEnumerable<TableEntity> failures, DateTimeOffset now, CancellationToken ct)
    {
        var table = await tables.GetAsync(HubTables.Failures, ct);
        foreach (var row in failures.Where(r => r.GetString("Status") == "open"))
        {
            try
            {
                // Whatever happened to the row since it was read, the CRM has just accepted this profile.
                await table.UpdateEntityAsync(new TableEntity(tenant, row.RowKey) { ["Status"] = "resolved", ["ResolvedAt"] = now }, ETag.All, TableUpdateMode.Merge, ct);
            }
            catch (RequestFailedException ex) when (ex.Status == 404)
            {
            }
        }
    }

    public async Task<List<TableEntity>> FailuresAsync(string tenant, string? connectionId, string? status, int max, CancellationToken ct)
    {
        var table = await tables.GetAsync(HubTables.Failures, ct);
        var list = new List<TableEntity>();
        await foreach (var row in table.QueryAsync<TableEntity>(r => r.PartitionKey == tenant, cancellationToken: ct))
        {
            if ((connectionId is null || row.GetString("ConnectionId") == connectionId) && (status is null || row.GetString("Status") == status))
            {
                list.Add(row);
                if (list.Count >= max)
                {
                    break;
                }
            }
        }

        return list;
    }

    /// <summary>
    /// Open failures per connection, for the connections page (refreshed every few seconds): one filtered query of
    /// the tenant's partition that brings back two small columns, never the payloads.
    /// </summary>
    public async Task<Dictionary<string, int>> OpenFailureCountsAsync(string tenant, CancellationToken ct)
    {
        var table = await tables.GetAsync(HubTables.Failures, ct);
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        await foreach (var row in table.QueryAsync<TableEntity>(r => r.PartitionKey == tenant && r.GetString("Status") == "open", select: ["ConnectionId"], cancellationToken: ct))
        {
            var connection = row.GetString("ConnectionId") ?? "";
            counts[connection] = counts.GetValueOrDefault(connection) + 1;
        }

        return counts;
    }

    public async Task MarkReplayedAsync(TableEntity failure, DateTimeOffset now, CancellationToken ct)
    {
        var table = await tables.GetAsync(HubTables.Failures, ct);
        await table.UpdateEntityAsync(new TableEntity(failure.PartitionKey, failure.RowKey) { ["ReplayedAt"] = now }, ETag.All, TableUpdateMode.Merge, ct);
    }

    /// <summary>Forgets a removed profile on every target (its outbox rows).</summary>
    public async Task ForgetPendingAsync(string tenant, IEnumerable<string> keys, CancellationToken ct)
    {
        var table = await tables.GetAsync(HubTables.Pending, ct);
        foreach (var key in keys)
        {
            await table.DeleteEntityAsync(tenant, key, ETag.All, ct);
        }
    }
}

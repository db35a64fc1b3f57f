using Azure;
using Azure.Data.Tables;
using Hub.Mappings.Model;
using Hub.Mappings.Rules;
using Newtonsoft.Json.Linq;

namespace Hub.Functions.State;

/// <summary>What storing a page of vendor records changed.</summary>
/// <param name="ToResolve">Record keys whose newest version has not been resolved into a profile yet.</param>
/// <param name="Invalid">One line per record the source rules refused (its issues, never its values).</param>
public sealed record IngestResult(IReadOnlyList<string> ToResolve, int Stored, int Unchanged, int Older, IReadOnlyList<string> Invalid, int Redacted = 0)
{
    public int InvalidCount { get; init; } = Invalid.Count;

    /// <summary>Of <see cref="ToResolve"/>, the records this page added as new rows: their version and the row's ETag.</summary>
    public IReadOnlyDictionary<string, AddedRecord> Added { get; init; } = new Dictionary<string, AddedRecord>();
}

/// <summary>
/// A record row just added (never resolved, no profile yet): its version and ETag. A resolution given these, with the
/// version's mapped record in its cache, resolves the record without reading it; marking it resolved is checked on
/// this ETag, so a record changed or erased since makes that resolution start over from fresh reads.
/// </summary>
public sealed record AddedRecord([property: Newtonsoft.Json.JsonProperty("v")] string Version, [property: Newtonsoft.Json.JsonProperty("e")] string ETag);

/// <summary>A stored vendor record: its raw JSON (re-mapped with the current rules on every resolve) and its profile.</summary>
public sealed record StoredRecord(string Key, string Platform, string ConnectionId, string? Region, DateTimeOffset? VendorUpdatedAt, JToken Raw, string? ProfileId, string Version, string? ResolvedVersion, ETag ETag)
{
    public bool IsMember => Key.StartsWith("m:", StringComparison.Ordinal);
}

/// <summary>
/// Members and Orders tables: the raw vendor records, one row per vendor id (PartitionKey = tenant, RowKey = the
/// record key <c>m:</c>/<c>o:</c> + <c>platform:connection:vendorId</c>). The newer vendor version wins; an older or equal
/// version arriving later (a re-read, a late webhook) changes nothing. Rows remember the version last resolved, so a
/// record stored by an attempt that failed before sending its resolve message is resolved by the redelivery.
/// </summary>
public sealed class RecordStore(HubTables tables, MappedRecordCache cache, ResolveGate gate)
{
    public static string TableOf(string recordKey) => recordKey.StartsWith("m:", StringComparison.Ordinal) ? HubTables.Members : HubTables.Orders;

    public static string KeyOf(string entity, SourceRef source) => (entity == "member" ? "m:" : "o:") + source.Key;

    /// <summary>
    /// Maps each record with the source rules (to learn its id and version) and stores it if it is newer. When another
    /// delivery stored some of the same records meanwhile (an ETag or insert conflict), the page is decided again
    /// from fresh reads, three times at most, before the invocation fails and the host redelivers it.
    /// </summary>
    /// <param name="expectNew">
    /// True for a backfill's pages: records are added in transactions without reading first, and only a slice that
    /// meets a stored record is read and decided one by one.
    /// </param>
    public async Task<IngestResult> IngestAsync(string tenant, string platform, string connectionId, string entity, IReadOnlyList<JToken> records, RuleSet rules, string? region, DateTimeOffset now, CancellationToken ct, bool expectNew = false)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                // A retry after a conflict reads everything: someone else is storing the same records.
                return await TryIngestAsync(tenant, platform, connectionId, entity, records, rules, region, now, expectNew && attempt == 1, ct);
            }
            catch (RequestFailedException ex) when (ex.Status is 409 or 412 && attempt < 3)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(10, 50 * attempt)), ct);
            }
        }
    }

    private async Task<IngestResult> TryIngestAsync(string tenant, string platform, string connectionId, string entity, IReadOnlyList<JToken> records, RuleSet rules, string? region, DateTimeOffset now, bool expectNew, CancellationToken ct)
    {
        var source = rules.Sources.FirstOrDefault(s => s.Platform == platform && s.Entity == entity);
        if (source is null)
        {
            return new IngestResult([], 0, 0, 0, [$"No source rule maps {platform} {entity} records: {records.Count} record(s) not stored."]) { InvalidCount = records.Count };
        }

        var ctx = source.Context(now, region);
        var invalid = new List<string>();
        var incoming = new Dictionary<string, (JToken Raw, DateTimeOffset? Updated, string Version)>(StringComparer.Ordinal);
        var mapped = new Dictionary<string, MappedRecord>(StringComparer.Ordinal);
        var resolver = cache.Enabled ? new Hub.Mappings.Identity.IdentityResolver(rules.Identity) : null;
        for (var i = 0; i < records.Count; i++)
        {
            var raw = records[i];
            ctx.ClearIssues();
            Member? member = null;
            Order? order = null;
            var (sourceRef, issuesOf) = entity == "member"
                ? source.MapMember(raw, connectionId, ctx) is var m ? ((member = m.Value)?.Source, m.Issues) : default
                : source.MapOrder(raw, connectionId, ctx) is var o ? ((order = o.Value)?.Source, o.Issues) : default;
            if (sourceRef is null || string.IsNullOrEmpty(sourceRef.VendorId))
            {
                var issues = string.Join("; ", issuesOf.Where(x => x.IsError).Select(x => $"{x.Field}: {x.Message}").Take(3));
                invalid.Add($"{entity} #{i} refused by {source.File}: {(issues.Length > 0 ? issues : "no vendor id")}");
                continue;
            }

            var key = KeyOf(entity, sourceRef);
            var version = CanonicalVersion.Of(member is not null ? member : order!);
            if (!incoming.TryGetValue(key, out var seen) || IsNewer(sourceRef.VendorUpdatedAt, version, seen.Updated, seen.Version))
            {
                incoming[key] = (raw, sourceRef.VendorUpdatedAt, version);
                if (resolver is not null)
                {
                    // Mapped here already: the resolution that follows finds it by this version instead of mapping it again.
                    mapped[key] = new MappedRecord(member, order, member is not null ? resolver.KeysOf(member) : resolver.KeysOf(order!));
                }
            }
        }

        var table = await tables.GetAsync(entity == "member" ? HubTables.Members : HubTables.Orders, ct);
        var toResolve = new List<string>();
        var added = 0;
        var addedRows = new Dictionary<string, AddedRecord>(StringComparer.Ordinal);
        var decide = incoming.Keys.ToList();
        if (expectNew)
        {
            // A first read of a store: nearly every record is new, so each slice of 100 is added in one transaction
            // without reading first. A slice with a record already there (the transaction fails as a whole) is decided
            // below from reads, like any other page; that costs one request per such slice.
            decide.Clear();
            foreach (var slice in incoming.Keys.Chunk(100))
            {
                try
                {
                    var etags = await Packed.SubmitAsync(table, slice.Select(k => new TableTransactionAction(TableTransactionActionType.Add, NewRow(tenant, k, platform, connectionId, region, incoming[k].Updated, incoming[k].Version, incoming[k].Raw))).ToList(), ct);
                    toResolve.AddRange(slice);
                    added += slice.Length;
                    for (var i = 0; i < slice.Length; i++)
                    {
                        if (etags[i] is { } etag)
                        {
                            addedRows[slice[i]] = new AddedRecord(incoming[slice[i]].Version, etag.ToString());
                        }
                    }
                }
                catch (RequestFailedException ex) when (ex.Status == 409)
                {
                    decide.AddRange(slice);
                }
            }
        }

        var existing = await Packed.ReadManyAsync(table, tenant, decide.Select(Packed.RowKey), ct, ["PartitionKey", "RowKey", "VendorUpdatedAt", "Version", "ResolvedVersion", "Redacted"]);
        var actions = new List<TableTransactionAction>();
        int unchanged = 0, older = 0, redacted = 0;
        foreach (var key in decide)
        {
            var (raw, updated, version) = incoming[key];
            if (existing.TryGetValue(Packed.RowKey(key), out var row) && row.GetBoolean("Redacted") == true)
            {
                redacted++; // erased at the customer's request: a later read or webhook never brings it back
                continue;
            }

            if (row is not null)
            {
                var storedVersion = row.GetString("Version");
                if (!IsNewer(updated, version, row.GetDateTimeOffset("VendorUpdatedAt"), storedVersion ?? ""))
                {
                    if (storedVersion == version)
                    {
                        unchanged++;
                    }
                    else
                    {
                        older++;
                    }

                    if (row.GetString("ResolvedVersion") != storedVersion)
                    {
                        toResolve.Add(key);
                    }

                    continue;
                }

                var update = NewRow(tenant, key, platform, connectionId, region, updated, version, raw);
                actions.Add(new TableTransactionAction(TableTransactionActionType.UpdateMerge, update, row.ETag));
            }
            else
            {
                actions.Add(new TableTransactionAction(TableTransactionActionType.Add, NewRow(tenant, key, platform, connectionId, region, updated, version, raw)));
            }

            toResolve.Add(key);
        }

        // A conflict (another delivery stored the same record meanwhile) is decided again by IngestAsync.
        await Packed.SubmitAsync(table, actions, ct);
        foreach (var key in toResolve)
        {
            if (mapped.TryGetValue(key, out var entry))
            {
                cache.Set(rules, now, tenant, key, incoming[key].Version, entry);
            }
        }

        return new IngestResult(toResolve, added + actions.Count, unchanged, older, invalid, redacted) { Added = addedRows };
    }

    private static TableEntity NewRow(string tenant, string key, string platform, string connectionId, string? region, DateTimeOffset? updated, string version, JToken raw)
    {
        var row = new TableEntity(tenant, Packed.RowKey(key))
        {
            ["RecordKey"] = key,
            ["Platform"] = platform,
            ["ConnectionId"] = connectionId,
            ["Region"] = region,
            ["VendorUpdatedAt"] = updated,
            ["Version"] = version,
            ["Unresolved"] = true,
        };
        Packed.Write(row, "Raw", raw);
        return row;
    }

    /// <summary>Newer vendor time wins; equal times fall back to the content hash, so arrival order never decides.</summary>
    private static bool IsNewer(DateTimeOffset? a, string aVersion, DateTimeOffset? b, string bVersion)
    {
        var c = Nullable.Compare(a, b);
        return c != 0 ? c > 0 : string.CompareOrdinal(aVersion, bVersion) > 0;
    }

    /// <param name="rawNotNeeded">Given a record's key and version: true when the caller has it mapped already, so its raw JSON is not unpacked (Raw is then JSON null).</param>
    public async Task<Dictionary<string, StoredRecord>> GetManyAsync(string tenant, IEnumerable<string> keys, CancellationToken ct, Func<string, string, bool>? rawNotNeeded = null)
    {
        var result = new Dictionary<string, StoredRecord>(StringComparer.Ordinal);
        foreach (var group in keys.Distinct(StringComparer.Ordinal).GroupBy(TableOf))
        {
            var table = await tables.GetAsync(group.Key, ct);
            var rows = await Packed.ReadManyAsync(table, tenant, group.Select(Packed.RowKey), ct);
            foreach (var row in rows.Values)
            {
                if (row.GetBoolean("Redacted") == true)
                {
                    continue;
                }

                var stored = ToRecord(row, rawNotNeeded);
                result[stored.Key] = stored;
            }
        }

        return result;
    }

    private static StoredRecord ToRecord(TableEntity row, Func<string, string, bool>? rawNotNeeded) => new(
        row.GetString("RecordKey") ?? row.RowKey,
        row.GetString("Platform") ?? "",
        row.GetString("ConnectionId") ?? "",
        row.GetString("Region"),
        row.GetDateTimeOffset("VendorUpdatedAt"),
        rawNotNeeded?.Invoke(row.GetString("RecordKey") ?? row.RowKey, row.GetString("Version") ?? "") == true ? JValue.CreateNull() : Packed.Read(row, "Raw") ?? new JObject(),
        row.GetString("ProfileId"),
        row.GetString("Version") ?? "",
        row.GetString("ResolvedVersion"),
        row.ETag);

    /// <summary>Marks records as resolved into their profiles (ETag-checked: a newer version stored meanwhile stays unresolved).</summary>
    public async Task MarkResolvedAsync(string tenant, IEnumerable<(StoredRecord Record, string ProfileId)> updates, CancellationToken ct)
    {
        foreach (var group in updates.GroupBy(u => TableOf(u.Record.Key)))
        {
            var table = await tables.GetAsync(group.Key, ct);
            var actions = group.Select(u => new TableTransactionAction(TableTransactionActionType.UpdateMerge, new TableEntity(tenant, Packed.RowKey(u.Record.Key))
            {
                ["ProfileId"] = u.ProfileId,
                ["ResolvedVersion"] = u.Record.Version,
                ["Unresolved"] = false,
            }, u.Record.ETag)).ToList();
            await Packed.SubmitAsync(table, actions, ct, Packed.WritesInFlight);
        }
    }

    /// <summary>
    /// Points records at the profile they now belong to, leaving their version and resolution state alone (a newer
    /// version may be waiting to be resolved). A record deleted meanwhile is skipped.
    /// </summary>
    public async Task RepointAsync(string tenant, IReadOnlyCollection<(string RecordKey, string ProfileId)> moves, CancellationToken ct)
    {
        await Parallel.ForEachAsync(moves, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = ct }, async (move, token) =>
        {
            var table = await tables.GetAsync(TableOf(move.RecordKey), token);
            try
            {
                await table.UpdateEntityAsync(new TableEntity(tenant, Packed.RowKey(move.RecordKey)) { ["ProfileId"] = move.ProfileId }, ETag.All, TableUpdateMode.Merge, token);
            }
            catch (RequestFailedException ex) when (ex.Status == 404)
            {
            }
        });
    }

    /// <summary>Deletes records; returns the profiles they belonged to (to be resolved again).</summary>
    public async Task<IReadOnlyList<string>> DeleteAsync(string tenant, IEnumerable<string> keys, CancellationToken ct)
    {
        var found = await GetManyAsync(tenant, keys, ct);
        foreach (var group in found.Values.GroupBy(r => TableOf(r.Key)))
        {
            var table = await tables.GetAsync(group.Key, ct);
            foreach (var record in group)
            {
                await table.DeleteEntityAsync(tenant, Packed.RowKey(record.Key), ETag.All, ct);
            }
        }

        var profiles = found.Values.Select(r => r.ProfileId).OfType<string>().Distinct(StringComparer.Ordinal).ToList();
        await VoidVersionListsAsync(tenant, profiles, ct);
        return profiles;
    }

    /// <summary>
    /// Erases records at the customer's request: each row is replaced by a tombstone that holds only its key (no
    /// vendor data), so a later full read or a late webhook cannot store the customer again. Returns the profiles
    /// the records belonged to (to be resolved again). Idempotent: a redelivery finds the tombstones.
    /// </summary>
    public async Task<IReadOnlyList<string>> RedactAsync(string tenant, string connectionId, IReadOnlyCollection<string> keys, CancellationToken ct)
    {
        var found = await GetManyAsync(tenant, keys, ct);
        foreach (var group in keys.Distinct(StringComparer.Ordinal).GroupBy(TableOf))
        {
            var table = await tables.GetAsync(group.Key, ct);
            var actions = group.Select(key => new TableTransactionAction(TableTransactionActionType.UpsertReplace, new TableEntity(tenant, Packed.RowKey(key))
            {
                ["RecordKey"] = key,
                ["ConnectionId"] = connectionId,
                ["Redacted"] = true,
                ["Unresolved"] = false,
            })).ToList();
            await Packed.SubmitAsync(table, actions, ct);
        }

        var profiles = found.Values.Select(r => r.ProfileId).OfType<string>().Distinct(StringComparer.Ordinal).ToList();
        await VoidVersionListsAsync(tenant, profiles, ct);
        return profiles;
    }

    /// <summary>
    /// After records were deleted or erased: the profiles that held them (followed through merges) stop offering their
    /// records' versions to the cache of mapped records, so no resolution before their recomputation takes a gone
    /// record from a cache. The row's ETag changes too, so a resolution that read it before fails its write and reads
    /// again. The next resolution of the profile writes a fresh list.
    /// </summary>
    private async Task VoidVersionListsAsync(string tenant, IReadOnlyCollection<string> profileIds, CancellationToken ct)
    {
        await MarkVersionListsVoidAsync(tenant, profileIds, ct);

        // A resolution holding the gate may keep these profile rows from its earlier batches (HeldGraphRows), or be
        // resolving a record just erased from what its page said (AddedRecord): disturbed, it drops the rows, and a
        // batch under way starts over from fresh reads.
        await gate.DisturbAsync(tenant, ct);
    }

    private async Task MarkVersionListsVoidAsync(string tenant, IReadOnlyCollection<string> profileIds, CancellationToken ct)
    {
        var table = await tables.GetAsync(HubTables.Profiles, ct);
        foreach (var start in profileIds)
        {
            var id = start;
            for (var hops = 0; hops < 10; hops++)
            {
                var row = await table.GetEntityIfExistsAsync<TableEntity>(tenant, id, ["MergedInto"], ct);
                if (!row.HasValue || row.Value is null)
                {
                    break;
                }

                if (row.Value.GetString("MergedInto") is { } survivor)
                {
                    id = survivor;
                    continue;
                }

                try
                {
                    await table.UpdateEntityAsync(new TableEntity(tenant, id) { [ProfileGraph.VersionsVoid] = true }, ETag.All, TableUpdateMode.Merge, ct);
                }
                catch (RequestFailedException ex) when (ex.Status == 404)
                {
                }

                break;
            }
        }
    }

    /// <summary>
    /// Records stored but not yet resolved (a resolve message lost after its records were written): Reconcile sends
    /// them again. A filtered scan of the tenant's partition, which only Reconcile runs.
    /// </summary>
    public async Task<IReadOnlyList<string>> UnresolvedAsync(string tenant, DateTimeOffset before, int max, CancellationToken ct)
    {
        var keys = new List<string>();
        foreach (var name in new[] { HubTables.Members, HubTables.Orders })
        {
            var table = await tables.GetAsync(name, ct);
            await foreach (var row in table.QueryAsync<TableEntity>(r => r.PartitionKey == tenant && r.GetBoolean("Unresolved") == true, select: ["RecordKey", "Timestamp"], cancellationToken: ct))
            {
                if (row.Timestamp is { } written && written > before)
                {
                    continue; // its resolve message is most likely still on its way
                }

                keys.Add(row.GetString("RecordKey"));
                if (keys.Count >= max)
                {
                    return keys;
                }
            }
        }

        return keys;
    }

    /// <summary>Every record key of one connection (shop redact, disconnect): a scan of the tenant's partition.</summary>
    public async Task<IReadOnlyList<string>> KeysOfConnectionAsync(string tenant, string connectionId, CancellationToken ct)
    {
        var keys = new List<string>();
        foreach (var name in new[] { HubTables.Members, HubTables.Orders })
        {
            var table = await tables.GetAsync(name, ct);
            await foreach (var row in table.QueryAsync<TableEntity>(r => r.PartitionKey == tenant && r.GetString("ConnectionId") == connectionId, select: ["RecordKey"], cancellationToken: ct))
            {
                keys.Add(row.GetString("RecordKey"));
            }
        }

        return keys;
    }
}

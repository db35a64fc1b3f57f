using Azure;
using Azure.Data.Tables;
using Hub.Functions.Sync;
using Hub.Mappings;
using Hub.Mappings.Model;
using Newtonsoft.Json.Linq;

namespace Hub.Functions.State;

/// <summary>A profile as resolved: its id and canonical view (what segment and target rules read).</summary>
public sealed record ResolvedProfile(string Id, JObject View);

/// <summary>What one resolution changed.</summary>
/// <param name="Changed">Every profile of the resolved component with its view (the planner compares with the Ledger).</param>
/// <param name="Removed">Profiles that no longer exist (all their records were deleted).</param>
/// <param name="MergedInto">Profile ids merged into another profile.</param>
/// <param name="Assignments">Each record of the component → the profile it now belongs to.</param>
/// <param name="Phases">Milliseconds of the last attempt: loading the component, building the profiles, writing the graph.</param>
public sealed record ResolveOutcome(IReadOnlyList<ResolvedProfile> Changed, IReadOnlyList<string> Removed, IReadOnlyDictionary<string, string> MergedInto, int Records, int Profiles, int Attempts, IReadOnlyList<string> RefusedJoins, IReadOnlyDictionary<string, string> Assignments, (long Load, long Build, long Write) Phases = default);

/// <summary>
/// The identity graph in Table Storage. <c>Identities</c>: one row per match key (RowKey = SHA-256 of the key, so no
/// email or phone is a key) naming the profiles that hold it. <c>Profiles</c>: one row per profile with its record keys,
/// its key hashes and its view (metrics, segments, tags); a merged profile leaves a row pointing at the survivor.
/// Resolving some records loads their connected component (records → keys → profiles → records…), runs the pure
/// resolver over it with the stored assignments (so ids are stable and merges keep the oldest id), and writes the
/// difference with ETags: keys first, then profiles, then records. A conflict (another resolution touched the same
/// component) starts over from fresh reads; partial writes are always a state the next resolution completes.
/// </summary>
public sealed class ProfileGraph(HubTables tables, RecordStore records, RulesProvider rules, MappedRecordCache cache, TimeProvider clock, ILogger<ProfileGraph> logger)
{
    /// <summary>Profiles with more records than this do not list their records' versions (the row stays small); they are always read.</summary>
    public const int MaxListedVersions = 2000;

    /// <summary>Set on a profile row by a deletion or redaction of one of its records: its version list is not to be trusted.</summary>
    public const string VersionsVoid = "VersionsVoid";

    /// <summary>A component larger than this is resolved from what was loaded so far, with a warning (a store-wide shared value).</summary>
    public const int MaxComponentRecords = 20_000;

    /// <param name="exclusive">
    /// Asked after the writes: true when no other resolution of the tenant can have run meanwhile (the caller held the
    /// tenant's gate without a break), so the settle check, which reads every key of the component again, is skipped.
    /// </param>
    /// <param name="heldRows">
    /// Identity and profile rows the caller's gate hold has read or written (<see cref="HeldGraphRows"/>): used and kept
    /// up to date; dropped after a conflict, a failed write or an exclusivity the caller cannot confirm.
    /// </param>
    /// <param name="added">
    /// Asked records their page added as new rows (<see cref="AddedRecord"/>): on the first attempt, one whose version
    /// is in the cache of mapped records is not read. If the caller cannot then confirm its hold was exclusive and
    /// undisturbed, the resolution starts over from fresh reads.
    /// </param>
    public async Task<ResolveOutcome> ResolveAsync(string tenant, IReadOnlyCollection<string> recordKeys, IReadOnlyCollection<string> profileIds, CancellationToken ct, DateTimeOffset? rulesAsOf = null, Func<CancellationToken, Task<bool>>? exclusive = null, HeldGraphRows? heldRows = null, IReadOnlyDictionary<string, AddedRecord>? added = null)
    {
        if (heldRows is not null && heldRows.Tenant != tenant)
        {
            throw new ArgumentException($"Graph rows of tenant {heldRows.Tenant} cannot serve tenant {tenant}.", nameof(heldRows));
        }

        ResolveCounters.Resolution(recordKeys.Count);
        // Profile ids this resolution has already written into keys: when an attempt fails between writing keys and
        // writing profiles, the next attempt must not wait for its own unfinished profiles as if another resolution
        // were creating them.
        var ownClaims = new HashSet<string>(StringComparer.Ordinal);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                if (attempt > 1)
                {
                    heldRows?.Forget(); // something changed under the last attempt: read everything again
                }

                return await TryResolveAsync(tenant, recordKeys, profileIds, attempt, ownClaims, rulesAsOf, exclusive, heldRows, attempt == 1 && exclusive is not null ? added : null, ct);
            }
            catch (RequestFailedException ex) when (ex.Status is 409 or 412 && attempt < 10)
            {
                if (ex is not ResolveAgainException)
                {
                    ResolveCounters.WriteConflict();
                }

                // Someone else changed part of the component: read it again. Jitter keeps two resolvers from colliding again.
                await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(10, 60 * attempt)), ct);
            }
        }
    }

    private async Task<ResolveOutcome> TryResolveAsync(string tenant, IReadOnlyCollection<string> recordKeys, IReadOnlyCollection<string> profileIds, int attempt, HashSet<string> ownClaims, DateTimeOffset? rulesAsOf, Func<CancellationToken, Task<bool>>? exclusive, HeldGraphRows? heldRows, IReadOnlyDictionary<string, AddedRecord>? added, CancellationToken ct)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var ruleSet = await rules.ForTenantAsync(tenant, ct, rulesAsOf);
        var engine = new ProfileEngine(ruleSet);
        var now = clock.GetUtcNow();
        var identities = await tables.GetAsync(HubTables.Identities, ct);
        var profilesTable = await tables.GetAsync(HubTables.Profiles, ct);

        var loaded = new Dictionary<string, StoredRecord>(StringComparer.Ordinal);
        var members = new Dictionary<string, Member>(StringComparer.Ordinal);
        var orders = new Dictionary<string, Order>(StringComparer.Ordinal);
        var triedRecords = new HashSet<string>(StringComparer.Ordinal);
        var idRows = new Dictionary<string, TableEntity?>(StringComparer.Ordinal);
        var profileRows = new Dictionary<string, TableEntity?>(StringComparer.Ordinal);
        var pendingRecords = new HashSet<string>(recordKeys, StringComparer.Ordinal);
        var pendingProfiles = new HashSet<string>(profileIds, StringComparer.Ordinal);
        var pendingKeys = new HashSet<string>(StringComparer.Ordinal);
        var truncated = false;
        var usedAdded = 0;

        // Records reached through a profile row that lists their version are taken from the cache of mapped records
        // when it has that very version (MappedRecordCache). Not when a conflict made this attempt start over, and
        // not when profiles are recomputed (a redaction must not find the erased record in a cache).
        var useCache = cache.Enabled && attempt == 1 && profileIds.Count == 0;
        var versions = new Dictionary<string, string>(StringComparer.Ordinal);
        var cachedFrom = new Dictionary<string, string>(StringComparer.Ordinal);
        void Use(string key, MappedRecord mapped)
        {
            if (mapped.Member is not null)
            {
                members[key] = mapped.Member;
            }
            else if (mapped.Order is not null)
            {
                orders[key] = mapped.Order;
            }
        }

        void Follow(IEnumerable<string> keys) => pendingKeys.UnionWith(keys.Select(Packed.KeyHash).Where(h => !idRows.ContainsKey(h)));
        while (pendingRecords.Count > 0 || pendingProfiles.Count > 0 || pendingKeys.Count > 0)
        {
            if (pendingProfiles.Count > 0)
            {
                var (rows, read) = await ReadGraphRowsAsync(profilesTable, tenant, pendingProfiles, heldRows, profiles: true, ct);
                ResolveCounters.ProfileRows(read, pendingProfiles.Count - read);
                var next = new HashSet<string>(StringComparer.Ordinal);
                foreach (var id in pendingProfiles)
                {
                    var row = rows[id];
                    profileRows[id] = row;
                    if (row is null)
                    {
                        continue;
                    }

                    if (row.GetString("MergedInto") is { } survivor && !profileRows.ContainsKey(survivor))
                    {
                        next.Add(survivor);
                    }

                    // A deletion or redaction voids the list (RecordStore), so an erased record is never taken from the cache.
                    var listed = useCache && row.GetBoolean(VersionsVoid) != true ? Packed.Read(row, "Versions") as JObject : null;
                    foreach (var key in Strings(row, "Records").Where(k => !triedRecords.Contains(k)))
                    {
                        if (listed?.Value<string>(key) is { } version && !pendingRecords.Contains(key) && cache.Get(ruleSet, now, tenant, key, version) is { } hit)
                        {
                            triedRecords.Add(key);
                            versions[key] = version;
                            cachedFrom[key] = id;
                            Use(key, hit);
                            Follow(hit.Keys);
                            continue;
                        }

                        pendingRecords.Add(key);
                    }

                    foreach (var hash in Strings(row, "Keys").Where(h => !idRows.ContainsKey(h)))
                    {
                        pendingKeys.Add(hash);
                    }
                }

                pendingProfiles = next;
            }

            if (pendingRecords.Count > 0)
            {
                if (triedRecords.Count + pendingRecords.Count > MaxComponentRecords)
                {
                    truncated = true;
                    pendingRecords = pendingRecords.Take(Math.Max(0, MaxComponentRecords - triedRecords.Count)).ToHashSet(StringComparer.Ordinal);
                }

                // Read afresh, but a version this process has mapped already (at ingest, or in an earlier batch) is not
                // unpacked and mapped again: the version is the content's hash.
                var premapped = new Dictionary<string, MappedRecord>(StringComparer.Ordinal);
                var unread = new List<StoredRecord>();
                if (added is not null && cache.Enabled && profileIds.Count == 0)
                {
                    // Added by their page and mapped there: what a read would say is known (no profile, never resolved).
                    foreach (var key in pendingRecords)
                    {
                        if (added.TryGetValue(key, out var justAdded) && cache.Get(ruleSet, now, tenant, key, justAdded.Version) is { } hit)
                        {
                            premapped[key] = hit;
                            unread.Add(new StoredRecord(key, "", "", null, null, JValue.CreateNull(), null, justAdded.Version, null, new Azure.ETag(justAdded.ETag)));
                        }
                    }
                }

                var got = await records.GetManyAsync(tenant, pendingRecords.Where(k => !premapped.ContainsKey(k)), ct, cache.Enabled ? (key, version) => cache.Get(ruleSet, now, tenant, key, version) is { } hit && premapped.TryAdd(key, hit) : null);
                foreach (var record in unread)
                {
                    got[record.Key] = record;
                }

                usedAdded += unread.Count;
                ResolveCounters.AddedUnread(unread.Count);
                triedRecords.UnionWith(pendingRecords);
                pendingRecords.Clear();
                foreach (var record in got.Values)
                {
                    IReadOnlyList<string> keys;
                    if (premapped.TryGetValue(record.Key, out var known))
                    {
                        ResolveCounters.MappedAtIngest();
                        keys = known.Keys;
                        Use(record.Key, known);
                    }
                    else
                    {
                        keys = Map(engine, record, members, orders, now);
                        if (members.ContainsKey(record.Key) || orders.ContainsKey(record.Key))
                        {
                            cache.Set(ruleSet, now, tenant, record.Key, record.Version, new MappedRecord(members.GetValueOrDefault(record.Key), orders.GetValueOrDefault(record.Key), keys));
                        }
                    }

                    loaded[record.Key] = record;
                    versions[record.Key] = record.Version;
                    Follow(keys);

                    if (record.ProfileId is { } p && !profileRows.ContainsKey(p))
                    {
                        pendingProfiles.Add(p);
                    }
                }
            }

            if (pendingKeys.Count > 0)
            {
                var (rows, read) = await ReadGraphRowsAsync(identities, tenant, pendingKeys, heldRows, profiles: false, ct);
                ResolveCounters.IdentityRows(read, pendingKeys.Count - read);
                foreach (var hash in pendingKeys)
                {
                    var row = rows[hash];
                    idRows[hash] = row;
                    foreach (var id in Ids(row).Where(id => !profileRows.ContainsKey(id)))
                    {
                        pendingProfiles.Add(id);
                    }
                }

                pendingKeys.Clear();
            }

            if (truncated)
            {
                logger.LogWarning("Profile component of tenant {Tenant} exceeds {Max} records; resolved from the first {Max}", tenant, MaxComponentRecords, MaxComponentRecords);
                break;
            }
        }

        // A key names a profile whose row is not there: another resolution has claimed the key and not yet written the
        // profile. Wait for it (a conflict, retried); if it does not come within the waits, keep its claim on the key,
        // so whoever resolves those records next finds this component and joins it. A claim whose key row is older than
        // a minute, or one this resolution made itself in a failed attempt, is an orphan: neither waited for nor kept.
        var fresh = DateTimeOffset.UtcNow - TimeSpan.FromMinutes(1); // the key row's Timestamp is the server's time, not the Hub clock
        var orphans = profileRows.Where(p => p.Value is null && (ownClaims.Contains(p.Key) || !idRows.Values.Any(r => r is not null && r.Timestamp > fresh && Ids(r).Contains(p.Key))))
            .Select(p => p.Key).ToHashSet(StringComparer.Ordinal);
        var dangling = profileRows.Where(p => p.Value is null && !orphans.Contains(p.Key) && idRows.Values.Any(r => Ids(r).Contains(p.Key))).Select(p => p.Key).ToHashSet(StringComparer.Ordinal);
        ResolveCounters.Attempt(loaded.Count, cachedFrom.Count);
        if (dangling.Count > 0 && attempt < 4)
        {
            ResolveCounters.DanglingWait();
            throw new ResolveAgainException($"profile {dangling.First()} is being created by another resolution");
        }

        // Stored assignments: a record's own row first, then the profile row listing it (a write that stopped halfway).
        var previous = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var record in loaded.Values.Where(r => r.ProfileId is not null))
        {
            previous[record.Key] = record.ProfileId!;
        }

        foreach (var (id, row) in profileRows)
        {
            if (row is not null && row.GetString("MergedInto") is null)
            {
                foreach (var key in Strings(row, "Records"))
                {
                    previous.TryAdd(key, id);
                }
            }
        }

        var loadMs = watch.ElapsedMilliseconds;
        var batch = engine.Build(members.Values, orders.Values, now, previous);
        var buildMs = watch.ElapsedMilliseconds - loadMs;
        var resolution = batch.Resolution;

        // 1. Keys: each names the resulting profiles that hold it (two when the rules refused a join).
        var desired = new Dictionary<string, SortedSet<string>>(StringComparer.Ordinal);
        foreach (var profile in batch.Profiles)
        {
            foreach (var key in profile.MatchKeys)
            {
                var hash = Packed.KeyHash(key);
                (desired.TryGetValue(hash, out var set) ? set : desired[hash] = new SortedSet<string>(StringComparer.Ordinal)).Add(profile.Id);
            }
        }

        var component = profileRows.Where(p => p.Value is not null).Select(p => p.Key).Concat(batch.Profiles.Select(p => p.Id)).ToHashSet(StringComparer.Ordinal);
        var keyActions = new List<TableTransactionAction>();
        var intended = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var hash in desired.Keys.Concat(idRows.Where(r => r.Value is not null).Select(r => r.Key)).Distinct(StringComparer.Ordinal))
        {
            var row = idRows.GetValueOrDefault(hash);
            var ids = desired.TryGetValue(hash, out var set) ? new SortedSet<string>(set, StringComparer.Ordinal) : new SortedSet<string>(StringComparer.Ordinal);
            foreach (var other in Ids(row).Where(id => !component.Contains(id) && !orphans.Contains(id)))
            {
                ids.Add(other); // a profile outside what was loaded (a truncated component) keeps its claim
            }

            var value = string.Join(',', ids);
            intended[hash] = value;
            if (row is null)
            {
                if (ids.Count > 0)
                {
                    keyActions.Add(new TableTransactionAction(TableTransactionActionType.Add, new TableEntity(tenant, hash) { ["Profiles"] = value }));
                }
            }
            else if (ids.Count == 0)
            {
                keyActions.Add(new TableTransactionAction(TableTransactionActionType.Delete, row, row.ETag));
            }
            else if (row.GetString("Profiles") != value)
            {
                keyActions.Add(new TableTransactionAction(TableTransactionActionType.UpdateReplace, new TableEntity(tenant, hash) { ["Profiles"] = value }, row.ETag));
            }
        }

        lock (ownClaims)
        {
            ownClaims.UnionWith(batch.Profiles.Select(p => p.Id).Where(id => profileRows.GetValueOrDefault(id) is null));
        }

        try
        {
            heldRows?.WroteIdentities(keyActions, await Packed.SubmitAsync(identities, keyActions, ct, Packed.WritesInFlight));
        }
        catch
        {
            heldRows?.Forget(); // some of the transactions may have landed
            throw;
        }

        // 2. Profiles: new or changed rows; merged ones point at their survivor; emptied ones go.
        var changed = new List<ResolvedProfile>();
        var mergedBefore = new Dictionary<string, string>(StringComparer.Ordinal);
        var profileActions = new List<TableTransactionAction>();
        foreach (var profile in batch.Profiles)
        {
            var view = profile.View();
            var keyHashes = profile.MatchKeys.Select(Packed.KeyHash).ToList();
            var stamp = Packed.Hash(new JArray(Packed.Hash(view), Packed.Hash(new JArray(profile.RecordKeys)), Packed.Hash(new JArray(keyHashes)), Packed.Hash(new JArray(profile.RecordKeys.Select(k => versions.GetValueOrDefault(k) ?? "")))));
            var row = profileRows.GetValueOrDefault(profile.Id);

            // Every profile of the component goes to the planner, changed or not: the Ledger, not this resolution,
            // decides what the CRM needs. A redelivery after a write that succeeded (and a plan that did not) then
            // still pushes, and an unchanged profile costs one Ledger read.
            changed.Add(new ResolvedProfile(profile.Id, view));
            foreach (var earlier in MergedFrom(row).Concat(profile.MergedIds))
            {
                // Every merge this profile absorbed, again: if a plan was lost after the graph was written, the CRM
                // merge is still asked for (the planner finds nothing to do once the merged record is gone).
                mergedBefore[earlier] = profile.Id;
            }

            if (row is not null && row.GetString("MergedInto") is null && row.GetString("Stamp") == stamp)
            {
                continue;
            }

            var entity = ProfileRow(tenant, profile, view, keyHashes, stamp, now);
            if (profile.RecordKeys.Count <= MaxListedVersions)
            {
                // The version each record had when this profile was built: what the cache of mapped records is asked for.
                Packed.Write(entity, "Versions", new JObject(profile.RecordKeys.Where(versions.ContainsKey).Select(k => new JProperty(k, versions[k]))));
            }

            // The months with an order (newest 36), so the dashboard tells new from returning customers per month
            // without reading the Orders table.
            entity["OrderMonths"] = string.Join(',', profile.RecordKeys.Select(k => orders.GetValueOrDefault(k)?.CreatedAt).OfType<DateTimeOffset>()
                .Select(d => d.UtcDateTime.ToString("yyyy-MM", System.Globalization.CultureInfo.InvariantCulture)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).TakeLast(36));
            entity["MergedFrom"] = string.Join(',', MergedFrom(row).Concat(profile.MergedIds).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal));
            profileActions.Add(row is null
                ? new TableTransactionAction(TableTransactionActionType.Add, entity)
                : new TableTransactionAction(TableTransactionActionType.UpdateReplace, entity, row.ETag));
        }

        var resultIds = batch.Profiles.Select(p => p.Id).ToHashSet(StringComparer.Ordinal);
        var removed = new List<string>();
        var merged = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (id, row) in profileRows)
        {
            if (row is null || resultIds.Contains(id))
            {
                continue;
            }

            if (row.GetString("MergedInto") is { } earlier)
            {
                // Merged by an earlier attempt whose plan may not have run: report it again (merge rows are idempotent).
                var heir = earlier;
                for (var hops = 0; hops < 10 && !resultIds.Contains(heir) && profileRows.GetValueOrDefault(heir)?.GetString("MergedInto") is { } next; hops++)
                {
                    heir = next;
                }

                if (resultIds.Contains(heir))
                {
                    merged[id] = heir;
                }

                continue;
            }

            // Merged by the resolver, or (after two resolutions crossed) holding records that now belong elsewhere:
            // either way its records live on in a survivor, and a CRM record of it must be merged there too.
            if (resolution.MergedInto.TryGetValue(id, out var survivor) || (survivor = HeirOf(row, resolution)) is not null)
            {
                merged[id] = survivor;
                profileActions.Add(new TableTransactionAction(TableTransactionActionType.UpdateReplace, new TableEntity(tenant, id) { ["MergedInto"] = survivor, ["UpdatedAt"] = now }, row.ETag));
            }
            else
            {
                removed.Add(id);
                profileActions.Add(new TableTransactionAction(TableTransactionActionType.Delete, row, row.ETag));
            }
        }

        try
        {
            heldRows?.WroteProfiles(profileActions, await Packed.SubmitAsync(profilesTable, profileActions, ct, Packed.WritesInFlight));
        }
        catch
        {
            heldRows?.Forget();
            throw;
        }
        foreach (var (old, heir) in mergedBefore)
        {
            merged.TryAdd(old, heir);
        }

        // 3. Records: which profile each belongs to, at which version.
        var marks = new List<(StoredRecord, string)>();
        foreach (var record in loaded.Values)
        {
            if (resolution.Assignments.TryGetValue(record.Key, out var id) && (record.ProfileId != id || record.ResolvedVersion != record.Version))
            {
                marks.Add((record, id));
            }
        }

        await records.MarkResolvedAsync(tenant, marks, ct);

        // Records taken from the cache keep their row as it is (its version may be newer and still to resolve); only
        // the profile it points to is corrected when a merge moved it, so a later deletion finds the right profile.
        var moved = cachedFrom.Where(c => resolution.Assignments.TryGetValue(c.Key, out var id) && id != c.Value).Select(c => (c.Key, resolution.Assignments[c.Key])).ToList();
        await records.RepointAsync(tenant, moved, ct);

        // 4. Settle: another resolution may have claimed one of these keys while this one wrote (it saw a profile of
        // ours not yet written), or a claim this one kept may now have its profile. Either way, resolve again: the
        // last writer always sees the final keys, so two halves of one person never stay apart. Nobody else can have
        // written when the caller held the tenant's gate throughout.
        if (exclusive is not null && await exclusive(ct))
        {
            return new ResolveOutcome(changed, removed, merged, loaded.Count + cachedFrom.Count, batch.Profiles.Count, attempt, resolution.RefusedJoins, resolution.Assignments, (loadMs, buildMs, watch.ElapsedMilliseconds - loadMs - buildMs));
        }

        // Not exclusive: another resolution may have written rows this one took from its held rows.
        heldRows?.Forget();
        if (usedAdded > 0)
        {
            // A record taken as its page added it may have been erased or changed since: resolve again from reads.
            throw new ResolveAgainException("records resolved as their pages added them, without an exclusive hold");
        }

        ResolveCounters.SettleCheck();
        var now2 = await Packed.ReadManyAsync(identities, tenant, intended.Keys, ct, ["PartitionKey", "RowKey", "Profiles"]);
        var keysMoved = intended.Any(k => (now2.GetValueOrDefault(k.Key)?.GetString("Profiles") ?? "") != k.Value);
        var keptClaims = intended.Values.SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries)).Where(id => !resultIds.Contains(id)).ToHashSet(StringComparer.Ordinal);
        var claimNowWritten = keptClaims.Count > 0 && (await Packed.ReadManyAsync(profilesTable, tenant, keptClaims, ct, ["PartitionKey", "RowKey", "MergedInto"])).Count > 0;
        if ((keysMoved || claimNowWritten) && attempt < 10)
        {
            ResolveCounters.SettleRetry();
            throw new ResolveAgainException("the identity graph changed under this resolution; resolving again");
        }

        return new ResolveOutcome(changed, removed, merged, loaded.Count + cachedFrom.Count, batch.Profiles.Count, attempt, resolution.RefusedJoins, resolution.Assignments, (loadMs, buildMs, watch.ElapsedMilliseconds - loadMs - buildMs));
    }

    /// <summary>
    /// Identity or profile rows by key (null: no such row): those the gate holder kept (<see cref="HeldGraphRows"/>),
    /// the rest read from the table and kept. Returns how many were read.
    /// </summary>
    private static async Task<(Dictionary<string, TableEntity?> Rows, int Read)> ReadGraphRowsAsync(TableClient table, string tenant, IReadOnlyCollection<string> keys, HeldGraphRows? held, bool profiles, CancellationToken ct)
    {
        var rows = new Dictionary<string, TableEntity?>(StringComparer.Ordinal);
        foreach (var key in keys)
        {
            if (held is not null && (profiles ? held.TryGetProfile(key, out var row) : held.TryGetIdentity(key, out row)))
            {
                rows[key] = row;
            }
        }

        var missing = keys.Where(k => !rows.ContainsKey(k)).ToList();
        var read = await Packed.ReadManyAsync(table, tenant, missing, ct);
        foreach (var key in missing)
        {
            var row = read.GetValueOrDefault(key);
            rows[key] = row;
            if (profiles)
            {
                held?.SawProfile(key, row);
            }
            else
            {
                held?.SawIdentity(key, row);
            }
        }

        return (rows, missing.Count);
    }

    /// <summary>Not a storage conflict: this resolution saw a state it must read again (counted apart).</summary>
    private sealed class ResolveAgainException(string message) : RequestFailedException(412, message);

    /// <summary>The profile that now holds most of the records a vanished profile listed, or null when none are left.</summary>
    private static string? HeirOf(TableEntity row, Mappings.Identity.Resolution resolution) =>
        Strings(row, "Records").Select(k => resolution.Assignments.TryGetValue(k, out var id) ? id : null).OfType<string>()
            .GroupBy(id => id, StringComparer.Ordinal).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal).FirstOrDefault()?.Key;

    /// <summary>Maps a stored record with the current source rules; returns its match keys (none when the rules refuse it).</summary>
    private static IReadOnlyList<string> Map(ProfileEngine engine, StoredRecord record, Dictionary<string, Member> members, Dictionary<string, Order> orders, DateTimeOffset now)
    {
        var entity = record.IsMember ? "member" : "order";
        var source = engine.Rules.Sources.FirstOrDefault(s => s.Platform == record.Platform && s.Entity == entity);
        if (source is null)
        {
            return [];
        }

        var ctx = source.Context(now, record.Region);
        if (record.IsMember)
        {
            if (source.MapMember(record.Raw, record.ConnectionId, ctx).Value is not { } member)
            {
                return [];
            }

            members[record.Key] = member;
            return engine.Resolver.KeysOf(member);
        }

        if (source.MapOrder(record.Raw, record.ConnectionId, ctx).Value is not { } order)
        {
            return [];
        }

        orders[record.Key] = order;
        return engine.Resolver.KeysOf(order);
    }

    private static TableEntity ProfileRow(string tenant, Profile profile, JObject view, IReadOnlyList<string> keyHashes, string stamp, DateTimeOffset now)
    {
        var row = new TableEntity(tenant, profile.Id)
        {
            ["Stamp"] = stamp,
            ["ViewHash"] = Packed.Hash(view),
            ["UpdatedAt"] = now,
            ["RecordCount"] = profile.RecordKeys.Count,
            ["Lifecycle"] = profile.Segments.GetValueOrDefault("lifecycle"),
            ["ValueTier"] = profile.Segments.GetValueOrDefault("valueTier"),
            ["RfmTier"] = profile.Segments.GetValueOrDefault("rfmTier"),
            ["RfmR"] = profile.Rfm?.R,
            ["RfmF"] = profile.Rfm?.F,
            ["OrderCount"] = profile.Metrics.OrderCount,
            ["TotalSpent"] = (double)profile.Metrics.TotalSpent,
            ["Currency"] = profile.Metrics.Currency,
            ["FirstOrderAt"] = profile.Metrics.FirstOrderAt,
            ["LastOrderAt"] = profile.Metrics.LastOrderAt,
            ["Platforms"] = string.Join(',', profile.Platforms),
        };
        Packed.Write(row, "Records", new JArray(profile.RecordKeys));
        Packed.Write(row, "Keys", new JArray(keyHashes));
        Packed.Write(row, "View", view);
        return row;
    }

    private static IEnumerable<string> MergedFrom(TableEntity? row) =>
        row?.GetString("MergedFrom") is { Length: > 0 } list ? list.Split(',') : [];

    private static IEnumerable<string> Ids(TableEntity? row) =>
        row?.GetString("Profiles") is { Length: > 0 } list ? list.Split(',') : [];

    internal static IEnumerable<string> Strings(TableEntity row, string name) =>
        Packed.Read(row, name) is JArray array ? array.Select(t => (string)t!) : [];

    /// <summary>Of the given profiles, those merged into another: id → the survivor at the end of the chain.</summary>
    public async Task<Dictionary<string, string>> SurvivorsAsync(string tenant, IReadOnlyCollection<string> ids, CancellationToken ct)
    {
        var table = await tables.GetAsync(HubTables.Profiles, ct);
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        var rows = await Packed.ReadManyAsync(table, tenant, ids, ct, ["PartitionKey", "RowKey", "MergedInto"]);
        foreach (var (id, row) in rows)
        {
            var survivor = row.GetString("MergedInto");
            for (var hops = 0; survivor is not null && hops < 10; hops++)
            {
                var next = await table.GetEntityIfExistsAsync<TableEntity>(tenant, survivor, ["MergedInto"], ct);
                if (!next.HasValue || next.Value?.GetString("MergedInto") is not { } further)
                {
                    break;
                }

                survivor = further;
            }

            if (survivor is not null)
            {
                result[id] = survivor;
            }
        }

        return result;
    }

    /// <summary>The stored view of each profile that exists (merged ones are followed to their survivor).</summary>
    public async Task<Dictionary<string, JObject>> ViewsAsync(string tenant, IEnumerable<string> ids, CancellationToken ct)
    {
        var table = await tables.GetAsync(HubTables.Profiles, ct);
        var rows = await Packed.ReadManyAsync(table, tenant, ids, ct);
        var views = new Dictionary<string, JObject>(StringComparer.Ordinal);
        foreach (var (id, row) in rows)
        {
            if (row.GetString("MergedInto") is null && Packed.Read(row, "View") is JObject view)
            {
                views[id] = view;
            }
        }

        return views;
    }
}

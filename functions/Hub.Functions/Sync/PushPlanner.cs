using Hub.Connectors;
using Hub.Functions.State;
using Hub.Mappings.Rules;
using Newtonsoft.Json.Linq;

namespace Hub.Functions.Sync;

/// <summary>One CRM connection and module the tenant's profiles go to, with the target rule that shapes them.</summary>
public sealed record PushTarget(ConnectionEntity Connection, ICrmConnector Connector, string Module, TargetRule Rule)
{
    public string ConnectionId => Connection.RowKey;
}

/// <summary>
/// Decides what goes to the CRMs: for each changed profile and each CRM target of the tenant, the target payload's
/// hash is compared with the Ledger (what the CRM last accepted) and with an open failure of the same payload (which
/// retrying cannot fix); only the rest enter the Pending outbox, and one <c>push</c> nudge per target is returned.
/// <para>
/// While a backfill holds the tenant's pushes (<see cref="BackfillHold"/>), profiles that no webhook changed enter the
/// outbox without those two reads: a backfill plans each person once per batch that touched them, and their rows wait
/// anyway. <c>PushCrm</c> compares every row with the Ledger and the open failures when it drains, so each person costs
/// those reads once, when the backfill is done.
/// </para>
/// </summary>
public sealed class PushPlanner(ConnectionStore connections, PushStore push, RulesProvider rules, BackfillHold hold, IServiceProvider services, TimeProvider clock, ILogger<PushPlanner> logger)
{
    /// <summary>The tenant's CRM targets: each active CRM connection × its modules (settings <c>modules</c>, else every target rule of that CRM).</summary>
    public async Task<IReadOnlyList<PushTarget>> TargetsAsync(string tenant, CancellationToken ct, string? connectionId = null, bool includePaused = false)
    {
        var targets = new List<PushTarget>();
        var ruleSet = await rules.ForTenantAsync(tenant, ct);
        foreach (var connection in await connections.ListAsync(tenant, ct))
        {
            if ((connectionId is not null && connection.RowKey != connectionId) || (!includePaused && connection.Status != ConnectionStatus.Active))
            {
                continue;
            }

            if (services.GetKeyedService<ICrmConnector>(connection.ConnectorId) is not { } connector)
            {
                continue;
            }

            targets.AddRange(TargetsOf(connection, connector, ruleSet));
        }

        return targets;
    }

    /// <summary>One CRM connection's targets under its tenant's active rules.</summary>
    public async Task<IReadOnlyList<PushTarget>> TargetsOfAsync(ConnectionEntity connection, ICrmConnector connector, CancellationToken ct) =>
        TargetsOf(connection, connector, await rules.ForTenantAsync(connection.PartitionKey, ct)).ToList();

    public IEnumerable<PushTarget> TargetsOf(ConnectionEntity connection, ICrmConnector connector, RuleSet ruleSet)
    {
        var settings = JObject.Parse(string.IsNullOrWhiteSpace(connection.SettingsJson) ? "{}" : connection.SettingsJson);
        var modules = settings["modules"] is JArray named
            ? named.Select(m => (string)m!).ToList()
            : ruleSet.Targets.Where(t => t.Crm == connection.ConnectorId).Select(t => t.Module).ToList();
        foreach (var module in modules)
        {
            var rule = ruleSet.Targets.FirstOrDefault(t => t.Crm == connection.ConnectorId && t.Module == module);
            if (rule is null)
            {
                logger.LogWarning("Connection {Tenant}/{Connection} names module {Module}, which has no target rule for {Crm}", connection.PartitionKey, connection.RowKey, module, connection.ConnectorId);
                continue;
            }

            yield return new PushTarget(connection, connector, module, rule);
        }
    }

    /// <param name="live">Profiles a webhook changed: their outbox rows are not held while a backfill runs.</param>
    /// <param name="heldRows">
    /// What the caller, holding the resolve gate, knows of the outbox: a held row it already wrote is not written again
    /// (<see cref="HeldGraphRows.HasHeldOutbox"/>), once <paramref name="keepOutbox"/> (<see cref="ResolveGate.Hold.KeepOutboxAsync"/>)
    /// has marked the gate so that no drain removes held rows meanwhile.
    /// </param>
    public async Task<IReadOnlyList<PushMessage>> PlanAsync(string tenant, IReadOnlyList<ResolvedProfile> changed, IReadOnlyList<string> removed, CancellationToken ct, IReadOnlyDictionary<string, string>? merged = null, IReadOnlySet<string>? live = null, HeldGraphRows? heldRows = null, Func<CancellationToken, Task<bool>>? keepOutbox = null)
    {
        merged ??= new Dictionary<string, string>();
        if (changed.Count == 0 && removed.Count == 0 && merged.Count == 0)
        {
            return [];
        }

        var kicks = new List<PushMessage>();
        var ctx = new EvalContext(clock.GetUtcNow());
        var targets = await TargetsAsync(tenant, ct);
        var held = targets.Count > 0 && changed.Any(p => live?.Contains(p.Id) != true) && await hold.HoldsAsync(tenant, ct);
        var known = held && heldRows is not null && keepOutbox is not null && await keepOutbox(ct) ? heldRows : null;
        foreach (var target in targets)
        {
            if (removed.Count > 0)
            {
                var gone = removed.Select(id => PushStore.Key(target.ConnectionId, target.Module, id)).ToList();
                heldRows?.OutboxNotHeld(gone);
                await push.ForgetPendingAsync(tenant, gone, ct);
            }

            // Profiles merged into another: if the CRM holds a record for the merged one, it is merged into the survivor's.
            var kicked = false;
            if (merged.Count > 0)
            {
                var bound = await push.ReadAsync(HubTables.Ledger, tenant, target.ConnectionId, target.Module, merged.Keys, ct);
                var merges = bound.Where(b => b.Value.GetString("CrmId") is not null).Select(b => (merged[b.Key], b.Key)).ToList();
                if (merges.Count > 0)
                {
                    await push.EnqueueMergesAsync(tenant, target.ConnectionId, target.Module, merges, ct);
                    kicks.Add(new PushMessage(tenant, target.ConnectionId, target.Module));
                    kicked = true;
                }
            }

            if (changed.Count == 0)
            {
                continue;
            }

            // Held rows go in unchecked and unmapped: PushCrm maps each profile and compares it with the Ledger when it
            // drains. A held row is the same whatever the profile holds, so one this holder wrote is not written again
            // (a backfill changes a person in many batches). The others are checked now, so an unchanged profile costs
            // no outbox row and no push.
            var skipped = 0;
            var items = new List<(string ProfileId, string Hash, bool Force, bool Live)>();
            var check = new List<(string ProfileId, string Hash, bool Force, bool Live)>();
            foreach (var profile in changed)
            {
                var isLive = live?.Contains(profile.Id) == true;
                if (held && !isLive)
                {
                    if (known?.HasHeldOutbox(PushStore.Key(target.ConnectionId, target.Module, profile.Id)) == true)
                    {
                        skipped++; // written in an earlier batch of this hold, and still there
                    }
                    else
                    {
                        items.Add((profile.Id, "", false, false));
                    }
                }
                else
                {
                    check.Add((profile.Id, target.Rule.Map(profile.View, ctx).Hash, false, isLive));
                }
            }

            if (check.Count > 0)
            {
                var ledger = await push.ReadAsync(HubTables.Ledger, tenant, target.ConnectionId, target.Module, check.Select(c => c.ProfileId), ct);
                check.RemoveAll(c => ledger.TryGetValue(c.ProfileId, out var bound) && bound.GetString("Hash") == c.Hash); // the CRM already holds exactly this
                var failures = check.Count == 0 ? [] : await push.ReadAsync(HubTables.Failures, tenant, target.ConnectionId, target.Module, check.Select(c => c.ProfileId), ct);
                check.RemoveAll(c => PushStore.StillRefused(failures.GetValueOrDefault(c.ProfileId), c.Hash)); // waits for a fix and a replay
                items.AddRange(check);
            }

            if (items.Count > 0)
            {
                // Rows written as live ones are no longer held rows (a drain may take them at once); this is known before
                // the write, so a write that fails half-way leaves nothing believed that is not so.
                heldRows?.OutboxNotHeld(items.Where(i => i.Live || i.Hash.Length > 0).Select(i => PushStore.Key(target.ConnectionId, target.Module, i.ProfileId)));
                await push.EnqueueAsync(tenant, target.ConnectionId, target.Module, items, ct);
                known?.WroteHeldOutbox(items.Where(i => !i.Live && !i.Force && i.Hash.Length == 0).Select(i => PushStore.Key(target.ConnectionId, target.Module, i.ProfileId)));
            }

            // Also when every row was there already: the drain that ends a backfill's hold comes from these messages.
            if (held)
            {
                ResolveCounters.HeldOutbox(items.Count(i => !i.Live && i.Hash.Length == 0), skipped);
            }

            if (!kicked && (items.Count > 0 || skipped > 0))
            {
                kicks.Add(new PushMessage(tenant, target.ConnectionId, target.Module));
            }
        }

        return kicks;
    }
}

using Hub.Functions.Hosting;
using Hub.Functions.State;
using Hub.Functions.Sync;
using Microsoft.Extensions.Options;

namespace Hub.Functions.Functions;

/// <summary>
/// <c>resolve</c> trigger. Folds the named records into the identity graph (merges included), recomputes the
/// affected profiles' metrics and segments, and hands the profiles whose CRM payload changed to the outbox, sending
/// one <c>push</c> nudge per CRM target. Idempotent: resolving the same records again writes nothing and pushes nothing.
/// <para>
/// One resolution per tenant at a time (<see cref="ResolveGate"/>). A message that finds the gate taken writes its
/// records to the <see cref="ResolveBacklog"/> and returns; the holder resolves its own records with the backlog in
/// batches of up to <see cref="SyncOptions.ResolveBatch"/>, and after letting go of the gate looks at the backlog once
/// more (anything written before a failed entry is seen by the holder's last look). Past
/// <see cref="SyncOptions.ResolveBudget"/> it hands over with an empty <c>resolve</c> message of its own, passing the
/// gate and the graph rows it kept to that message's invocation (<see cref="ResolveGate.Hold.HandOverAsync"/>).
/// </para>
/// </summary>
public sealed class ResolveProfiles(ProfileGraph graph, PushPlanner planner, ResolveGate gate, ResolveBacklog backlog, TimeProvider clock, IOptions<SyncOptions> options, ILogger<ResolveProfiles> logger) : IFunction
{
    public const string Name = nameof(ResolveProfiles);
    public const string PushOutput = "push";
    public const string NextOutput = "next";

    public async Task<InvocationResult> InvokeAsync(Invocation invocation, CancellationToken cancellationToken)
    {
        var message = invocation.Read<ResolveMessage>("message");
        if (string.IsNullOrEmpty(message.TenantId) || message.Records is null)
        {
            throw new InvocationDecodingException("A resolve message needs tenantId and records.");
        }

        var tenant = HubTables.ValidateKey(message.TenantId, "tenant");
        var result = new InvocationResult();
        var ownRecords = message.Records.ToList();
        var ownProfiles = (message.Profiles ?? []).ToList();
        var held = await gate.TryEnterAsync(tenant, cancellationToken, message.HandOver);
        if (held is null)
        {
            if (ownRecords.Count + ownProfiles.Count > 0)
            {
                await backlog.AddAsync(tenant, ownRecords, ownProfiles, message.RulesAsOf, message.Live, cancellationToken, message.Added);
            }

            // The holder may have let go between the first try and the write: then nobody would look again.
            held = await gate.TryEnterAsync(tenant, cancellationToken);
            if (held is null)
            {
                ResolveCounters.Deferred();
                result.Logs.Add($"{ownRecords.Count} record(s) and {ownProfiles.Count} profile(s) of {tenant} left to the resolution in progress.");
                return result;
            }

            ownRecords.Clear();
            ownProfiles.Clear();
        }

        var started = clock.GetUtcNow();
        var kicks = new HashSet<PushMessage>();
        int batches = 0, asked = 0, changed = 0, merged = 0;
        var handOver = false;
        string? token = null;
        var adopted = held.Adopted?.Count ?? 0;
        while (held is not null)
        {
            await using (held)
            {
                var heldRows = held.Adopted ?? new HeldGraphRows(tenant);
                var disturbed = false;
                while (true)
                {
                    var own = ownRecords.Count + ownProfiles.Count;
                    var taken = await backlog.TakeAsync(tenant, Math.Max(0, options.Value.ResolveBatch - own), cancellationToken);
                    var records = ownRecords.Concat(taken.Records).Distinct(StringComparer.Ordinal).ToList();
                    var profiles = ownProfiles.Concat(taken.Profiles).Distinct(StringComparer.Ordinal).ToList();
                    if (records.Count + profiles.Count == 0)
                    {
                        await backlog.RemoveAsync(taken, cancellationToken);
                        break;
                    }

                    var rulesAsOf = new[] { message.RulesAsOf, taken.RulesAsOf }.Max();
                    var watch = System.Diagnostics.Stopwatch.StartNew();

                    // Records their pages added, resolved without a read while the hold is undisturbed.
                    var added = AgreedAdded(ownRecords, message.Added, taken);
                    if ((heldRows.Count > 0 || added.Count > 0) && !await held.ConfirmAsync(cancellationToken))
                    {
                        heldRows.Forget(); // disturbed since the last batch (a deletion marked profile rows) or broken
                        added.Clear();
                    }

                    var outcome = await graph.ResolveAsync(tenant, records, profiles, cancellationToken, rulesAsOf, held.ConfirmAsync, heldRows, added);
                    var resolvedMs = watch.ElapsedMilliseconds;
                    if (held.Broken && !disturbed)
                    {
                        disturbed = true;
                        // This batch may have written while another resolution held the gate: that one must not go on
                        // trusting the identity rows it kept.
                        heldRows.Distrust();
                        await held.DisturbAsync(cancellationToken);
                    }

                    // What a webhook brought is pushed even while a backfill holds the rest.
                    var live = new HashSet<string>(taken.Live, StringComparer.Ordinal);
                    if (message.Live)
                    {
                        live.UnionWith(ownRecords);
                        live.UnionWith(ownProfiles);
                    }

                    var liveProfiles = live.Select(k => outcome.Assignments.TryGetValue(k, out var id) ? id : k).ToHashSet(StringComparer.Ordinal);
                    kicks.UnionWith(await planner.PlanAsync(tenant, outcome.Changed, outcome.Removed, cancellationToken, outcome.MergedInto, liveProfiles, heldRows, held.KeepOutboxAsync));

                    // Only now, with the graph written and the pushes planned: a failure before this leaves the rows
                    // for the redelivery or the next holder.
                    await backlog.RemoveAsync(taken, cancellationToken);
                    ResolveCounters.Batch();
                    logger.LogInformation("Resolved {Asked} record(s) and profile(s) of {Tenant} ({Live} live): component of {Records} record(s), {Profiles} profile(s) in {Ms} ms (load {Load}, build {Build}, write {Write}, attempts {Attempts}), planned in {PlanMs} ms",
                        records.Count + profiles.Count, tenant, live.Count, outcome.Records, outcome.Profiles, resolvedMs, outcome.Phases.Load, outcome.Phases.Build, outcome.Phases.Write, outcome.Attempts, watch.ElapsedMilliseconds - resolvedMs);
                    batches++;
                    asked += records.Count + profiles.Count;
                    changed += outcome.Changed.Count;
                    merged += outcome.MergedInto.Count;
                    if (outcome.RefusedJoins.Count > 0)
                    {
                        logger.LogInformation("Tenant {Tenant}: {Count} join(s) refused by identity limits: {First}", tenant, outcome.RefusedJoins.Count, outcome.RefusedJoins[0]);
                    }

                    ownRecords.Clear();
                    ownProfiles.Clear();
                    if (clock.GetUtcNow() - started > options.Value.ResolveBudget)
                    {
                        handOver = true;
                        token = await held.HandOverAsync(heldRows, cancellationToken);
                        break;
                    }
                }
            }

            held = null;
            if (handOver)
            {
                result.Send(NextOutput, new ResolveMessage(tenant, []) { HandOver = token });
            }
            else if (await backlog.AnyAsync(tenant, cancellationToken))
            {
                // Written after the last take but before the release, by a message that found the gate still taken.
                held = await gate.TryEnterAsync(tenant, cancellationToken);
            }
        }

        foreach (var kick in kicks)
        {
            result.Send(PushOutput, kick);
        }

        result.Logs.Add($"Resolved {asked} record(s) and profile(s) of {tenant} in {batches} batch(es): {changed} profile(s) planned, {merged} merged{(adopted > 0 ? $"; went on with {adopted} graph row(s) the holder before kept" : "")}{(handOver ? "; handed over to a fresh invocation" : "")}.");
        return result;
    }

    /// <summary>
    /// The records of a batch known as their page added them (<see cref="AddedRecord"/>): only those every mention
    /// agrees on. A key in the backlog again without it was stored again since, and is read.
    /// </summary>
    internal static Dictionary<string, AddedRecord> AgreedAdded(IReadOnlyCollection<string> own, IReadOnlyDictionary<string, AddedRecord>? ownAdded, BacklogBatch taken)
    {
        var agreed = new Dictionary<string, AddedRecord>(StringComparer.Ordinal);
        var refused = new HashSet<string>(StringComparer.Ordinal);
        var mentions = own.Select(k => (Key: k, Info: ownAdded?.GetValueOrDefault(k))).Concat(taken.Records.Select(k => (Key: k, Info: taken.Added.GetValueOrDefault(k))));
        foreach (var (key, info) in mentions)
        {
            if (info is null || refused.Contains(key) || (agreed.TryGetValue(key, out var seen) && seen != info))
            {
                refused.Add(key);
                agreed.Remove(key);
                continue;
            }

            agreed[key] = info;
        }

        return agreed;
    }
}

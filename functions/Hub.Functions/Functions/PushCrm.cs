using System.Collections.Concurrent;
using Azure.Data.Tables;
using Hub.Connectors;
using Hub.Functions.Hosting;
using Hub.Functions.State;
using Hub.Functions.Sync;
using Hub.Mappings.Rules;
using Microsoft.Extensions.Options;
using Newtonsoft.Json.Linq;

namespace Hub.Functions.Functions;

/// <summary>
/// <c>push</c> trigger. Drains the Pending outbox of one CRM connection and module under a lease (one drainer at a
/// time, so batches fill to the CRM's maximum): each profile's payload is computed afresh from its stored view and
/// compared with the Ledger, and the changed ones are written in batches of the CRM's size, up to its concurrency.
/// Per record: created/updated → Ledger (CRM id binding + payload hash) and any open failure closed; rejected → Failures
/// with the CRM's own code and message and the payload; transient → retried with doubling back-off, then Failures.
/// Idempotent: the outbox rows say what to do, and a redelivered message finds them done.
/// </summary>
public sealed class PushCrm(
    ConnectionStore connections,
    BackfillHold hold,
    ConnectionContexts contexts,
    PushStore push,
    ResolveGate gate,
    PushPlanner planner,
    ProfileGraph graph,
    RunStore runs,
    IServiceProvider services,
    TimeProvider clock,
    IOptions<SyncOptions> options,
    ILogger<PushCrm> logger) : IFunction
{
    public const string Name = nameof(PushCrm);
    public const string NextOutput = "next";

    public async Task<InvocationResult> InvokeAsync(Invocation invocation, CancellationToken cancellationToken)
    {
        var message = invocation.Read<PushMessage>("message");
        if (string.IsNullOrEmpty(message.TenantId) || string.IsNullOrEmpty(message.ConnectionId) || string.IsNullOrEmpty(message.Module))
        {
            throw new InvocationDecodingException("A push message needs tenantId, connectionId and module.");
        }

        var result = new InvocationResult();
        var tenant = message.TenantId;
        var connection = await connections.GetAsync(tenant, message.ConnectionId, cancellationToken);
        if (connection is null || connection.Status != ConnectionStatus.Active || services.GetKeyedService<ICrmConnector>(connection.ConnectorId) is not { } connector)
        {
            result.Logs.Add($"Push for {message.ConnectionId}: the connection is gone, paused or not a CRM; its outbox waits.");
            return result;
        }

        var target = (await planner.TargetsOfAsync(connection, connector, cancellationToken)).FirstOrDefault(t => t.Module == message.Module);
        if (target is null)
        {
            result.Logs.Add($"Push for {message.ConnectionId}: no target rule for module {message.Module}.");
            return result;
        }

        var owner = invocation.InvocationId ?? Guid.NewGuid().ToString("N");
        var leaseFor = options.Value.PushBudget + TimeSpan.FromMinutes(1);
        var lease = await push.TryLeaseAsync(tenant, connection.RowKey, message.Module, owner, clock.GetUtcNow(), leaseFor, cancellationToken);
        if (lease is null)
        {
            result.Logs.Add($"Push for {message.ConnectionId}/{message.Module}: another invocation is draining.");
            return result;
        }

        var context = await contexts.ForAsync(connection, cancellationToken);
        var started = clock.GetUtcNow();
        var run = new RunEntity
        {
            PartitionKey = tenant,
            RowKey = runs.NewRunId(),
            Kind = "push",
            Trigger = "push",
            ConnectionId = connection.RowKey,
            Stream = message.Module,
            Status = RunStatus.Running,
            StartedAt = started,
            UpdatedAt = started,
            Attempts = 1,
            LastDeliveryCount = invocation.DeliveryCount,
        };
        var handedOver = false;
        var waitsForResolution = false;
        try
        {
            var limits = connector.Limits;
            var take = Math.Clamp(limits.MaxBatchSize * Math.Max(1, limits.MaxConcurrency), 1, 1000);
            while (true)
            {
                var backfilling = await hold.HoldsAsync(tenant, cancellationToken);
                var due = await push.DueAsync(tenant, connection.RowKey, message.Module, take, clock.GetUtcNow(), cancellationToken, backfilling);
                if (due.Count == 0)
                {
                    break;
                }

                // Linger while a partial batch keeps growing (a sync resolving), never more than three times. Not for a
                // webhook's change alone: it is one record, and the merchant waits for it.
                for (var linger = 0; linger < 3 && due.Count < limits.MaxBatchSize && options.Value.PushLinger > TimeSpan.Zero && due.Any(r => r.GetBoolean("Live") != true); linger++)
                {
                    await Task.Delay(options.Value.PushLinger, clock, cancellationToken);
                    var more = await push.DueAsync(tenant, connection.RowKey, message.Module, take, clock.GetUtcNow(), cancellationToken, backfilling);
                    var grew = more.Count > due.Count;
                    due = more;
                    if (!grew)
                    {
                        break;
                    }
                }

                if (!await DrainAsync(target, context, due, run, cancellationToken))
                {
                    // Held rows a resolution still counts on: they go after it, whose push message comes when it ends.
                    waitsForResolution = true;
                    break;
                }

                if (clock.GetUtcNow() - started > options.Value.PushBudget)
                {
                    result.Send(NextOutput, message); // hand over to a fresh invocation, well within the function timeout
                    handedOver = true;
                    break;
                }

                if (!await push.RenewLeaseAsync(lease, clock.GetUtcNow() + leaseFor, cancellationToken))
                {
                    break; // the lease expired and someone else took over
                }
            }
        }
        finally
        {
            await push.ReleaseLeaseAsync(lease, CancellationToken.None);
            if (run.Records > 0 || run.Rejected > 0 || run.Unchanged > 0 || run.Merged > 0)
            {
                run.Status = RunStatus.Succeeded;
                run.FinishedAt = run.UpdatedAt = clock.GetUtcNow();
                await runs.UpsertAsync(run, CancellationToken.None);
            }
        }

        // A row added after the last look but before the release found the lease taken: look once more.
        if (!handedOver && !waitsForResolution && (await push.DueAsync(tenant, connection.RowKey, message.Module, 1, clock.GetUtcNow(), cancellationToken, await hold.HoldsAsync(tenant, cancellationToken))).Count > 0)
        {
            result.Send(NextOutput, message);
        }

        result.Logs.Add($"Push {connection.RowKey}/{message.Module}: {run.Created} created, {run.Updated} updated, {run.Unchanged} unchanged, {run.Rejected} rejected, {run.Retried} to retry, {run.Calls} call(s).");
        logger.LogInformation("Pushed {Tenant}/{Connection}/{Module}: {Created} created, {Updated} updated, {Unchanged} unchanged, {Rejected} rejected, {Retried} retried, {Calls} calls",
            tenant, connection.RowKey, message.Module, run.Created, run.Updated, run.Unchanged, run.Rejected, run.Retried, run.Calls);
        return result;
    }

    /// <returns>False when held rows were left because a resolution holding the gate still counts on them.</returns>
    private async Task<bool> DrainAsync(PushTarget target, ConnectionContext context, List<TableEntity> all, RunEntity run, CancellationToken ct)
    {
        var tenant = run.PartitionKey;
        var now = clock.GetUtcNow();
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var due = all.Where(r => PushStore.MergedOf(r.RowKey) is null).ToList();
        var done = new List<TableEntity>();

        // Merges first: the survivor's upsert must land on the one record left, not on a duplicate about to go.
        await MergeAsync(target, context, all.Where(r => PushStore.MergedOf(r.RowKey) is not null).ToList(), run, ct);
        var ids = due.Select(r => PushStore.ProfileOf(r.RowKey)).ToList();
        var views = await graph.ViewsAsync(tenant, ids, ct);
        var ledger = await push.ReadAsync(HubTables.Ledger, tenant, target.ConnectionId, target.Module, ids, ct);
        var evalContext = new EvalContext(now);
        var payloads = new Dictionary<string, TargetPayload>(StringComparer.Ordinal);
        foreach (var (id, view) in views)
        {
            payloads[id] = target.Rule.Map(view, evalContext);
        }

        // Open failures of the profiles that would be written: a payload the CRM refused waits for a fix and a replay
        // (a replay forces), and a write that succeeds closes its failure. Rows the planner put in unchecked during a
        // backfill (PushPlanner) are checked here.
        var changedIds = due.Where(r => r.GetBoolean("Force") != true).Select(r => PushStore.ProfileOf(r.RowKey))
            .Where(id => payloads.TryGetValue(id, out var p) && ledger.GetValueOrDefault(id)?.GetString("Hash") != p.Hash).ToList();
        var failures = await push.ReadAsync(HubTables.Failures, tenant, target.ConnectionId, target.Module, due.Where(r => r.GetBoolean("Force") == true).Select(r => PushStore.ProfileOf(r.RowKey)).Concat(changedIds), ct);
        var send = new List<(TableEntity Pending, CrmRecord Record, TargetPayload Payload)>();
        var nothingToDo = new List<TableEntity>();
        foreach (var pending in due)
        {
            var id = PushStore.ProfileOf(pending.RowKey);
            if (!payloads.TryGetValue(id, out var payload))
            {
                nothingToDo.Add(pending); // merged or removed since: its survivor has its own row
                continue;
            }

            var bound = ledger.GetValueOrDefault(id);
            if (pending.GetBoolean("Force") != true && PushStore.StillRefused(failures.GetValueOrDefault(id), payload.Hash))
            {
                nothingToDo.Add(pending);
                run.Unchanged++;
                continue;
            }

            if (!payload.IsValid)
            {
                var issues = string.Join("; ", payload.Issues.Where(i => i.IsError).Select(i => $"{i.Field}: {i.Message}"));
                await push.RecordFailureAsync(tenant, target.ConnectionId, target.Module, id, "invalid", "MAPPING", $"The target rule {target.Rule.File} refused the profile: {issues}", payload.Payload, payload.Hash, now, ct);
                done.Add(pending);
                run.Rejected++;
                continue;
            }

            if (bound?.GetString("Hash") == payload.Hash && pending.GetBoolean("Force") != true)
            {
                nothingToDo.Add(pending);
                run.Unchanged++;
                continue;
            }

            var match = payload.Payload[target.Rule.MatchKey]?.ToString() ?? "";
            send.Add((pending, new CrmRecord(id, match, payload.Payload, payload.Tags, bound?.GetString("CrmId")), payload));
        }

        done.AddRange(nothingToDo);
        var readMs = watch.ElapsedMilliseconds;
        var limits = target.Connector.Limits;
        var outcomes = new ConcurrentBag<(CrmRecordResult Result, string? Error)>();
        var owned = target.Rule.TagNames.ToList();
        var calls = 0;
        var credits = 0;
        await Parallel.ForEachAsync(send.Chunk(Math.Max(1, limits.MaxBatchSize)), new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, limits.MaxConcurrency), CancellationToken = ct }, async (chunk, token) =>
        {
            try
            {
                var answer = await target.Connector.UpsertAsync(context, new CrmUpsertBatch(target.Module, target.Rule.MatchKey, chunk.Select(c => c.Record).ToList(), owned) { FallbackMatchFields = target.Rule.FallbackKeys }, token);
                Interlocked.Add(ref calls, answer.Usage.Calls);
                Interlocked.Add(ref credits, answer.Usage.Credits);
                var said = answer.Records.ToDictionary(r => r.ProfileId, StringComparer.Ordinal);
                foreach (var c in chunk)
                {
                    outcomes.Add(said.TryGetValue(c.Record.ProfileId, out var r) ? (r, null) : (new CrmRecordResult(c.Record.ProfileId, CrmOutcome.Transient, Message: "The CRM's answer did not mention this record."), null));
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !token.IsCancellationRequested)
            {
                // The whole call failed after the connector's own retries (credentials, outage): every record waits.
                Interlocked.Increment(ref calls);
                foreach (var c in chunk)
                {
                    outcomes.Add((new CrmRecordResult(c.Record.ProfileId, CrmOutcome.Transient, Code: ex.GetType().Name, Message: ex.Message), ex.Message));
                }
            }
        });

        run.Calls += calls;
        run.Credits += credits;
        var crmMs = watch.ElapsedMilliseconds - readMs;
        var byId = send.ToDictionary(s => s.Record.ProfileId, StringComparer.Ordinal);
        var ledgerRows = new List<TableEntity>();
        var written = new List<(TableEntity Pending, string Key)>();
        foreach (var (outcome, _) in outcomes)
        {
            if (!byId.TryGetValue(outcome.ProfileId, out var item))
            {
                continue;
            }

            var key = PushStore.Key(target.ConnectionId, target.Module, outcome.ProfileId);
            switch (outcome.Outcome)
            {
                case CrmOutcome.Created or CrmOutcome.Updated:
                    ledgerRows.Add(new TableEntity(tenant, key)
                    {
                        ["CrmId"] = outcome.CrmId ?? item.Record.CrmId,
                        ["Hash"] = item.Payload.Hash,
                        ["PushedAt"] = now,
                        ["Action"] = outcome.Outcome == CrmOutcome.Created ? "created" : "updated",
                    });
                    written.Add((item.Pending, key));
                    if (outcome.Outcome == CrmOutcome.Created)
                    {
                        run.Created++;
                    }
                    else
                    {
                        run.Updated++;
                    }

                    break;
                case CrmOutcome.Rejected:
                    await push.RecordFailureAsync(tenant, target.ConnectionId, target.Module, outcome.ProfileId, "rejected", outcome.Code, outcome.Message ?? "(the CRM gave no message)", item.Payload.Payload, item.Payload.Hash, now, ct);
                    done.Add(item.Pending);
                    run.Rejected++;
                    break;
                default:
                    var attempts = (item.Pending.GetInt32("Attempts") ?? 0) + 1;
                    if (attempts >= options.Value.PushMaxAttempts)
                    {
                        await push.RecordFailureAsync(tenant, target.ConnectionId, target.Module, outcome.ProfileId, "transient", outcome.Code, $"Gave up after {attempts} attempts: {outcome.Message}", item.Payload.Payload, item.Payload.Hash, now, ct);
                        done.Add(item.Pending);
                        run.Rejected++;
                    }
                    else
                    {
                        var delay = options.Value.PushRetryBase * Math.Pow(2, attempts - 1);
                        await push.RetryLaterAsync(item.Pending, attempts, now + delay, outcome.Message ?? "transient", ct);
                        run.Retried++;
                    }

                    break;
            }
        }

        // Ledger first: a crash before the outbox rows go leaves them to be found unchanged, never pushed twice.
        await push.WriteLedgerAsync(tenant, ledgerRows, ct);

        // A profile merged away while its record was being written: the resolver read the Ledger before this write, so
        // it could not ask for the merge. Reading the profiles after the write closes that gap (one side always sees
        // the other), and the new record is merged into the survivor's.
        var merged = await graph.SurvivorsAsync(tenant, written.Select(w => PushStore.ProfileOf(w.Key)).ToList(), ct);
        if (merged.Count > 0)
        {
            await push.EnqueueMergesAsync(tenant, target.ConnectionId, target.Module, merged.Select(m => (m.Value, m.Key)), ct);
            run.Retried += merged.Count;
        }
        await push.CloseFailuresAsync(tenant, written.Select(w => failures.GetValueOrDefault(PushStore.ProfileOf(w.Key))).OfType<TableEntity>(), now, ct);
        done.AddRange(written.Select(w => w.Pending));

        // Rows are removed last, each on the ETag read (a row refreshed meanwhile stays, to go again). Held rows only
        // when no resolution holding the gate remembers them (ResolveGate.MayRemoveHeldOutboxAsync): it would not
        // write again one that is gone.
        var heldDone = done.Where(r => PushStore.IsHeld(r, backfilling: true) && string.IsNullOrEmpty(r.GetString("Hash"))).ToList();
        await push.CompleteManyAsync(heldDone.Count == 0 ? done : done.Except(heldDone).ToList(), ct);
        var removedHeld = heldDone.Count == 0 || await gate.MayRemoveHeldOutboxAsync(tenant, ct);
        if (heldDone.Count > 0 && removedHeld)
        {
            await push.CompleteManyAsync(heldDone, ct);
        }

        run.Records += send.Count;
        run.UpdatedAt = clock.GetUtcNow();
        logger.LogInformation("Drained {Rows} outbox row(s) of {Tenant}/{Connection}/{Module}: {Sent} sent in {Calls} call(s); read {ReadMs} ms, CRM {CrmMs} ms, recorded {RecordMs} ms{Left}",
            all.Count, tenant, target.ConnectionId, target.Module, send.Count, calls, readMs, crmMs, watch.ElapsedMilliseconds - readMs - crmMs, removedHeld ? "" : $"; {heldDone.Count} held row(s) left for the resolution holding the gate");
        return removedHeld;
    }

    /// <summary>
    /// Merge rows: a profile that had a CRM record was merged into a survivor. The survivor's record is kept (or, if
    /// the survivor has none yet, the first merged record becomes the survivor's), the other records are merged into
    /// it (Zoho Merge Records: blanks filled from the duplicate, which is deleted; HubSpot: a new merged contact, to
    /// which the survivor's Ledger row is moved), and the merged profiles' Ledger rows go. This runs before the
    /// survivor's own upsert, which then finds the one record left. A CRM without a merge API gets a Failures row
    /// naming both records, so a person can merge them.
    /// </summary>
    private async Task MergeAsync(PushTarget target, ConnectionContext context, List<TableEntity> merges, RunEntity run, CancellationToken ct)
    {
        if (merges.Count == 0)
        {
            return;
        }

        var tenant = run.PartitionKey;
        var now = clock.GetUtcNow();
        var ids = merges.SelectMany(m => new[] { PushStore.ProfileOf(m.RowKey), PushStore.MergedOf(m.RowKey)! }).Distinct(StringComparer.Ordinal);
        var ledger = await push.ReadAsync(HubTables.Ledger, tenant, target.ConnectionId, target.Module, ids, ct);
        var merger = services.GetKeyedService<ICrmMerger>(target.Connection.ConnectorId);
        var gone = new HashSet<string>(StringComparer.Ordinal); // CRM records merged away by an earlier row of this batch
        foreach (var row in merges)
        {
            var survivor = PushStore.ProfileOf(row.RowKey);
            var mergedId = PushStore.MergedOf(row.RowKey)!;
            var duplicate = ledger.GetValueOrDefault(mergedId)?.GetString("CrmId");
            var keep = ledger.GetValueOrDefault(survivor)?.GetString("CrmId");
            if (duplicate is null || duplicate == keep || gone.Contains(duplicate))
            {
                if (duplicate is not null)
                {
                    await push.DeleteLedgerAsync(tenant, target.ConnectionId, target.Module, mergedId, ct);
                }

                await push.CompleteAsync(row, ct);
                continue;
            }

            var attempts = (row.GetInt32("Attempts") ?? 0) + 1;
            if (keep is null)
            {
                // The survivor has no record yet: the duplicate's record becomes the survivor's (its upsert updates it).
                var rebound = new TableEntity(tenant, PushStore.Key(target.ConnectionId, target.Module, survivor)) { ["CrmId"] = duplicate, ["Hash"] = "", ["PushedAt"] = now, ["Action"] = "rebound" };
                await push.WriteLedgerAsync(tenant, [rebound], ct);
                ledger[survivor] = rebound;
                await push.DeleteLedgerAsync(tenant, target.ConnectionId, target.Module, mergedId, ct);
                await push.CompleteAsync(row, ct);
                continue;
            }

            if (merger is null)
            {
                await push.RecordFailureAsync(tenant, target.ConnectionId, target.Module, mergedId, "duplicate", "MERGE_UNSUPPORTED",
                    $"Profile {mergedId} was merged into {survivor}, but {target.Connection.ConnectorId} has no merge API: merge record {duplicate} into {keep} in the CRM.", null, null, now, ct);
                await push.DeleteLedgerAsync(tenant, target.ConnectionId, target.Module, mergedId, ct);
                await push.CompleteAsync(row, ct);
                continue;
            }

            try
            {
                var result = await merger.MergeAsync(context, target.Module, keep, duplicate, ct);
                gone.Add(duplicate);
                run.Calls += result.Usage.Calls;
                run.Credits += result.Usage.Credits;
                if (result.RecordId != keep)
                {
                    // HubSpot makes a new contact for every merge: the survivor's binding follows it, first, so a
                    // failure after this line leaves the survivor bound to the record that exists.
                    gone.Add(keep);
                    var moved = new TableEntity(tenant, PushStore.Key(target.ConnectionId, target.Module, survivor))
                    {
                        ["CrmId"] = result.RecordId,
                        ["Hash"] = ledger[survivor].GetString("Hash") ?? "",
                        ["PushedAt"] = now,
                        ["Action"] = "merged",
                    };
                    await push.WriteLedgerAsync(tenant, [moved], ct);
                    ledger[survivor] = moved;
                }

                await push.DeleteLedgerAsync(tenant, target.ConnectionId, target.Module, mergedId, ct);
                await push.CompleteAsync(row, ct);
                run.Merged++;
            }
            catch (ConnectorValidationException ex)
            {
                await push.RecordFailureAsync(tenant, target.ConnectionId, target.Module, mergedId, "duplicate", "MERGE_REFUSED", $"Merging record {duplicate} into {keep}: {ex.Message}", null, null, now, ct);
                await push.CompleteAsync(row, ct);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                run.Calls++;
                await push.RetryLaterAsync(row, attempts, now + (options.Value.PushRetryBase * Math.Pow(2, attempts - 1)), ex.Message, ct);
            }
        }
    }
}

using Hub.Connectors;
using Hub.Functions.Hosting;
using Hub.Functions.State;
using Hub.Functions.Sync;
using Microsoft.Extensions.Options;

namespace Hub.Functions.Functions;

/// <summary>
/// Timer (function.json: <c>%ScheduleSyncCron%</c>, every minute by default). Finds the streams of active
/// connections that are due, claims each with its cursor's ETag (so two timers never start the same run), records
/// a queued Run and sends one <c>pull</c> message per due stream. It also re-sends the pull of a run that made no
/// progress for <see cref="SyncOptions.StaleRunAfter"/>, so a lost message never stalls a stream for good.
/// Every tick is recorded as a Run of kind <c>schedule</c> in the system partition. A tenant whose resolve backlog has
/// waited longer than <see cref="SyncOptions.ResolveBacklogStaleAfter"/> (its resolution died) gets an empty <c>resolve</c> message.
/// </summary>
public sealed class ScheduleSync(
    ConnectionStore connections,
    CursorStore cursors,
    RunStore runs,
    PushStore push,
    ResolveBacklog backlog,
    ResolveGate gate,
    BackfillHold hold,
    IServiceProvider services,
    TimeProvider clock,
    IOptions<SyncOptions> options,
    ILogger<ScheduleSync> logger) : IFunction
{
    public const string Name = nameof(ScheduleSync);
    public const string PullOutput = "pull";
    public const string PushOutput = "push";
    public const string ResolveOutput = "resolve";

    public async Task<InvocationResult> InvokeAsync(Invocation invocation, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        var result = new InvocationResult();
        var tick = new RunEntity
        {
            PartitionKey = HubTables.SystemPartition,
            RowKey = runs.NewRunId(),
            Kind = "schedule",
            Trigger = "timer",
            StartedAt = now,
            UpdatedAt = now,
            Attempts = 1,
        };

        var isPastDue = invocation.Data.TryGetValue("timer", out var timer) && timer is Newtonsoft.Json.Linq.JObject t && t.Value<bool?>("IsPastDue") == true;
        var due = 0;
        var tenants = new SortedSet<string>(StringComparer.Ordinal);
        await foreach (var connection in connections.ListActiveAsync(cancellationToken))
        {
            tenants.Add(connection.PartitionKey);
            var connector = services.GetKeyedService<IStoreConnector>(connection.ConnectorId);
            if (connector is null && services.GetKeyedService<ICrmConnector>(connection.ConnectorId) is not null)
            {
                // A CRM connection: pushed to, never pulled. Nudge its outbox if records wait (back-off expired, resumed).
                var backfilling = await hold.HoldsAsync(connection.PartitionKey, cancellationToken);
                foreach (var (crm, module) in await push.DueTargetsAsync(connection.PartitionKey, now, cancellationToken, backfilling))
                {
                    if (crm == connection.RowKey)
                    {
                        result.Send(PushOutput, new PushMessage(connection.PartitionKey, crm, module));
                    }
                }

                continue;
            }

            if (connector is null)
            {
                logger.LogWarning("Connection {Tenant}/{Connection} names connector '{Connector}', which this handler does not have", connection.PartitionKey, connection.RowKey, connection.ConnectorId);
                continue;
            }

            foreach (var stream in connector.Info.Streams)
            {
                var message = await ScheduleStreamAsync(connection, stream, now, cancellationToken);
                if (message is not null)
                {
                    due++;
                    result.Send(PullOutput, message);
                }
            }
        }

        foreach (var tenant in tenants)
        {
            // Row timestamps are the storage server's time, not the Hub clock. A long backlog a live holder is still
            // working through is not left behind.
            if (await backlog.AnyAsync(tenant, cancellationToken, DateTimeOffset.UtcNow - options.Value.ResolveBacklogStaleAfter) && !await gate.IsTakenAsync(tenant, cancellationToken))
            {
                logger.LogWarning("Tenant {Tenant}: resolve backlog left behind; nudging a resolution", tenant);
                result.Send(ResolveOutput, new ResolveMessage(tenant, []));
            }
        }

        tick.DueStreams = due;
        tick.Enqueued = result.MessageCount(PullOutput);
        tick.Status = RunStatus.Succeeded;
        tick.FinishedAt = tick.UpdatedAt = clock.GetUtcNow();
        if (isPastDue)
        {
            result.Logs.Add("ScheduleSync: the timer was past due (the host was busy or restarting).");
        }
        await runs.UpsertAsync(tick, cancellationToken);
        var pruned = await runs.PruneAsync(HubTables.SystemPartition, now - options.Value.TickRetention, 100, cancellationToken);
        result.Logs.Add($"ScheduleSync: {tick.Enqueued} pull message(s) for {due} due stream(s); {pruned} old tick(s) pruned.");
        return result;
    }

    /// <summary>Starts a run for a due stream, or resumes a stuck one. Returns the pull to send, or null.</summary>
    /// <param name="reconcileFrom">For Reconcile and "sync now": start a run now whatever the schedule, reading from this time (or the bookmark if earlier).</param>
    /// <param name="trigger">What the run says started it: <c>schedule</c>, <c>reconcile</c> or <c>manual</c>.</param>
    internal async Task<PullMessage?> ScheduleStreamAsync(ConnectionEntity connection, StreamInfo stream, DateTimeOffset now, CancellationToken ct, DateTimeOffset? reconcileFrom = null, string trigger = "schedule")
    {
        var tenant = connection.PartitionKey;
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var cursor = await cursors.GetAsync(tenant, connection.RowKey, stream.Name, ct)
                ?? new CursorEntity { PartitionKey = tenant, RowKey = CursorEntity.Key(connection.RowKey, stream.Name) };

            if (cursor.RunId is not null)
            {
                var active = await runs.GetAsync(tenant, cursor.RunId, ct);
                if (active is null || !RunStatus.IsFinished(active.Status))
                {
                    if (now - (cursor.LastProgressAt ?? now) < options.Value.StaleRunAfter)
                    {
                        return null; // in progress
                    }

                    // Stuck: re-send the page it waits for, and stamp progress so the next tick does not send it again.
                    cursor.LastProgressAt = now;
                    if (!await cursors.TryWriteAsync(cursor, ct))
                    {
                        continue;
                    }

                    logger.LogWarning("Run {Run} of {Tenant}/{Connection}/{Stream} made no progress since {Since}; re-sending page {Seq}", cursor.RunId, tenant, connection.RowKey, stream.Name, cursor.LastProgressAt, cursor.Seq);
                    return new PullMessage(tenant, connection.RowKey, stream.Name, cursor.RunId, cursor.Seq);
                }
            }

            if (reconcileFrom is null && cursor.NextDueAt is { } nextDue && nextDue > now)
            {
                return null;
            }

            if (trigger == "reconcile" && cursor.Bookmark is null)
            {
                return null; // never read yet: the scheduler's first run is the backfill
            }

            var interval = connection.IntervalMinutes is > 0 ? TimeSpan.FromMinutes(connection.IntervalMinutes.Value) : stream.DefaultInterval;
            var runId = runs.NewRunId();
            cursor.RunId = runId;
            cursor.Seq = 0;
            cursor.PageCursor = null;
            cursor.MaxSeen = null;
            var firstStart = connection.BackfillStart ?? now - options.Value.DefaultLookback;
            cursor.WindowStart = reconcileFrom is { } from
                ? (cursor.Bookmark is { } b ? (b < from ? b : from) : firstStart)
                : cursor.Bookmark ?? firstStart;
            cursor.WindowEnd = now;
            cursor.Backfill = now - cursor.WindowStart > options.Value.BackfillWindow ? true : null;
            if (reconcileFrom is null)
            {
                cursor.NextDueAt = now + interval;
            }
            cursor.LastProgressAt = now;
            if (!await cursors.TryWriteAsync(cursor, ct))
            {
                continue; // another scheduler claimed it first; look again
            }

            await runs.UpsertAsync(new RunEntity
            {
                PartitionKey = tenant,
                RowKey = runId,
                Kind = "pull",
                Trigger = trigger,
                ConnectionId = connection.RowKey,
                Stream = stream.Name,
                Status = RunStatus.Queued,
                StartedAt = now,
                UpdatedAt = now,
                WindowStart = cursor.WindowStart,
                WindowEnd = cursor.WindowEnd,
            }, ct);
            return new PullMessage(tenant, connection.RowKey, stream.Name, runId, 0);
        }

        return null;
    }
}

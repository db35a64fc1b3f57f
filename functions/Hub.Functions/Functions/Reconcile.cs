using Hub.Connectors;
using Hub.Functions.Hosting;
using Hub.Functions.State;
using Hub.Functions.Sync;
using Microsoft.Extensions.Options;

namespace Hub.Functions.Functions;

/// <summary>
/// Timer (<c>%ReconcileCron%</c>, hourly by default). Re-reads the recent past of every stream of every active store
/// connection (<see cref="SyncOptions.ReconcileWindow"/>), so an update whose webhook never came is still synced:
/// re-reading is cheap because unchanged records change nothing. It also re-sends Inbox events whose ingest message
/// was lost and records stored but never resolved, so no failure between two steps leaves work behind.
/// </summary>
public sealed class Reconcile(
    ConnectionStore connections,
    ScheduleSync scheduler,
    InboxStore inbox,
    RecordStore records,
    TimeProvider clock,
    IServiceProvider services,
    IOptions<SyncOptions> options,
    ILogger<Reconcile> logger) : IFunction
{
    public const string Name = nameof(Reconcile);
    public const string PullOutput = "pull";
    public const string IngestOutput = "ingest";
    public const string ResolveOutput = "resolve";

    public async Task<InvocationResult> InvokeAsync(Invocation invocation, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        var result = new InvocationResult();
        var tenants = new HashSet<string>(StringComparer.Ordinal);
        await foreach (var connection in connections.ListActiveAsync(cancellationToken))
        {
            tenants.Add(connection.PartitionKey);
            if (services.GetKeyedService<IStoreConnector>(connection.ConnectorId) is not { } connector)
            {
                continue;
            }

            foreach (var stream in connector.Info.Streams)
            {
                if (await scheduler.ScheduleStreamAsync(connection, stream, now, cancellationToken, now - options.Value.ReconcileWindow, "reconcile") is { } pull)
                {
                    result.Send(PullOutput, pull);
                }
            }
        }

        var stuck = await inbox.StuckAsync(now - options.Value.InboxRedriveAfter, 1000, cancellationToken);
        foreach (var (tenant, key, connectionId) in stuck)
        {
            result.Send(IngestOutput, new IngestMessage(tenant, connectionId, key));
        }

        var unresolved = 0;
        foreach (var tenant in tenants)
        {
            var keys = await records.UnresolvedAsync(tenant, now - options.Value.InboxRedriveAfter, 5000, cancellationToken);
            unresolved += keys.Count;
            foreach (var message in ResolveMessage.Chunk(tenant, keys))
            {
                result.Send(ResolveOutput, message);
            }
        }

        result.Logs.Add($"Reconcile: {result.MessageCount(PullOutput)} stream(s) re-read, {stuck.Count} inbox event(s) and {unresolved} record(s) sent again.");
        if (stuck.Count > 0 || unresolved > 0)
        {
            logger.LogWarning("Reconcile re-sent {Inbox} inbox event(s) and {Records} unresolved record(s)", stuck.Count, unresolved);
        }

        return result;
    }
}

using Hub.Functions.State;
using Microsoft.Extensions.Options;

namespace Hub.Functions.Sync;

/// <summary>
/// Whether the tenant's outbox rows caused by a backfill wait (<see cref="SyncOptions.HoldPushesDuringBackfill"/>): while
/// a backfill reads, and after it has read its last page for as long as its records are being resolved (the gate is
/// taken or the backlog holds work), at most <see cref="SyncOptions.BackfillSettle"/>. Then each contact is written
/// once with all its orders instead of once per page that touched it. Webhook changes, replays and merges never wait
/// (<see cref="PushStore.IsHeld"/>).
/// </summary>
public sealed class BackfillHold(CursorStore cursors, ResolveGate gate, ResolveBacklog backlog, TimeProvider clock, IOptions<SyncOptions> options)
{
    public async Task<bool> HoldsAsync(string tenant, CancellationToken ct)
    {
        var o = options.Value;
        if (!o.HoldPushesDuringBackfill)
        {
            return false;
        }

        var now = clock.GetUtcNow();
        var (reading, ended) = await cursors.BackfillsAsync(tenant, now, o.StaleRunAfter, ct);
        if (reading)
        {
            return true;
        }

        return ended is { } at && now - at < o.BackfillSettle && (await gate.IsTakenAsync(tenant, ct) || await backlog.AnyAsync(tenant, ct));
    }
}

namespace Hub.Functions.Sync;

/// <summary>Sync settings, bound from the <c>Hub:Sync</c> section.</summary>
public sealed class SyncOptions
{
    /// <summary>
    /// A run with no progress for this long is taken as stuck (its message lost, or dead-lettered and not replayed)
    /// and the scheduler re-sends its pull. Longer than the function timeout plus the redelivery back-off.
    /// </summary>
    public TimeSpan StaleRunAfter { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Where a stream's first window starts when the connection names no backfill start date.</summary>
    public TimeSpan DefaultLookback { get; set; } = TimeSpan.FromDays(30);

    /// <summary>
    /// The trigger's maximum delivery count (Service Bus MaxDeliveryCount, or the queue's maxDequeueCount). When the
    /// last delivery fails the run is marked failed; the message itself is dead-lettered by the host and can be replayed.
    /// </summary>
    public int MaxDeliveryCount { get; set; } = 10;

    /// <summary>How long the scheduler's own tick rows are kept (tenants' sync runs are not pruned by this).</summary>
    public TimeSpan TickRetention { get; set; } = TimeSpan.FromDays(7);
}

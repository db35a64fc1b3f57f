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

    /// <summary>Pushes of one record that failed transiently (after the connector's own retries) before it is recorded in Failures.</summary>
    public int PushMaxAttempts { get; set; } = 5;

    /// <summary>First back-off of a transient push failure; it doubles with every attempt.</summary>
    public TimeSpan PushRetryBase { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// When less than a full batch is waiting, PushCrm waits this long for more (up to three times, while more keeps
    /// coming), so a backfill's profiles go in full batches: one CRM call per 100 profiles instead of one per resolve.
    /// </summary>
    public TimeSpan PushLinger { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// While a backfill reads a store, profiles it changes are not pushed: a customer's orders arrive over the whole
    /// backfill, and pushing after each would write the same contact many times (CRM calls and credits the merchant
    /// pays for). They are pushed once when the backfill ends. Webhook changes, replays and merges are not held.
    /// </summary>
    public bool HoldPushesDuringBackfill { get; set; } = true;

    /// <summary>
    /// After a backfill has read its last page, its records are still being resolved: pushes stay held while a
    /// resolution runs or waits in the backlog, but no longer than this after the read ended.
    /// </summary>
    public TimeSpan BackfillSettle { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>A pull run whose window is longer than this is a backfill (a first read, a full re-sync, a long outage).</summary>
    public TimeSpan BackfillWindow { get; set; } = TimeSpan.FromDays(1);

    /// <summary>
    /// Most pages one PullStream invocation reads. Each page is fetched while the one before it is stored, and the
    /// next invocation's queue round trip is saved; the resolve messages of its pages go when it returns.
    /// </summary>
    public int PullPages { get; set; } = 5;

    /// <summary>A PullStream invocation starts no further page after this long (the rest goes to a fresh message).</summary>
    public TimeSpan PullBudget { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long one PushCrm invocation drains before handing over to a fresh message (below the function timeout).</summary>
    public TimeSpan PushBudget { get; set; } = TimeSpan.FromMinutes(4);

    /// <summary>
    /// Most records (and profiles) one resolution takes: its own message's and what waits in the backlog. Larger
    /// batches read each customer's records fewer times; smaller ones let a webhook through sooner.
    /// </summary>
    public int ResolveBatch { get; set; } = 1000;

    /// <summary>How long one ResolveProfiles invocation keeps taking backlog batches before it hands over to a fresh message.</summary>
    public TimeSpan ResolveBudget { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// A resolve backlog row older than this has outlived the resolution that should have taken it (its handler died):
    /// the scheduler's next tick sends an empty <c>resolve</c> message for the tenant.
    /// </summary>
    public TimeSpan ResolveBacklogStaleAfter { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Reconcile re-reads this much of every stream's recent past, so a missed webhook is caught.</summary>
    public TimeSpan ReconcileWindow { get; set; } = TimeSpan.FromHours(2);

    /// <summary>
    /// How long stored webhook events of one connection wait for others before their <c>ingest</c> message goes (one
    /// message names up to 100). The answer to the platform does not wait for it (ADR 0023).
    /// </summary>
    public TimeSpan IngestLinger { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>An Inbox event not ingested after this long is sent to <c>ingest</c> again by Reconcile.</summary>
    public TimeSpan InboxRedriveAfter { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Largest webhook body accepted (platforms send far less; Shopify's largest orders are a few hundred KiB).</summary>
    public int MaxWebhookBytes { get; set; } = 1024 * 1024;
}

using Hub.Connectors;
using Hub.Functions.State;

namespace Hub.Functions.Sync;

/// <summary>
/// What ReceiveWebhook waits on before it answers: the event in the Inbox, and nothing else (issue 7: "without waiting
/// on anything but the Inbox write"). Deliveries of one connection that arrive while the previous ones are being
/// stored share one Inbox transaction (<see cref="GroupCommit{TKey, TItem, TResult}"/>, ADR 0018). The stored events
/// are then handed to <see cref="IngestBatcher"/>, which names them in <c>ingest</c> messages after the answer (ADR 0023).
/// An acknowledged event is always in the Inbox; one whose message never went stays <see cref="InboxStore.Received"/>
/// and Reconcile sends it. A delivery repeated within one group is a duplicate like any other: stored once, named once.
/// </summary>
public sealed class WebhookIntake
{
    /// <summary>Body bytes per group: a transaction carries at most 4 MiB, and Inbox rows hold the records packed.</summary>
    public const long MaxGroupBytes = 2 * 1024 * 1024;

    private readonly InboxStore _inbox;
    private readonly IngestBatcher _ingest;
    private readonly TimeProvider _clock;
    private readonly GroupCommit<(string Tenant, string Connection, string Lane), (WebhookEvent Event, long Bytes), (bool Added, string Status)> _commit;

    public WebhookIntake(InboxStore inbox, IngestBatcher ingest, TimeProvider clock)
    {
        _inbox = inbox;
        _ingest = ingest;
        _clock = clock;
        _commit = new(StoreAsync, IngestMessage.MaxKeys, item => item.Bytes, MaxGroupBytes);
    }

    /// <summary>How long the handler took to answer stored deliveries, from the body's first byte to the answer.</summary>
    public LatencyWindow Answers { get; } = new();

    /// <summary>Groups stored and events they held, for /api/health.</summary>
    public (long Flushes, long Items) Counts => _commit.Counts;

    /// <summary>
    /// Stores the event; false when it was there already, with its status. Its ingest message follows the answer.
    /// Only upserts are grouped, and only they share a message: a delete or a privacy topic goes alone, so its ingest
    /// (which erases records and names the profiles to recompute) is never repeated because another event failed.
    /// </summary>
    public Task<(bool Added, string Status)> AddAsync(string tenant, string connectionId, WebhookEvent evt, long bytes, CancellationToken ct) =>
        _commit.AddAsync((tenant, connectionId, evt.Kind == WebhookEventKind.Upsert ? "" : Guid.NewGuid().ToString("N")), (evt, bytes), ct);

    private async Task<IReadOnlyList<(bool Added, string Status)>> StoreAsync((string Tenant, string Connection, string Lane) id, IReadOnlyList<(WebhookEvent Event, long Bytes)> items)
    {
        var first = new Dictionary<string, int>(StringComparer.Ordinal);
        var distinct = new List<WebhookEvent>();
        var keys = new List<string>();
        var slots = new int[items.Count]; // each item's event among the distinct ones
        for (var i = 0; i < items.Count; i++)
        {
            var key = InboxStore.KeyOf(id.Connection, items[i].Event.EventId);
            if (first.TryAdd(key, distinct.Count))
            {
                distinct.Add(items[i].Event);
                keys.Add(key);
            }

            slots[i] = first[key];
        }

        var stored = await _inbox.AddManyAsync(id.Tenant, id.Connection, distinct, _clock.GetUtcNow(), CancellationToken.None);

        // New, or a duplicate whose first delivery is stored but not yet ingested (its message may have been lost).
        var toIngest = keys.Where((_, i) => stored[i].Added || stored[i].Status == InboxStore.Received).ToList();
        if (toIngest.Count > 0)
        {
            _ingest.Add(id.Tenant, id.Connection, toIngest, alone: id.Lane.Length > 0);
        }

        // The first item of an event gets its outcome; a repeat of it within the group is a duplicate.
        var told = new bool[distinct.Count];
        var results = new (bool Added, string Status)[items.Count];
        for (var i = 0; i < items.Count; i++)
        {
            var slot = slots[i];
            results[i] = told[slot] ? (false, stored[slot].Status) : stored[slot];
            told[slot] = true;
        }

        return results;
    }
}

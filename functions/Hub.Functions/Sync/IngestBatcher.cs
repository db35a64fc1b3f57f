using Microsoft.Extensions.Options;

namespace Hub.Functions.Sync;

/// <summary>
/// Names stored webhook events in <c>ingest</c> messages after their deliveries were answered (ADR 0023), at most one
/// message per connection every <see cref="SyncOptions.IngestLinger"/> (Nagle's rule): an event of a quiet connection
/// goes at once, and events that arrive within the linger of the last message wait for the rest of it and share the
/// next (up to <see cref="IngestMessage.MaxKeys"/>). Each ingest message costs a queue receive and delete, a connection
/// read, an Inbox update and an invocation, so a burst of 200 deliveries a second makes about twenty messages a second
/// instead of one per Inbox transaction, and a lone delivery waits for nothing.
/// <para>
/// An event kept <c>alone</c> (a delete or a privacy topic) gets a message of its own, without waiting for the linger,
/// and after the messages of the events stored before it: messages leave in the order their events were stored.
/// A message the queue refuses after the SDK's retries, or one still waiting when the process ends, leaves its events
/// <see cref="State.InboxStore.Received"/> in the Inbox, and Reconcile sends them (<see cref="SyncOptions.InboxRedriveAfter"/>).
/// Disposal sends what is waiting.
/// </para>
/// </summary>
public sealed class IngestBatcher(IngestQueue queue, IOptions<SyncOptions> options, ILogger<IngestBatcher> logger) : IAsyncDisposable
{
    private readonly Lock _gate = new();
    private readonly Dictionary<(string Tenant, string Connection), Pending> _pending = [];
    private readonly Dictionary<(string Tenant, string Connection), long> _lastSent = []; // Environment.TickCount64 of each connection's last message (a real-time pace, like the delay)
    private readonly List<Task> _running = [];
    private readonly CancellationTokenSource _stopping = new();
    private long _unsent;

    /// <summary>Events whose message could not be sent (left to Reconcile), for /api/health.</summary>
    public long Unsent => Interlocked.Read(ref _unsent);

    public void Add(string tenant, string connectionId, IReadOnlyList<string> inboxKeys, bool alone = false)
    {
        bool start;
        lock (_gate)
        {
            var id = (tenant, connectionId);
            if (!_pending.TryGetValue(id, out var pending))
            {
                pending = new Pending();
                _pending[id] = pending;
            }

            if (alone)
            {
                pending.Messages.Add(new Message(true, [.. inboxKeys]));
                pending.Hurry.Cancel(); // no linger for it, nor for what is waiting before it
            }
            else
            {
                foreach (var key in inboxKeys)
                {
                    if (pending.Messages.Count == 0 || pending.Messages[^1].Alone || pending.Messages[^1].Keys.Count >= IngestMessage.MaxKeys)
                    {
                        pending.Messages.Add(new Message(false, []));
                    }

                    if (pending.Queued.Add(key))
                    {
                        pending.Messages[^1].Keys.Add(key);
                    }
                }
            }

            start = !pending.Sending;
            pending.Sending = true;
            if (start && _lastSent.Count > 1000)
            {
                // Connections quiet for longer than a linger need no entry: their next message goes at once anyway.
                var quiet = Environment.TickCount64 - (long)options.Value.IngestLinger.TotalMilliseconds;
                foreach (var old in _lastSent.Where(e => e.Value < quiet).Select(e => e.Key).ToList())
                {
                    _lastSent.Remove(old);
                }
            }
        }

        if (start)
        {
            Track(Task.Run(() => DrainAsync(tenant, connectionId)));
        }
    }

    /// <summary>Sends this connection's waiting messages in order; one that can still take keys waits out the linger since the last.</summary>
    private async Task DrainAsync(string tenant, string connectionId)
    {
        var id = (tenant, connectionId);
        Pending pending;
        lock (_gate)
        {
            pending = _pending[id];
        }

        while (true)
        {
            // Only a message that can still take keys waits: a full one, or one with others behind it, goes at once.
            var wait = LastSent(id) is { } at ? options.Value.IngestLinger - TimeSpan.FromMilliseconds(Environment.TickCount64 - at) : TimeSpan.Zero;
            bool filling;
            lock (_gate)
            {
                filling = pending.Messages.Count == 1 && !pending.Messages[0].Alone && pending.Messages[0].Keys.Count < IngestMessage.MaxKeys;
            }

            if (wait > TimeSpan.Zero && filling && !pending.Hurry.IsCancellationRequested)
            {
                try
                {
                    using var linger = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token, pending.Hurry.Token);
                    await Task.Delay(wait, linger.Token);
                }
                catch (OperationCanceledException)
                {
                    // An event that goes alone, or shutting down: send what is waiting now.
                }
            }

            Message next;
            lock (_gate)
            {
                if (pending.Messages.Count == 0)
                {
                    _pending.Remove(id);
                    pending.Hurry.Dispose();
                    return;
                }

                next = pending.Messages[0];
                pending.Messages.RemoveAt(0);
                if (!next.Alone)
                {
                    pending.Queued.ExceptWith(next.Keys); // a later delivery of one of them (still not ingested) goes again
                }
            }

            if (next.Keys.Count > 0)
            {
                await SendAsync(tenant, connectionId, next.Keys);
                lock (_gate)
                {
                    _lastSent[id] = Environment.TickCount64;
                }
            }
        }
    }

    private long? LastSent((string Tenant, string Connection) id)
    {
        lock (_gate)
        {
            return _lastSent.TryGetValue(id, out var at) ? at : null;
        }
    }

    private async Task SendAsync(string tenant, string connectionId, IReadOnlyList<string> keys)
    {
        try
        {
            await queue.SendAsync(tenant, connectionId, keys, CancellationToken.None);
        }
        catch (Exception ex)
        {
            Interlocked.Add(ref _unsent, keys.Count);
            logger.LogWarning(ex, "Ingest message for {Count} stored webhook event(s) of {Tenant}/{Connection} not sent; Reconcile sends them once they are older than the inbox redrive delay", keys.Count, tenant, connectionId);
        }
    }

    private void Track(Task task)
    {
        lock (_gate)
        {
            _running.RemoveAll(t => t.IsCompleted);
            _running.Add(task);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        Task[] running;
        lock (_gate)
        {
            running = [.. _running];
        }

        await Task.WhenAll(running);
        _stopping.Dispose();
    }

    private sealed record Message(bool Alone, List<string> Keys);

    private sealed class Pending
    {
        public List<Message> Messages { get; } = [];

        /// <summary>Keys in the upsert messages not yet sent: one named twice goes once.</summary>
        public HashSet<string> Queued { get; } = new(StringComparer.Ordinal);

        public CancellationTokenSource Hurry { get; } = new();

        public bool Sending { get; set; }
    }
}

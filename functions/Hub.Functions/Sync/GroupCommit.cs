namespace Hub.Functions.Sync;

/// <summary>
/// Group commit: items for one key that arrive while a flush for that key is under way wait for it to end and are
/// then flushed together, up to <c>maxItems</c> (or <c>maxWeight</c>, whichever comes first). A lone item waits for
/// nothing; a burst costs one flush per group instead of one per item, which is how the acknowledgement of 200
/// webhooks a second stays within the storage emulator's reach on two cores (ADR 0018). Each caller gets its own
/// item's result, or the flush's exception. A caller that stops waiting does not stop the flush.
/// </summary>
public sealed class GroupCommit<TKey, TItem, TResult>(
    Func<TKey, IReadOnlyList<TItem>, Task<IReadOnlyList<TResult>>> flush,
    int maxItems,
    Func<TItem, long> weight,
    long maxWeight)
    where TKey : notnull
{
    private readonly Lock _gate = new();
    private readonly Dictionary<TKey, List<Group>> _waiting = [];
    private readonly HashSet<TKey> _flushing = [];
    private long _flushes;
    private long _items;

    /// <summary>Flushes made and items they carried.</summary>
    public (long Flushes, long Items) Counts => (Interlocked.Read(ref _flushes), Interlocked.Read(ref _items));

    public async Task<TResult> AddAsync(TKey key, TItem item, CancellationToken ct)
    {
        Group group;
        int index;
        bool start;
        var w = weight(item);
        lock (_gate)
        {
            if (!_waiting.TryGetValue(key, out var groups))
            {
                groups = [];
                _waiting[key] = groups;
            }

            // The newest group takes the item until it is full; then a new group waits behind it.
            if (groups.Count == 0 || groups[^1].Items.Count >= maxItems || (groups[^1].Items.Count > 0 && groups[^1].Weight + w > maxWeight))
            {
                groups.Add(new Group());
            }

            group = groups[^1];
            index = group.Items.Count;
            group.Items.Add(item);
            group.Weight += w;
            start = _flushing.Add(key);
        }

        if (start)
        {
            _ = Task.Run(() => FlushAsync(key), CancellationToken.None);
        }

        var results = await group.Done.Task.WaitAsync(ct);
        return results[index];
    }

    private async Task FlushAsync(TKey key)
    {
        while (true)
        {
            Group group;
            lock (_gate)
            {
                if (!_waiting.TryGetValue(key, out var groups) || groups.Count == 0)
                {
                    _waiting.Remove(key);
                    _flushing.Remove(key);
                    return;
                }

                group = groups[0];
                groups.RemoveAt(0);
            }

            try
            {
                var results = await flush(key, group.Items);
                if (results.Count != group.Items.Count)
                {
                    throw new InvalidOperationException($"A flush of {group.Items.Count} item(s) returned {results.Count} result(s).");
                }

                Interlocked.Increment(ref _flushes);
                Interlocked.Add(ref _items, group.Items.Count);
                group.Done.TrySetResult(results);
            }
            catch (Exception ex)
            {
                group.Done.TrySetException(ex);
            }
        }
    }

    private sealed class Group
    {
        public List<TItem> Items { get; } = [];

        public long Weight { get; set; }

        public TaskCompletionSource<IReadOnlyList<TResult>> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

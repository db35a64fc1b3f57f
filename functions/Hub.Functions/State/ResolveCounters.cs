namespace Hub.Functions.State;

/// <summary>
/// What profile resolution costs in this process, on <c>GET /api/health</c> for the end-to-end benchmark: how many
/// resolutions ran, how many attempts they took and why an attempt started over, how many records they read and how many they took from the cache of mapped records, how many identity and profile rows they read and how many the gate's holder already knew (HeldGraphRows), how many
/// messages left their work to the resolution in progress (deferred), how many backlog batches were resolved, and how
/// many held outbox rows the planner wrote and how many it knew were there already.
/// </summary>
public static class ResolveCounters
{
    private static long _resolutions;
    private static long _attempts;
    private static long _recordsAsked;
    private static long _recordsLoaded;
    private static long _recordsCached;
    private static long _mappedAtIngest;
    private static long _writeConflicts;
    private static long _danglingWaits;
    private static long _settleRetries;
    private static long _settleChecks;
    private static long _deferred;
    private static long _batches;
    private static long _identityRowsRead;
    private static long _identityRowsHeld;
    private static long _profileRowsRead;
    private static long _profileRowsHeld;
    private static long _addedUnread;
    private static long _heldOutboxWritten;
    private static long _heldOutboxKnown;

    public static void Resolution(int asked) { Interlocked.Increment(ref _resolutions); Interlocked.Add(ref _recordsAsked, asked); }
    public static void Attempt(int loaded, int cached) { Interlocked.Increment(ref _attempts); Interlocked.Add(ref _recordsLoaded, loaded); Interlocked.Add(ref _recordsCached, cached); }
    public static void MappedAtIngest() => Interlocked.Increment(ref _mappedAtIngest);
    public static void WriteConflict() => Interlocked.Increment(ref _writeConflicts);
    public static void DanglingWait() => Interlocked.Increment(ref _danglingWaits);
    public static void SettleRetry() => Interlocked.Increment(ref _settleRetries);
    public static void SettleCheck() => Interlocked.Increment(ref _settleChecks);
    public static void Batch() => Interlocked.Increment(ref _batches);
    public static void Deferred() => Interlocked.Increment(ref _deferred);
    public static void IdentityRows(int read, int held) { Interlocked.Add(ref _identityRowsRead, read); Interlocked.Add(ref _identityRowsHeld, held); }
    public static void AddedUnread(int count) => Interlocked.Add(ref _addedUnread, count);
    public static void HeldOutbox(int written, int known) { Interlocked.Add(ref _heldOutboxWritten, written); Interlocked.Add(ref _heldOutboxKnown, known); }
    public static void ProfileRows(int read, int held) { Interlocked.Add(ref _profileRowsRead, read); Interlocked.Add(ref _profileRowsHeld, held); }

    public static Newtonsoft.Json.Linq.JObject Snapshot() => new()
    {
        ["resolutions"] = Interlocked.Read(ref _resolutions),
        ["attempts"] = Interlocked.Read(ref _attempts),
        ["recordsAsked"] = Interlocked.Read(ref _recordsAsked),
        ["recordsLoaded"] = Interlocked.Read(ref _recordsLoaded),
        ["recordsFromCache"] = Interlocked.Read(ref _recordsCached),
        ["readNotRemapped"] = Interlocked.Read(ref _mappedAtIngest),
        ["writeConflicts"] = Interlocked.Read(ref _writeConflicts),
        ["danglingWaits"] = Interlocked.Read(ref _danglingWaits),
        ["settleChecks"] = Interlocked.Read(ref _settleChecks),
        ["settleRetries"] = Interlocked.Read(ref _settleRetries),
        ["deferred"] = Interlocked.Read(ref _deferred),
        ["batches"] = Interlocked.Read(ref _batches),
        ["identityRowsRead"] = Interlocked.Read(ref _identityRowsRead),
        ["identityRowsHeld"] = Interlocked.Read(ref _identityRowsHeld),
        ["profileRowsRead"] = Interlocked.Read(ref _profileRowsRead),
        ["profileRowsHeld"] = Interlocked.Read(ref _profileRowsHeld),
        ["recordsAddedNotRead"] = Interlocked.Read(ref _addedUnread),
        ["heldOutboxRowsWritten"] = Interlocked.Read(ref _heldOutboxWritten),
        ["heldOutboxRowsKnown"] = Interlocked.Read(ref _heldOutboxKnown),
    };
}

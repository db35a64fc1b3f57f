using Azure;
using Azure.Data.Tables;

namespace Hub.Functions.State;

/// <summary>
/// The tenant's <c>Identities</c> and <c>Profiles</c> rows as this holder of the tenant's <see cref="ResolveGate"/>
/// last read or wrote them (with their ETags; null for a row known to be absent), kept from one batch of the hold to
/// the next. A backfill's batches mostly meet people an earlier batch read, and their key and profile rows were most
/// of a batch's reads.
/// <para>
/// Only a resolution writes identity rows and rewrites profile rows, and only one holds the gate; the one other
/// writer, a deletion or redaction marking profile rows (<see cref="RecordStore"/>), disturbs the gate after it. So the
/// rows are trusted only while <see cref="ResolveGate.Hold.ConfirmAsync"/> says nothing happened to the gate since it
/// last asked: the holder asks before each batch and after its writes. After a disturbance, a break, a write conflict
/// or a failed write they are dropped: after a break for the rest of the hold (a resolution that lost the gate may have
/// written), otherwise they fill again from fresh reads. A holder that finds its own hold broken after writing disturbs
/// the gate (<see cref="ResolveGate.Hold.DisturbAsync"/>), so the resolution now holding it drops its rows too. At most
/// <see cref="MaxRows"/> rows; beyond that the cache starts again empty.
/// </para>
/// <para>
/// It also knows the held outbox rows (<see cref="PushStore.IsHeld"/>: not live, not forced, not a merge) this holder
/// wrote, whose content never differs, so a backfill writes a person's row once instead of once per batch
/// (<see cref="Sync.PushPlanner"/>). The holder marks the gate row first (<see cref="ResolveGate.Hold.KeepOutboxAsync"/>),
/// and a drain removes held rows only when no live lease carries the mark (<see cref="ResolveGate.MayRemoveHeldOutboxAsync"/>,
/// which disturbs a lapsed one). A replay, which turns held rows into forced ones that a drain takes at once, disturbs
/// the gate first. A disturbed holder forgets them at its next confirmation.
/// </para>
/// </summary>
public sealed class HeldGraphRows
{
    public const int MaxRows = 200_000;

    private readonly Dictionary<string, TableEntity?> _identities = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TableEntity?> _profiles = new(StringComparer.Ordinal);
    private readonly HashSet<string> _heldOutbox = new(StringComparer.Ordinal);

    public HeldGraphRows(string tenant) => Tenant = tenant;

    public string Tenant { get; }

    /// <summary>False once a broken hold made the rows untrustworthy for the rest of the hold.</summary>
    public bool Trusted { get; private set; } = true;

    public int Count => _identities.Count + _profiles.Count + _heldOutbox.Count;

    /// <summary>Looks an identity row up by its key hash: true with the row (null when it has none) if it is known.</summary>
    public bool TryGetIdentity(string hash, out TableEntity? row) => TryGet(_identities, hash, out row);

    /// <summary>Looks a profile row up by its id: true with the row (null when it has none) if it is known.</summary>
    public bool TryGetProfile(string id, out TableEntity? row) => TryGet(_profiles, id, out row);

    /// <summary>An identity row just read from the table (null: the key has no row).</summary>
    public void SawIdentity(string hash, TableEntity? row) => Saw(_identities, hash, row);

    /// <summary>A profile row just read from the table (null: there is none).</summary>
    public void SawProfile(string id, TableEntity? row) => Saw(_profiles, id, row);

    /// <summary>Identity rows a transaction wrote, each with the ETag the table answered (deleted rows become known absences).</summary>
    public void WroteIdentities(IReadOnlyList<TableTransactionAction> actions, IReadOnlyList<ETag?> etags) => Wrote(_identities, actions, etags);

    /// <summary>Profile rows a transaction wrote (see <see cref="WroteIdentities"/>).</summary>
    public void WroteProfiles(IReadOnlyList<TableTransactionAction> actions, IReadOnlyList<ETag?> etags) => Wrote(_profiles, actions, etags);

    /// <summary>Whether this holder wrote the held outbox row <paramref name="key"/> (a <see cref="PushStore.Key"/>) and it is still there.</summary>
    public bool HasHeldOutbox(string key) => Trusted && _heldOutbox.Contains(key);

    /// <summary>Held outbox rows just written.</summary>
    public void WroteHeldOutbox(IEnumerable<string> keys)
    {
        if (!Trusted)
        {
            return;
        }

        if (Count >= MaxRows)
        {
            Forget();
        }

        _heldOutbox.UnionWith(keys);
    }

    /// <summary>Outbox rows about to be written as something else (live, forced) or removed: no longer known as held rows.</summary>
    public void OutboxNotHeld(IEnumerable<string> keys) => _heldOutbox.ExceptWith(keys);

    /// <summary>Forgets the held outbox rows only (the gate row no longer says they are remembered).</summary>
    public void ForgetHeldOutbox() => _heldOutbox.Clear();

    /// <summary>Drops every row; they are read again from the table (and kept again).</summary>
    public void Forget()
    {
        _identities.Clear();
        _profiles.Clear();
        _heldOutbox.Clear();
    }

    /// <summary>For the rest of the hold the rows are read from the table and not kept.</summary>
    public void Distrust()
    {
        Trusted = false;
        Forget();
    }

    private bool TryGet(Dictionary<string, TableEntity?> rows, string key, out TableEntity? row)
    {
        row = null;
        return Trusted && rows.TryGetValue(key, out row);
    }

    private void Saw(Dictionary<string, TableEntity?> rows, string key, TableEntity? row)
    {
        if (!Trusted)
        {
            return;
        }

        if (Count >= MaxRows)
        {
            Forget();
        }

        rows[key] = row;
    }

    private void Wrote(Dictionary<string, TableEntity?> rows, IReadOnlyList<TableTransactionAction> actions, IReadOnlyList<ETag?> etags)
    {
        for (var i = 0; i < actions.Count; i++)
        {
            var action = actions[i];
            if (action.ActionType == TableTransactionActionType.Delete)
            {
                Saw(rows, action.Entity.RowKey, null);
            }
            else if (etags[i] is { } etag && action.Entity is TableEntity entity && action.ActionType is TableTransactionActionType.Add or TableTransactionActionType.UpdateReplace or TableTransactionActionType.UpsertReplace)
            {
                // The row is now exactly what was written. The server's Timestamp is not in a write's answer; now is
                // close to it (the resolver tells fresh claims from orphans by it).
                Saw(rows, entity.RowKey, new TableEntity(entity) { ETag = etag, Timestamp = DateTimeOffset.UtcNow });
            }
            else
            {
                rows.Remove(action.Entity.RowKey); // a merge: the row holds more than was written
            }
        }
    }
}

using Azure;
using Azure.Data.Tables;

namespace Hub.Functions.State;

/// <summary>
/// The tenant's <c>Identities</c> rows as this holder of the tenant's <see cref="ResolveGate"/> last read or wrote
/// them (with their ETags; null for a key known to have no row), kept from one batch of the hold to the next. Only a
/// resolution writes identity rows, and only one holds the gate, so while the hold is unbroken these rows are the
/// table's: a backfill's batches mostly meet people an earlier batch read, and their keys were most of its reads.
/// <para>
/// The rows are trusted only while <see cref="ResolveGate.Hold.ConfirmAsync"/> says the hold had no break. After a
/// break, a write conflict or a failed write they are dropped, and they are never trusted again in this hold (a
/// resolution that lost the gate may have written). A holder that finds its own hold broken after writing disturbs the
/// gate (<see cref="ResolveGate.Hold.DisturbAsync"/>), so the resolution now holding it stops trusting its rows too. At
/// most <see cref="MaxRows"/> rows; beyond that the cache starts again empty.
/// </para>
/// </summary>
public sealed class HeldIdentityRows
{
    public const int MaxRows = 200_000;

    private readonly Dictionary<string, TableEntity?> _rows = new(StringComparer.Ordinal);

    public HeldIdentityRows(string tenant) => Tenant = tenant;

    public string Tenant { get; }

    /// <summary>False once anything made the rows untrustworthy for the rest of the hold.</summary>
    public bool Trusted { get; private set; } = true;

    public int Count => _rows.Count;

    /// <summary>Looks a key up: true with the row (null when it has none) if the row is known.</summary>
    public bool TryGet(string hash, out TableEntity? row)
    {
        row = null;
        return Trusted && _rows.TryGetValue(hash, out row);
    }

    /// <summary>A row just read from the table (null: the key has no row).</summary>
    public void Saw(string hash, TableEntity? row)
    {
        if (!Trusted)
        {
            return;
        }

        if (_rows.Count >= MaxRows)
        {
            _rows.Clear();
        }

        _rows[hash] = row;
    }

    /// <summary>The rows a transaction wrote, each with the ETag the table answered (deleted rows become known absences).</summary>
    public void Wrote(IReadOnlyList<TableTransactionAction> actions, IReadOnlyList<ETag?> etags)
    {
        for (var i = 0; i < actions.Count; i++)
        {
            var action = actions[i];
            if (action.ActionType == TableTransactionActionType.Delete)
            {
                Saw(action.Entity.RowKey, null);
            }
            else if (etags[i] is { } etag && action.Entity is TableEntity entity)
            {
                // The server's Timestamp is not in a write's answer; now is close to it (the resolver tells fresh claims from orphans by it).
                var copy = new TableEntity(entity) { ETag = etag, Timestamp = DateTimeOffset.UtcNow };
                Saw(entity.RowKey, copy);
            }
            else
            {
                _rows.Remove(action.Entity.RowKey);
            }
        }
    }

    /// <summary>For the rest of the hold the rows are read from the table.</summary>
    public void Distrust()
    {
        Trusted = false;
        _rows.Clear();
    }
}

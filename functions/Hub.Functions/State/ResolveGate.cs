using System.Collections.Concurrent;
using Azure;
using Azure.Data.Tables;

namespace Hub.Functions.State;

/// <summary>
/// One resolution at a time per tenant. Resolutions of the same tenant share people (one customer's orders arrive
/// on many pages), and two of them working on one person at once make one of them read its whole component again
/// (ETag conflicts). Measured on the 2,000-order benchmark before this gate: about five attempts per resolve
/// message and 26 records loaded per record asked. The gate is a lease row in the Pending table
/// (<c>~graph|resolve|~lease</c>), held while a resolution runs and renewed every few seconds, so a killed handler
/// blocks the tenant for at most <see cref="Duration"/>. Nobody waits for it: a message that finds it taken leaves
/// its work in the <see cref="ResolveBacklog"/> for the holder. It only avoids conflicts: correctness stays with the
/// ETags, so a holder that lost its lease after a stall finishes its batch.
/// <para>
/// A holder past its time budget hands over (<see cref="Hold.HandOverAsync"/>): the lease row passes to a token the
/// next <c>resolve</c> message carries, and the graph rows the holder kept wait in this process beside the row's ETag.
/// The message's invocation takes the lease by the token; if the row still has that ETag, nobody held or disturbed
/// the gate between the two, and it goes on with the rows (<see cref="Hold.Adopted"/>) instead of reading them again.
/// </para>
/// </summary>
public sealed class ResolveGate(PushStore push, TimeProvider clock)
{
    public const string Connection = "~graph";
    public const string Module = "resolve";
    public static readonly TimeSpan Duration = TimeSpan.FromSeconds(15);

    private readonly ConcurrentDictionary<string, Parked> _parked = new(StringComparer.Ordinal);

    private sealed record Parked(string Token, ETag ETag, HeldGraphRows Rows, DateTimeOffset At);

    private PushStore Push => push;

    private TimeProvider Clock => clock;

    /// <summary>The gate if it is free (or its holder's lease ran out), else null at once.</summary>
    /// <param name="handOver">The token of a hand-over (<see cref="Hold.HandOverAsync"/>) this invocation was sent with.</param>
    public async Task<Hold?> TryEnterAsync(string tenant, CancellationToken ct, string? handOver = null)
    {
        var owner = Guid.NewGuid().ToString("N");
        if (handOver is not null)
        {
            var parked = _parked.TryGetValue(tenant, out var p) && p.Token == handOver && _parked.TryRemove(new(tenant, p)) ? p : null;
            if (await push.TakePassedLeaseAsync(tenant, Connection, Module, handOver, owner, clock.GetUtcNow(), Duration, ct) is { } passed)
            {
                // The row as the last holder left it: nobody entered or disturbed the gate in between.
                var adopted = parked is not null && parked.ETag == passed.Found && parked.Rows.Tenant == tenant ? parked.Rows : null;
                if (passed.Lease.GetBoolean(KeepsOutbox) != true)
                {
                    adopted?.ForgetHeldOutbox(); // not marked through the hand-over (Hold.KeepOutboxAsync)
                }

                return new Hold(this, passed.Lease, ct) { Adopted = adopted };
            }
        }

        var lease = await push.TryLeaseAsync(tenant, Connection, Module, owner, clock.GetUtcNow(), Duration, ct);
        return lease is null ? null : new Hold(this, lease, ct);
    }

    /// <summary>Whether a resolution holds the tenant's gate now (one point read).</summary>
    public async Task<bool> IsTakenAsync(string tenant, CancellationToken ct) =>
        await push.LeaseUntilAsync(tenant, Connection, Module, ct) is { } until && until > clock.GetUtcNow();

    /// <summary>
    /// Whether a drain may remove held outbox rows now: no holder of the gate remembers the held rows it wrote
    /// (<see cref="Hold.KeepOutboxAsync"/>), so none would skip rewriting one the drain removes. A holder whose lease
    /// ran out still marks the row; it is disturbed (on the ETag just read), so it forgets them before its next batch.
    /// </summary>
    public async Task<bool> MayRemoveHeldOutboxAsync(string tenant, CancellationToken ct)
    {
        var row = await push.LeaseRowAsync(tenant, RowKey, ct);
        if (row is null || row.GetBoolean(KeepsOutbox) != true)
        {
            return true;
        }

        var now = clock.GetUtcNow();
        var lapsed = row.GetDateTimeOffset("Until") is not { } until || until <= now;
        return lapsed && await push.DisturbLeaseIfUnchangedAsync(tenant, RowKey, row.ETag, now, ct);
    }

    /// <summary>Disturbs the gate, whoever holds it: its holder drops what it kept (<see cref="HeldGraphRows"/>).</summary>
    public Task DisturbAsync(string tenant, CancellationToken ct) => push.DisturbLeaseAsync(tenant, RowKey, clock.GetUtcNow(), ct);

    internal const string KeepsOutbox = "KeepsOutbox";

    private static string RowKey => PushStore.Prefix(Connection, Module) + PushStore.LeaseSuffix;

    /// <summary>The gate, held: renewed in the background until disposed.</summary>
    public sealed class Hold : IAsyncDisposable
    {
        private readonly ResolveGate _gate;
        private readonly TableEntity _lease;
        private readonly CancellationTokenSource _stop;
        private readonly Task _renewing;
        private readonly SemaphoreSlim _renewal = new(1, 1);
        private bool _broken;
        private bool _disturbed;
        private bool _passed;
        private bool _keepsOutbox;

        internal Hold(ResolveGate gate, TableEntity lease, CancellationToken ct)
        {
            _gate = gate;
            _lease = lease;
            _keepsOutbox = lease.GetBoolean(KeepsOutbox) == true; // carried through a hand-over
            _stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            _renewing = KeepRenewingAsync(_stop.Token);
        }

        private async Task KeepRenewingAsync(CancellationToken ct)
        {
            try
            {
                while (true)
                {
                    await Task.Delay(Duration / 3, ct);
                    if (!await RenewAsync(consume: false, ct) && _broken)
                    {
                        return; // taken over after a stall: the ETags keep this resolution correct anyway
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
        }

        /// <param name="consume">Whether this call reports (and clears) a disturbance a background renewal absorbed.</param>
        private async Task<bool> RenewAsync(bool consume, CancellationToken ct)
        {
            await _renewal.WaitAsync(ct);
            try
            {
                if (!_broken && !await _gate.Push.RenewLeaseAsync(_lease, _gate.Clock.GetUtcNow() + Duration, ct))
                {
                    // The row changed: taken over, or only disturbed (then it is still ours, and we take its new ETag).
                    if (await _gate.Push.ReclaimLeaseAsync(_lease, _gate.Clock.GetUtcNow() + Duration, ct))
                    {
                        _disturbed = true;
                    }
                    else
                    {
                        _broken = true;
                    }
                }

                var disturbed = _disturbed;
                if (consume)
                {
                    _disturbed = false;
                }

                return !_broken && !disturbed;
            }
            finally
            {
                _renewal.Release();
            }
        }

        /// <summary>
        /// True when the gate has been this holder's without a break or a disturbance since it was entered or last
        /// confirmed (the renewal succeeds on the ETag of the last one): no other resolution of the tenant can have
        /// written meanwhile, nor a deletion marked a profile row. False once for a disturbance (the hold goes on),
        /// and for good after a break.
        /// </summary>
        public Task<bool> ConfirmAsync(CancellationToken ct) => RenewAsync(consume: true, ct);

        /// <summary>
        /// Marks the gate row as kept by a holder that remembers the held outbox rows it wrote (<see cref="HeldGraphRows"/>):
        /// a drain leaves held rows alone while the mark and the lease last (<see cref="MayRemoveHeldOutboxAsync"/>).
        /// The mark goes with every renewal. True once it is written and the hold is undisturbed; until then the holder
        /// must not rely on what it remembers.
        /// </summary>
        public async Task<bool> KeepOutboxAsync(CancellationToken ct)
        {
            if (_keepsOutbox)
            {
                return !_broken;
            }

            await _renewal.WaitAsync(ct);
            try
            {
                _lease[KeepsOutbox] = true;
            }
            finally
            {
                _renewal.Release();
            }

            // Not consumed: a disturbance found here is still reported by the next confirmation, which forgets.
            _keepsOutbox = await RenewAsync(consume: false, ct);
            return _keepsOutbox;
        }

        /// <summary>The graph rows the previous holder kept, when it handed the gate to this one undisturbed; else null.</summary>
        public HeldGraphRows? Adopted { get; internal init; }

        /// <summary>
        /// Passes the gate on to the invocation of a message carrying the returned token, instead of letting it go: the
        /// gate stays taken in between (other messages keep writing to the backlog). <paramref name="rows"/> wait for
        /// that invocation in this process if the hold was undisturbed since its last confirmation. Null when the row
        /// changed since then: nothing was passed, and disposing lets the gate go as usual.
        /// </summary>
        public async Task<string?> HandOverAsync(HeldGraphRows rows, CancellationToken ct)
        {
            await _stop.CancelAsync();
            await _renewing;
            await _renewal.WaitAsync(ct);
            try
            {
                if (_broken)
                {
                    return null;
                }

                var token = Guid.NewGuid().ToString("N");
                if (await _gate.Push.PassLeaseAsync(_lease, token, _gate.Clock.GetUtcNow() + Duration, ct) is not { } etag)
                {
                    return null;
                }

                _passed = true;
                var tenant = _lease.PartitionKey;
                if (!_disturbed && rows.Trusted && rows.Tenant == tenant && rows.Count > 0)
                {
                    var now = _gate.Clock.GetUtcNow();
                    foreach (var (other, parked) in _gate._parked)
                    {
                        if (now - parked.At > Duration)
                        {
                            _gate._parked.TryRemove(new(other, parked)); // its lease ran out: it can never be adopted
                        }
                    }

                    _gate._parked[tenant] = new Parked(token, etag, rows, now);
                }
                else
                {
                    _gate._parked.TryRemove(tenant, out _);
                }

                return token;
            }
            finally
            {
                _renewal.Release();
            }
        }

        /// <summary>True once a renewal found the gate taken over: this holder may have written while another held it.</summary>
        public bool Broken => _broken;

        /// <summary>
        /// Changes the gate row's ETag without taking the gate: whoever holds it now cannot confirm its hold once, so it
        /// drops the graph rows it kept (<see cref="HeldGraphRows"/>) and checks its writes. Called by a holder that
        /// wrote after its hold broke.
        /// </summary>
        public Task DisturbAsync(CancellationToken ct) => _gate.Push.DisturbLeaseAsync(_lease.PartitionKey, _lease.RowKey, _gate.Clock.GetUtcNow(), ct);

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _renewing;
            _stop.Dispose();
            _renewal.Dispose();
            if (!_passed)
            {
                await _gate.Push.ReleaseLeaseAsync(_lease, CancellationToken.None);
            }
        }
    }
}

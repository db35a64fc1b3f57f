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
/// </summary>
public sealed class ResolveGate(PushStore push, TimeProvider clock)
{
    public const string Connection = "~graph";
    public const string Module = "resolve";
    public static readonly TimeSpan Duration = TimeSpan.FromSeconds(15);

    private PushStore Push => push;

    private TimeProvider Clock => clock;

    /// <summary>The gate if it is free (or its holder's lease ran out), else null at once.</summary>
    public async Task<Hold?> TryEnterAsync(string tenant, CancellationToken ct)
    {
        var lease = await push.TryLeaseAsync(tenant, Connection, Module, Guid.NewGuid().ToString("N"), clock.GetUtcNow(), Duration, ct);
        return lease is null ? null : new Hold(this, lease, ct);
    }

    /// <summary>Whether a resolution holds the tenant's gate now (one point read).</summary>
    public async Task<bool> IsTakenAsync(string tenant, CancellationToken ct) =>
        await push.LeaseUntilAsync(tenant, Connection, Module, ct) is { } until && until > clock.GetUtcNow();

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

        internal Hold(ResolveGate gate, TableEntity lease, CancellationToken ct)
        {
            _gate = gate;
            _lease = lease;
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
            await _gate.Push.ReleaseLeaseAsync(_lease, CancellationToken.None);
        }
    }
}

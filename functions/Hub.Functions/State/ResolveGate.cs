using System.Diagnostics;
using Azure.Data.Tables;

namespace Hub.Functions.State;

/// <summary>
/// One resolution at a time per tenant. Resolutions of the same tenant share people (one customer's orders arrive
/// on many pages), and two of them working on one person at once make one of them read its whole component again
/// (ETag conflicts). Measured on the 2,000-order benchmark before this gate: about five attempts per resolve
/// message and 26 records loaded per record asked. The gate is a lease row in the Pending table
/// (<c>~graph|resolve|~lease</c>), held while a resolution runs and renewed every few seconds, so a killed handler
/// blocks the tenant for at most <see cref="Duration"/>. It only avoids conflicts: correctness stays with the ETags,
/// so a resolution that waited <see cref="MaxWait"/> in vain, or lost its lease, goes ahead.
/// </summary>
public sealed class ResolveGate(PushStore push, TimeProvider clock, ILogger<ResolveGate> logger)
{
    public const string Connection = "~graph";
    public const string Module = "resolve";
    public static readonly TimeSpan Duration = TimeSpan.FromSeconds(15);
    public static readonly TimeSpan MaxWait = TimeSpan.FromMinutes(2);

    private PushStore Push => push;

    private TimeProvider Clock => clock;

    public async Task<IAsyncDisposable> EnterAsync(string tenant, CancellationToken ct)
    {
        var owner = Guid.NewGuid().ToString("N");
        var waited = Stopwatch.StartNew();
        while (true)
        {
            var lease = await push.TryLeaseAsync(tenant, Connection, Module, owner, clock.GetUtcNow(), Duration, ct);
            if (lease is not null)
            {
                return new Held(this, lease, ct);
            }

            if (waited.Elapsed > MaxWait)
            {
                logger.LogWarning("Tenant {Tenant}: resolving without the gate after waiting {Seconds} s", tenant, (int)waited.Elapsed.TotalSeconds);
                return new Held(this, null, ct);
            }

            ResolveCounters.LeaseWait();
            await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(100, 250)), ct);
        }
    }

    private sealed class Held : IAsyncDisposable
    {
        private readonly ResolveGate _gate;
        private readonly TableEntity? _lease;
        private readonly CancellationTokenSource _stop;
        private readonly Task _renewing;

        public Held(ResolveGate gate, TableEntity? lease, CancellationToken ct)
        {
            _gate = gate;
            _lease = lease;
            _stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            _renewing = lease is null ? Task.CompletedTask : RenewAsync(_stop.Token);
        }

        private async Task RenewAsync(CancellationToken ct)
        {
            try
            {
                while (true)
                {
                    await Task.Delay(Duration / 3, ct);
                    if (!await _gate.Push.RenewLeaseAsync(_lease!, _gate.Clock.GetUtcNow() + Duration, ct))
                    {
                        return; // taken over after a stall: the ETags keep this resolution correct anyway
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _renewing;
            _stop.Dispose();
            if (_lease is not null)
            {
                await _gate.Push.ReleaseLeaseAsync(_lease, CancellationToken.None);
            }
        }
    }
}

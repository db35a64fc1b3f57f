using Azure.Data.Tables;
using Hub.Functions.State;
using Hub.Testing;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Hub.Functions.Tests;

/// <summary>
/// The tenant's resolve gate: one holder at a time, and a holder learns whether it kept the gate without a break
/// (then no other resolution can have written, and the graph's settle reads are skipped).
/// </summary>
[Collection(AzuriteFixture.Collection)]
public class ResolveGateTests
{
    [Fact]
    public async Task Gate_OneHolderAtATime_AndAHolderWhoseLeaseWasTakenOverIsToldSo()
    {
        await using var h = new SyncHarness();
        var gate = h.Services.GetRequiredService<ResolveGate>();

        await using (var first = await gate.TryEnterAsync(h.Tenant, default))
        {
            Assert.NotNull(first);
            Assert.Null(await gate.TryEnterAsync(h.Tenant, default));
            Assert.True(await gate.IsTakenAsync(h.Tenant, default));
            Assert.True(await first.ConfirmAsync(default));
        }

        Assert.False(await gate.IsTakenAsync(h.Tenant, default));
        var second = await gate.TryEnterAsync(h.Tenant, default);
        Assert.NotNull(second);

        // The holder stalls past its lease and another resolution takes the gate (its row is written anew).
        var pending = await h.Services.GetRequiredService<HubTables>().GetAsync(HubTables.Pending, default);
        await pending.UpsertEntityAsync(new TableEntity(h.Tenant, PushStore.Prefix(ResolveGate.Connection, ResolveGate.Module) + PushStore.LeaseSuffix) { ["Owner"] = "another", ["Until"] = h.Clock.GetUtcNow().AddSeconds(15) }, TableUpdateMode.Replace);

        Assert.False(await second.ConfirmAsync(default));
        Assert.False(await second.ConfirmAsync(default)); // and it stays broken
        await second.DisposeAsync();
    }

    [Fact]
    public async Task AHolderWhoseHoldBroke_DisturbsTheHolderNow_SoThatOneCannotConfirmAnUnbrokenHoldEither()
    {
        await using var h = new SyncHarness();
        var gate = h.Services.GetRequiredService<ResolveGate>();
        var stalled = await gate.TryEnterAsync(h.Tenant, default);
        Assert.NotNull(stalled);

        // The first holder stalls past its lease; another resolution enters.
        h.Clock.Advance(ResolveGate.Duration + TimeSpan.FromSeconds(1));
        var now = await gate.TryEnterAsync(h.Tenant, default);
        Assert.NotNull(now);
        Assert.True(await now.ConfirmAsync(default));

        // The stalled one learns it and disturbs the gate: the new holder's hold is no longer unbroken, the gate stays its.
        Assert.False(await stalled.ConfirmAsync(default));
        Assert.True(stalled.Broken);
        await stalled.DisturbAsync(default);
        Assert.False(await now.ConfirmAsync(default));
        Assert.True(now.Broken);
        Assert.True(await gate.IsTakenAsync(h.Tenant, default));
        await stalled.DisposeAsync();
        await now.DisposeAsync();
    }
}

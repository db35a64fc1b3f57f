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

        // The stalled one learns it and disturbs the gate: the new holder cannot confirm its hold once, and keeps it.
        Assert.False(await stalled.ConfirmAsync(default));
        Assert.True(stalled.Broken);
        await stalled.DisturbAsync(default);
        Assert.False(await now.ConfirmAsync(default));
        Assert.False(now.Broken);
        Assert.True(await now.ConfirmAsync(default));
        Assert.True(await gate.IsTakenAsync(h.Tenant, default));
        await stalled.DisposeAsync();

        // Released although disturbed: the gate is free at once.
        await stalled.DisturbAsync(default);
        await now.DisposeAsync();
        Assert.False(await gate.IsTakenAsync(h.Tenant, default));
    }

    [Fact]
    public async Task ADeletionThatMarksProfileRows_DisturbsTheResolutionHoldingTheGate()
    {
        await using var h = new SyncHarness();
        var gate = h.Services.GetRequiredService<ResolveGate>();
        var records = h.Services.GetRequiredService<RecordStore>();
        var rules = await h.Services.GetRequiredService<Sync.RulesProvider>().ForTenantAsync(h.Tenant, default);
        var order = new Newtonsoft.Json.Linq.JObject { ["id"] = 7, ["updated_at"] = "2026-11-01T00:00:00Z", ["created_at"] = "2026-11-01T00:00:00Z", ["total_price"] = "5.00", ["currency"] = "USD", ["email"] = "seven@shoppers.example" };
        await records.IngestAsync(h.Tenant, "shopify", "shop", "order", [order], rules, null, h.Clock.GetUtcNow(), default);
        var stored = (await records.GetManyAsync(h.Tenant, ["o:shopify:shop:7"], default)).Values.Single();
        await records.MarkResolvedAsync(h.Tenant, [(stored, "p-seven")], default);
        await (await h.Services.GetRequiredService<HubTables>().GetAsync(HubTables.Profiles, default)).AddEntityAsync(new TableEntity(h.Tenant, "p-seven") { ["Stamp"] = "s" });

        await using var hold = await gate.TryEnterAsync(h.Tenant, default);
        Assert.NotNull(hold);
        Assert.True(await hold.ConfirmAsync(default));
        Assert.Equal(["p-seven"], await records.DeleteAsync(h.Tenant, ["o:shopify:shop:7"], default));
        Assert.False(await hold.ConfirmAsync(default));
        Assert.False(hold.Broken);
        Assert.True(await hold.ConfirmAsync(default));
    }
}

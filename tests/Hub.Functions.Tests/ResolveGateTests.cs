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

    [Fact]
    public async Task AHandOver_KeepsTheGateTaken_AndPassesTheKeptRows_OnlyToItsTokenAndOnlyUndisturbed()
    {
        await using var h = new SyncHarness();
        var gate = h.Services.GetRequiredService<ResolveGate>();
        var pending = await h.Services.GetRequiredService<HubTables>().GetAsync(HubTables.Pending, default);
        var rows = new HeldGraphRows(h.Tenant);
        rows.SawIdentity("k1", new TableEntity(h.Tenant, "k1") { ["Profile"] = "p1" });

        // Undisturbed: the gate stays taken between the two invocations, and the token's invocation gets the rows.
        var first = await gate.TryEnterAsync(h.Tenant, default);
        Assert.NotNull(first);
        Assert.True(await first.ConfirmAsync(default));
        var token = await first.HandOverAsync(rows, default);
        Assert.NotNull(token);
        await first.DisposeAsync();
        Assert.True(await gate.IsTakenAsync(h.Tenant, default));
        Assert.Null(await gate.TryEnterAsync(h.Tenant, default)); // another message leaves its work to the backlog
        var second = await gate.TryEnterAsync(h.Tenant, default, token);
        Assert.NotNull(second);
        Assert.Same(rows, second.Adopted);
        Assert.True(await second.ConfirmAsync(default));

        // The token is spent: a redelivery of its message does not enter beside the holder.
        Assert.Null(await gate.TryEnterAsync(h.Tenant, default, token));

        // Disturbed between the two (a deletion marked profile rows): the gate passes, the rows do not.
        var again = await second.HandOverAsync(rows, default);
        Assert.NotNull(again);
        await second.DisposeAsync();
        await h.Services.GetRequiredService<PushStore>().DisturbLeaseAsync(h.Tenant, PushStore.Prefix(ResolveGate.Connection, ResolveGate.Module) + PushStore.LeaseSuffix, h.Clock.GetUtcNow(), default);
        var third = await gate.TryEnterAsync(h.Tenant, default, again);
        Assert.NotNull(third);
        Assert.Null(third.Adopted);

        // Disturbed since the holder's last confirmation: the hand-over fails and disposing frees the gate.
        await h.Services.GetRequiredService<PushStore>().DisturbLeaseAsync(h.Tenant, PushStore.Prefix(ResolveGate.Connection, ResolveGate.Module) + PushStore.LeaseSuffix, h.Clock.GetUtcNow(), default);
        Assert.Null(await third.HandOverAsync(rows, default));
        await third.DisposeAsync();
        Assert.False(await gate.IsTakenAsync(h.Tenant, default));

        // A token whose lease ran out and was taken by another resolution enters nothing, and adopts nothing.
        var fourth = await gate.TryEnterAsync(h.Tenant, default);
        Assert.NotNull(fourth);
        var late = await fourth.HandOverAsync(rows, default);
        Assert.NotNull(late);
        await fourth.DisposeAsync();
        h.Clock.Advance(ResolveGate.Duration + TimeSpan.FromSeconds(1));
        var other = await gate.TryEnterAsync(h.Tenant, default);
        Assert.NotNull(other);
        Assert.Null(other.Adopted);
        Assert.Null(await gate.TryEnterAsync(h.Tenant, default, late));
        await other.DisposeAsync();
    }

    [Fact]
    public async Task AHolderThatRemembersItsHeldOutboxRows_KeepsDrainsFromThem_UntilItLeavesOrItsLeaseRunsOut()
    {
        await using var h = new SyncHarness();
        var gate = h.Services.GetRequiredService<ResolveGate>();
        Assert.True(await gate.MayRemoveHeldOutboxAsync(h.Tenant, default)); // nobody holds the gate

        await using (var holder = await gate.TryEnterAsync(h.Tenant, default))
        {
            Assert.NotNull(holder);
            Assert.True(await gate.MayRemoveHeldOutboxAsync(h.Tenant, default)); // held, but nothing remembered
            Assert.True(await holder.KeepOutboxAsync(default));
            Assert.False(await gate.MayRemoveHeldOutboxAsync(h.Tenant, default));
            Assert.True(await holder.ConfirmAsync(default)); // renewals keep the mark
            Assert.False(await gate.MayRemoveHeldOutboxAsync(h.Tenant, default));
        }

        Assert.True(await gate.MayRemoveHeldOutboxAsync(h.Tenant, default)); // left: the row went with the mark

        // A holder that stalls past its lease: the drain may go on, and disturbs the gate so that the holder, back, forgets.
        var stalled = await gate.TryEnterAsync(h.Tenant, default);
        Assert.NotNull(stalled);
        Assert.True(await stalled.KeepOutboxAsync(default));
        h.Clock.Advance(ResolveGate.Duration + TimeSpan.FromSeconds(1));
        Assert.True(await gate.MayRemoveHeldOutboxAsync(h.Tenant, default));
        Assert.False(await stalled.ConfirmAsync(default));
        Assert.False(stalled.Broken); // only disturbed: nobody else entered
        await stalled.DisposeAsync();
    }

    [Fact]
    public async Task AReplay_DisturbsTheResolutionHoldingTheGate_BeforeItsForcedRowsReplaceHeldOnes()
    {
        const string admin = "gate-test-admin-token-0123456789";
        await using var h = new SyncHarness(c => c["Hub:AdminToken"] = admin);
        var gate = h.Services.GetRequiredService<ResolveGate>();
        var push = h.Services.GetRequiredService<PushStore>();
        await push.RecordFailureAsync(h.Tenant, "zoho", "Contacts", "p1", "rejected", "INVALID_DATA", "bad email", new Newtonsoft.Json.Linq.JObject(), "h1", h.Clock.GetUtcNow(), default);
        await using var holder = await gate.TryEnterAsync(h.Tenant, default);
        Assert.NotNull(holder);
        Assert.True(await holder.ConfirmAsync(default));

        var replay = h.Services.GetRequiredKeyedService<Hub.Functions.Hosting.IFunction>(Hub.Functions.Functions.ReplayFailures.Name);
        var answer = await replay.InvokeAsync(Hub.Functions.Hosting.Invocation.Parse(Hub.Functions.Functions.ReplayFailures.Name, "r1", Newtonsoft.Json.Linq.JObject.FromObject(new
        {
            Data = new { req = new { Method = "POST", Query = new { tenant = h.Tenant }, Headers = new Newtonsoft.Json.Linq.JObject { ["Authorization"] = new Newtonsoft.Json.Linq.JArray("Bearer " + admin) } } },
            Metadata = new { },
        })), default);

        Assert.Equal(1, answer.MessageCount(Hub.Functions.Functions.ReplayFailures.PushOutput));
        Assert.False(await holder.ConfirmAsync(default));
        Assert.True(await holder.ConfirmAsync(default)); // disturbed once; the hold goes on
    }
}

using Azure.Data.Tables;
using Hub.Functions.State;
using Hub.Functions.Sync;
using Hub.Testing;
using Microsoft.Extensions.DependencyInjection;
using Newtonsoft.Json.Linq;
using Xunit;

namespace Hub.Functions.Tests;

/// <summary>
/// Storing pages of vendor records: newest version wins whatever the arrival order, and a backfill's page is added
/// without reading first, falling back to reads only for the slices that meet stored records.
/// </summary>
[Collection(AzuriteFixture.Collection)]
public class RecordStoreTests
{
    private static JToken Order(int id, DateTimeOffset updated, string total = "10.00") => new JObject
    {
        ["id"] = id,
        ["created_at"] = "2026-10-01T10:00:00Z",
        ["updated_at"] = updated.ToString("O"),
        ["total_price"] = total,
        ["currency"] = "USD",
        ["financial_status"] = "paid",
        ["email"] = $"buyer{id}@shoppers.example",
    };

    [Fact]
    public async Task BackfillPages_AreAddedWithoutReads_AndASliceThatMeetsStoredRecordsIsDecidedRecordByRecord()
    {
        await using var h = new SyncHarness();
        var store = h.Services.GetRequiredService<RecordStore>();
        var rules = await h.Services.GetRequiredService<RulesProvider>().ForTenantAsync(h.Tenant, default);
        var t0 = DateTimeOffset.Parse("2026-11-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture);
        Task<IngestResult> Ingest(IReadOnlyList<JToken> page, bool expectNew) => store.IngestAsync(h.Tenant, "shopify", "shop", "order", page, rules, null, h.Clock.GetUtcNow(), default, expectNew);

        // 250 new orders: three slices, all added, no row read (the table requests of this process, by kind).
        long Reads() => TableOperations.ByKindSnapshot().GetValueOrDefault("GET Orders row");
        var before = Reads();
        var first = await Ingest(Enumerable.Range(1, 250).Select(i => Order(i, t0)).ToList(), expectNew: true);
        Assert.Equal(250, first.Stored);
        Assert.Equal(250, first.ToResolve.Count);
        Assert.Equal(before, Reads());

        // A re-read of the same page (a full re-sync) is a backfill too: every slice meets stored records and is
        // decided from reads, so nothing is stored twice and nothing is lost.
        var again = await Ingest(Enumerable.Range(1, 250).Select(i => Order(i, t0)).ToList(), expectNew: true);
        Assert.Equal(0, again.Stored);
        Assert.Equal(250, again.Unchanged);
        Assert.Equal(before + 250, Reads());

        // A mixed page: 50 new orders, 10 newer versions, 5 older ones and 35 unchanged, in one slice.
        var mixed = Enumerable.Range(251, 50).Select(i => Order(i, t0))
            .Concat(Enumerable.Range(1, 10).Select(i => Order(i, t0.AddHours(1), "12.00")))
            .Concat(Enumerable.Range(11, 5).Select(i => Order(i, t0.AddHours(-1), "1.00")))
            .Concat(Enumerable.Range(16, 35).Select(i => Order(i, t0)))
            .ToList();
        var result = await Ingest(mixed, expectNew: true);
        Assert.Equal(60, result.Stored);
        Assert.Equal(35, result.Unchanged);
        Assert.Equal(5, result.Older);
        Assert.Equal(Enumerable.Range(251, 50).Concat(Enumerable.Range(1, 10)).Select(i => $"o:shopify:shop:{i}").Order(StringComparer.Ordinal), result.ToResolve.Where(k => int.Parse(k.Split(':')[3], System.Globalization.CultureInfo.InvariantCulture) is > 250 or <= 10).Order(StringComparer.Ordinal));

        var stored = await store.GetManyAsync(h.Tenant, ["o:shopify:shop:1", "o:shopify:shop:11", "o:shopify:shop:300"], default);
        Assert.Equal("12.00", stored["o:shopify:shop:1"].Raw.Value<string>("total_price"));
        Assert.Equal("10.00", stored["o:shopify:shop:11"].Raw.Value<string>("total_price"));
        Assert.Equal("10.00", stored["o:shopify:shop:300"].Raw.Value<string>("total_price"));
        var count = await (await h.Services.GetRequiredService<HubTables>().GetAsync(HubTables.Orders, default)).QueryAsync<TableEntity>(r => r.PartitionKey == h.Tenant, select: ["RowKey"]).CountAsync();
        Assert.Equal(300, count);
    }

    [Fact]
    public async Task RecordsResolvedAsTheirPageAddedThem_AreNotRead_AndOneChangedOrErasedSinceIsResolvedFromAFreshRead()
    {
        await using var h = new SyncHarness();
        var store = h.Services.GetRequiredService<RecordStore>();
        var graph = h.Services.GetRequiredService<ProfileGraph>();
        var rules = await h.Services.GetRequiredService<RulesProvider>().ForTenantAsync(h.Tenant, default);
        var t0 = DateTimeOffset.Parse("2026-11-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture);
        var page = await store.IngestAsync(h.Tenant, "shopify", "shop", "order", Enumerable.Range(1, 30).Select(i => Order(i, t0)).ToList(), rules, null, h.Clock.GetUtcNow(), default, expectNew: true);
        Assert.Equal(30, page.Added.Count);
        var rows = await store.GetManyAsync(h.Tenant, page.ToResolve, default);
        Assert.All(page.Added, a => Assert.Equal(rows[a.Key].ETag.ToString(), a.Value.ETag));
        Assert.All(page.Added, a => Assert.Equal(rows[a.Key].Version, a.Value.Version));

        // The first 10 are resolved as added: no record row is read, and they are marked resolved on those ETags.
        long Reads() => TableOperations.ByKindSnapshot().GetValueOrDefault("GET Orders row");
        var exclusive = (CancellationToken _) => Task.FromResult(true);
        var first = page.ToResolve.Take(10).ToList();
        var before = Reads();
        var outcome = await graph.ResolveAsync(h.Tenant, first, [], default, null, exclusive, new HeldGraphRows(h.Tenant), page.Added);
        Assert.Equal(before, Reads());
        Assert.Equal(1, outcome.Attempts);
        var resolved = await store.GetManyAsync(h.Tenant, first, default);
        Assert.All(first, k => Assert.Equal(resolved[k].Version, resolved[k].ResolvedVersion));
        Assert.All(first, k => Assert.Equal(outcome.Assignments[k], resolved[k].ProfileId));

        // Order 11 changes and order 12 is erased after their page: the ETags the page gave no longer hold, so marking
        // them fails and the resolution starts over from reads: the new version is resolved, the erased one is nobody's.
        await store.IngestAsync(h.Tenant, "shopify", "shop", "order", [Order(11, t0.AddHours(1), "99.00")], rules, null, h.Clock.GetUtcNow(), default);
        await store.RedactAsync(h.Tenant, "shop", ["o:shopify:shop:12"], default);
        var next = new[] { "o:shopify:shop:11", "o:shopify:shop:12", "o:shopify:shop:13" };
        var again = await graph.ResolveAsync(h.Tenant, next, [], default, null, exclusive, new HeldGraphRows(h.Tenant), page.Added);
        Assert.Equal(2, again.Attempts);
        Assert.False(again.Assignments.ContainsKey("o:shopify:shop:12"));
        var eleven = (await store.GetManyAsync(h.Tenant, ["o:shopify:shop:11"], default))["o:shopify:shop:11"];
        Assert.Equal("99.00", eleven.Raw.Value<string>("total_price"));
        Assert.Equal(eleven.Version, eleven.ResolvedVersion);
        Assert.Equal(99m, again.Changed.Single(p => p.Id == again.Assignments["o:shopify:shop:11"]).View["metrics"]!.Value<decimal>("totalSpent"));

        // Without a hold it can confirm, a resolution that used them starts over from reads.
        var unconfirmed = await graph.ResolveAsync(h.Tenant, ["o:shopify:shop:20"], [], default, null, _ => Task.FromResult(false), new HeldGraphRows(h.Tenant), page.Added);
        Assert.Equal(2, unconfirmed.Attempts);
    }
}

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
}

using Azure.Data.Tables;
using Hub.Functions.State;
using Hub.Testing;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Hub.Functions.Tests;

/// <summary>
/// The backlog keeps a message's keys in one packed row, takes the oldest rows up to a batch, resolves a key that
/// several rows mention once, and trusts a page's "added" note only where every mention agrees.
/// </summary>
[Collection(AzuriteFixture.Collection)]
public class ResolveBacklogTests
{
    [Fact]
    public async Task MessagesWaitAsPackedRows_TakenOldestFirstUpToABatch_AndEachKeyOnce()
    {
        await using var h = new SyncHarness();
        var backlog = h.Services.GetRequiredService<ResolveBacklog>();
        var table = await h.Services.GetRequiredService<HubTables>().GetAsync(HubTables.Backlog, default);
        async Task<int> RowsAsync() => await table.QueryAsync<TableEntity>(r => r.PartitionKey == h.Tenant, select: ["RowKey"]).CountAsync();

        // Three pages of 100 records, as PullStream's resolve messages: three rows, not three hundred.
        var pages = Enumerable.Range(0, 3).Select(p => Enumerable.Range(0, 100).Select(i => $"o:shopify:s:{(p * 100) + i}").ToList()).ToList();
        foreach (var page in pages)
        {
            await backlog.AddAsync(h.Tenant, page, [], null, live: false, default, page.ToDictionary(k => k, k => new AddedRecord("v-" + k, "e-" + k)));
            await Task.Delay(2); // row keys order by the time of writing
        }

        Assert.Equal(3, await RowsAsync());

        // A webhook mentions a record of the first page again (no "added" note: it was stored again since), and a
        // sweep asks for two profiles; one message can also be larger than a row.
        await backlog.AddAsync(h.Tenant, ["o:shopify:s:5"], ["p-1", "p-2"], DateTimeOffset.Parse("2026-12-01T00:00:00Z"), live: true, default);
        await backlog.AddAsync(h.Tenant, [.. Enumerable.Range(1000, 150).Select(i => $"o:shopify:s:{i}")], [], null, live: false, default);
        Assert.Equal(6, await RowsAsync());

        // Up to 250: two whole rows (a third would pass it), oldest first.
        var first = await backlog.TakeAsync(h.Tenant, 250, default);
        Assert.Equal(pages[0].Concat(pages[1]), first.Records);
        Assert.Equal(2, first.Rows.Count);
        Assert.Empty(first.Live);
        Assert.Equal(new AddedRecord("v-o:shopify:s:5", "e-o:shopify:s:5"), first.Added["o:shopify:s:5"]);
        await backlog.RemoveAsync(first, default);
        Assert.Equal(4, await RowsAsync());

        // The record the webhook mentioned again is added to no batch as "added"; its row carries the live mark and
        // the sweep's profiles and time. A key two rows name is taken once.
        await backlog.AddAsync(h.Tenant, ["o:shopify:s:250"], [], null, live: false, default, new Dictionary<string, AddedRecord> { ["o:shopify:s:250"] = new("other", "other") });
        var second = await backlog.TakeAsync(h.Tenant, 1000, default);
        Assert.Equal(5, second.Rows.Count);
        Assert.Equal(pages[2].Count + 1 + 150, second.Records.Count);
        Assert.Equal(second.Records.Count, second.Records.Distinct().Count());
        Assert.Equal(["p-1", "p-2"], second.Profiles);
        Assert.Equal(DateTimeOffset.Parse("2026-12-01T00:00:00Z"), second.RulesAsOf);
        Assert.Equal(["o:shopify:s:5", "p-1", "p-2"], second.Live.Order(StringComparer.Ordinal));
        Assert.False(second.Added.ContainsKey("o:shopify:s:5"));
        Assert.False(second.Added.ContainsKey("o:shopify:s:250")); // two mentions that disagree
        Assert.True(second.Added.ContainsKey("o:shopify:s:251"));
        Assert.False(second.Added.ContainsKey("o:shopify:s:1000")); // written without a note
        await backlog.RemoveAsync(second, default);
        Assert.False(await backlog.AnyAsync(h.Tenant, default));
    }

    [Fact]
    public async Task RowsOfTheEarlierOneKeyLayout_AreStillTakenAndRemoved()
    {
        await using var h = new SyncHarness();
        var backlog = h.Services.GetRequiredService<ResolveBacklog>();
        var table = await h.Services.GetRequiredService<HubTables>().GetAsync(HubTables.Backlog, default);
        await table.AddEntityAsync(new TableEntity(h.Tenant, "r|" + Packed.RowKey("o:shopify:s:1")) { ["Key"] = "o:shopify:s:1", ["Live"] = true, ["AddedVersion"] = "v1", ["AddedETag"] = "e1" });
        await table.AddEntityAsync(new TableEntity(h.Tenant, "p|" + Packed.RowKey("p-9")) { ["Key"] = "p-9", ["Live"] = false });
        await backlog.AddAsync(h.Tenant, ["o:shopify:s:2"], [], null, live: false, default);

        var taken = await backlog.TakeAsync(h.Tenant, 1000, default);
        Assert.Equal(["o:shopify:s:2", "o:shopify:s:1"], taken.Records);
        Assert.Equal(["p-9"], taken.Profiles);
        Assert.Equal(["o:shopify:s:1"], taken.Live);
        Assert.Equal(new AddedRecord("v1", "e1"), taken.Added["o:shopify:s:1"]);
        await backlog.RemoveAsync(taken, default);
        Assert.False(await backlog.AnyAsync(h.Tenant, default));
    }
}

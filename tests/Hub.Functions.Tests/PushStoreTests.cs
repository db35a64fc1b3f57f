using Azure.Data.Tables;
using Hub.Functions.State;
using Hub.Testing;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Hub.Functions.Tests;

/// <summary>Reading the Ledger and Failures of many profiles: one query when the module's rows fit in a page, else point reads.</summary>
[Collection(AzuriteFixture.Collection)]
public class PushStoreTests
{
    [Fact]
    public async Task ManyProfiles_AreReadWithOneQueryWhileTheModuleFitsInAPage_ThenRowByRow()
    {
        await using var h = new SyncHarness();
        var push = h.Services.GetRequiredService<PushStore>();
        var ledger = await h.Services.GetRequiredService<HubTables>().GetAsync(HubTables.Ledger, default);
        long Count(string kind) => TableOperations.ByKindSnapshot().GetValueOrDefault(kind);
        var ids = Enumerable.Range(0, 200).Select(i => $"p-{i:D4}").ToList();

        // An empty Ledger (a first sync): one query, nothing found.
        var (rows0, queries0) = (Count("GET Ledger row"), Count("GET Ledger"));
        Assert.Empty(await push.ReadAsync(HubTables.Ledger, h.Tenant, "zoho", "Contacts", ids, default));
        Assert.Equal(rows0, Count("GET Ledger row"));
        Assert.Equal(queries0 + 1, Count("GET Ledger"));

        // 150 bound profiles of this module, and rows of another module and connection that must not be mistaken.
        await Packed.SubmitAsync(ledger, ids.Take(150).Select(id => new TableTransactionAction(TableTransactionActionType.UpsertReplace, new TableEntity(h.Tenant, PushStore.Key("zoho", "Contacts", id)) { ["Hash"] = "h-" + id })).ToList(), default);
        await Packed.SubmitAsync(ledger, ids.Skip(150).Select(id => new TableTransactionAction(TableTransactionActionType.UpsertReplace, new TableEntity(h.Tenant, PushStore.Key("zoho", "Accounts", id)) { ["Hash"] = "other" })).ToList(), default);
        await Packed.SubmitAsync(ledger, ids.Skip(150).Select(id => new TableTransactionAction(TableTransactionActionType.UpsertReplace, new TableEntity(h.Tenant, PushStore.Key("zoho2", "Contacts", id)) { ["Hash"] = "other" })).ToList(), default);
        var found = await push.ReadAsync(HubTables.Ledger, h.Tenant, "zoho", "Contacts", ids, default);
        Assert.Equal(ids.Take(150).Order(StringComparer.Ordinal), found.Keys.Order(StringComparer.Ordinal));
        Assert.All(found, f => Assert.Equal("h-" + f.Key, f.Value.GetString("Hash")));
        Assert.Equal(rows0, Count("GET Ledger row"));

        // A few profiles: point reads.
        var few = await push.ReadAsync(HubTables.Ledger, h.Tenant, "zoho", "Contacts", ["p-0001", "p-0199"], default);
        Assert.Equal(["p-0001"], few.Keys);
        Assert.Equal(rows0 + 2, Count("GET Ledger row"));

        // More than a page of the module's rows: one query finds that out, then point reads.
        var many = Enumerable.Range(0, 1200).Select(i => $"q-{i:D4}").ToList();
        await Packed.SubmitAsync(ledger, many.Select(id => new TableTransactionAction(TableTransactionActionType.UpsertReplace, new TableEntity(h.Tenant, PushStore.Key("zoho", "Contacts", id)) { ["Hash"] = "h-" + id })).ToList(), default);
        var asked = many.Take(60).Concat(["p-0003", "p-0170"]).ToList();
        var before = Count("GET Ledger row");
        var read = await push.ReadAsync(HubTables.Ledger, h.Tenant, "zoho", "Contacts", asked, default);
        Assert.Equal(asked.Take(61).Order(StringComparer.Ordinal), read.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(before + asked.Count, Count("GET Ledger row"));

        // Failures: the query returns open ones only, which is all callers look at.
        var failures = await h.Services.GetRequiredService<HubTables>().GetAsync(HubTables.Failures, default);
        await Packed.SubmitAsync(failures, ids.Take(60).Select((id, i) => new TableTransactionAction(TableTransactionActionType.UpsertReplace, new TableEntity(h.Tenant, PushStore.Key("zoho", "Contacts", id)) { ["Status"] = i % 2 == 0 ? "open" : "resolved", ["Hash"] = "x" })).ToList(), default);
        var open = await push.ReadAsync(HubTables.Failures, h.Tenant, "zoho", "Contacts", ids, default);
        Assert.Equal(30, open.Count);
        Assert.All(open.Values, f => Assert.True(PushStore.StillRefused(f, "x")));
    }
}

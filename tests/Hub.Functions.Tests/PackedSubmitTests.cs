using Azure;
using Azure.Data.Tables;
using Hub.Functions.State;
using Hub.Testing;
using Xunit;

namespace Hub.Functions.Tests;

/// <summary>Packed.SubmitAsync with several transactions under way at once, against Azurite.</summary>
[Collection(AzuriteFixture.Collection)]
public sealed class PackedSubmitTests
{
    private static async Task<TableClient> NewTableAsync()
    {
        var table = AzuriteFixture.Tables().GetTableClient(AzuriteFixture.NewTablePrefix() + "Submit");
        await table.CreateIfNotExistsAsync();
        return table;
    }

    [Fact]
    public async Task SeveralInFlight_EachActionGetsItsOwnRowsETag_InTheActionsOrder()
    {
        var table = await NewTableAsync();
        var actions = Enumerable.Range(0, 351).Select(i => new TableTransactionAction(TableTransactionActionType.Add, new TableEntity("p", $"r{i:D4}") { ["N"] = i })).ToList();

        var etags = await Packed.SubmitAsync(table, actions, default, inFlight: 4);

        Assert.Equal(351, etags.Count);
        var stored = new Dictionary<string, ETag>();
        await foreach (var row in table.QueryAsync<TableEntity>(r => r.PartitionKey == "p"))
        {
            stored[row.RowKey] = row.ETag;
        }

        Assert.Equal(351, stored.Count);
        for (var i = 0; i < actions.Count; i++)
        {
            Assert.Equal(stored[$"r{i:D4}"], etags[i]);
        }
    }

    [Fact]
    public async Task AFailedTransaction_IsThrownWithItsStatus_AndNoLaterOneStarts()
    {
        var table = await NewTableAsync();
        await Packed.SubmitAsync(table, Enumerable.Range(0, 100).Select(i => new TableTransactionAction(TableTransactionActionType.Add, new TableEntity("p", $"a{i:D4}"))).ToList(), default);

        // The first transaction replaces a row on a stale ETag: refused (412). With one in flight at a time, none after it starts.
        var actions = Enumerable.Range(0, 100).Select(i => new TableTransactionAction(TableTransactionActionType.UpdateReplace, new TableEntity("p", $"a{i:D4}") { ["N"] = i }, i == 42 ? new ETag("W/\"datetime'2000-01-01T00%3A00%3A00Z'\"") : ETag.All))
            .Concat(Enumerable.Range(0, 500).Select(i => new TableTransactionAction(TableTransactionActionType.Add, new TableEntity("p", $"b{i:D4}")))).ToList();
        var refused = await Assert.ThrowsAnyAsync<RequestFailedException>(() => Packed.SubmitAsync(table, actions, default, inFlight: 1));
        Assert.Equal(412, refused.Status);
        Assert.False((await table.GetEntityIfExistsAsync<TableEntity>("p", "b0000")).HasValue);

        // With several in flight, the refusal is still what the caller sees, and the writes stop: the transactions that
        // started before the refusal was known may land, not the rest.
        var refusedToo = await Assert.ThrowsAnyAsync<RequestFailedException>(() => Packed.SubmitAsync(table, actions, default, inFlight: 2));
        Assert.Equal(412, refusedToo.Status);
        var added = 0;
        await foreach (var _ in table.QueryAsync<TableEntity>(r => r.PartitionKey == "p" && r.RowKey.CompareTo("b") >= 0, select: ["RowKey"]))
        {
            added++;
        }

        Assert.True(added < 500, $"all {added} rows after the refused transaction were added");
    }
}

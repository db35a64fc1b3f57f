using Hub.Connectors.Tests.Support;
using Hub.Testing;
using Hub.Sandbox.ZohoCrm;
using Microsoft.Extensions.DependencyInjection;
using Newtonsoft.Json.Linq;

namespace Hub.Connectors.Tests.ZohoCrm;

public sealed class ZohoCrmBulkWriteTests : IAsyncLifetime
{
    private readonly ZohoCrmSandbox _sandbox = new();
    private ServiceProvider _services = null!;
    private ICrmBulkLoader _bulk = null!;

    public async Task InitializeAsync()
    {
        await _sandbox.StartAsync();
        _services = ZohoCrmFixture.Services(_sandbox);
        _bulk = _services.GetRequiredKeyedService<ICrmBulkLoader>("zoho-crm");
    }

    public async Task DisposeAsync()
    {
        await _services.DisposeAsync();
        await _sandbox.DisposeAsync();
    }

    private static CrmRecord Record(int i, string? lastName = "L") => new(
        $"p{i}",
        $"bulk{i}@example.com",
        new JObject { ["Last_Name"] = lastName is null ? null : $"{lastName}{i}", ["First_Name"] = $"F{i}", ["Lifecycle_Stage"] = "New", ["Total_Spent"] = 12.5m * i },
        i % 10 == 0 ? ["VIP"] : []);

    private async Task<CrmBulkStatus> RunAsync(ConnectionContext connection, CrmUpsertBatch batch)
    {
        var job = await _bulk.StartBulkUpsertAsync(connection, batch, CancellationToken.None);
        return await Eventually.ReturnsAsync(() => _bulk.GetBulkUpsertAsync(connection, job, batch.OwnedTags, CancellationToken.None), s => s.Done, TimeSpan.FromSeconds(20), "the bulk job to complete");
    }

    [Fact]
    public async Task InitialLoad_OneJobWritesEveryRecordAndTheResultFileMapsBackToProfiles()
    {
        var connection = ZohoCrmFixture.Connection(_sandbox);
        var batch = new CrmUpsertBatch("Contacts", "Email", [.. Enumerable.Range(0, 1000).Select(i => Record(i))], ["VIP"]);

        var status = await RunAsync(connection, batch);

        Assert.Equal("COMPLETED", status.State);
        Assert.Equal(1000, status.Records.Count);
        Assert.All(status.Records, r => Assert.Equal(CrmOutcome.Created, r.Outcome));
        Assert.Equal(1000, _sandbox.Contacts.Count);
        var vip = status.Records.Single(r => r.ProfileId == "p10");
        Assert.Equal(["VIP"], _sandbox.TagsOf(vip.CrmId!));
        Assert.Single(_sandbox.Requests, r => r.Path.EndsWith("/crm/v8/upload", StringComparison.Ordinal));
        Assert.Single(_sandbox.Requests, r => r.Method == "POST" && r.Path.EndsWith("/crm/bulk/v8/write", StringComparison.Ordinal));
        Assert.Single(_sandbox.Requests, r => r.Path.EndsWith("/result", StringComparison.Ordinal));
        // 1000 records: one add_tags call per 100 of the 100 VIP ids, never one per record.
        Assert.Single(_sandbox.Requests, r => r.Path.EndsWith("/add_tags", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RowsZohoSkips_ComeBackRejectedWithZohosReason_AndAReloadUpdates()
    {
        var connection = ZohoCrmFixture.Connection(_sandbox);
        var records = Enumerable.Range(0, 20).Select(i => Record(i)).ToList();
        records[4] = Record(4, lastName: null);

        var first = await RunAsync(connection, new CrmUpsertBatch("Contacts", "Email", records, []));
        var again = await RunAsync(connection, new CrmUpsertBatch("Contacts", "Email", [Record(1), Record(2)], []));

        var skipped = first.Records.Single(r => r.ProfileId == "p4");
        Assert.Equal(CrmOutcome.Rejected, skipped.Outcome);
        Assert.Contains("MANDATORY_NOT_FOUND Last_Name", skipped.Message, StringComparison.Ordinal);
        Assert.Equal(19, first.Records.Count(r => r.Succeeded));
        Assert.All(again.Records, r => Assert.Equal(CrmOutcome.Updated, r.Outcome));
        Assert.Equal(19, _sandbox.Contacts.Count);
    }

    [Fact]
    public async Task MoreThan25000Records_IsRefusedBeforeAnyCall()
    {
        var batch = new CrmUpsertBatch("Contacts", "Email", [.. Enumerable.Range(0, 25_001).Select(i => Record(i))], []);

        await Assert.ThrowsAsync<ConnectorValidationException>(() => _bulk.StartBulkUpsertAsync(ZohoCrmFixture.Connection(_sandbox), batch, CancellationToken.None));
        Assert.Empty(_sandbox.Requests);
    }

    [Fact]
    public async Task JobStillRunning_IsReportedNotDone()
    {
        _sandbox.BulkDuration = TimeSpan.FromMinutes(5);
        var connection = ZohoCrmFixture.Connection(_sandbox);
        var job = await _bulk.StartBulkUpsertAsync(connection, new CrmUpsertBatch("Contacts", "Email", [Record(1)], []), CancellationToken.None);

        var status = await _bulk.GetBulkUpsertAsync(connection, job, [], CancellationToken.None);

        Assert.False(status.Done);
        Assert.Contains(status.State, new[] { "ADDED", "IN PROGRESS" });
        Assert.Empty(status.Records);
    }
}

using System.Globalization;
using Hub.Sandbox.Common;
using Newtonsoft.Json.Linq;

namespace Hub.Connectors.Tests.Conformance;

/// <summary>
/// What every CRM connector must do against its sandbox through the real Refit + resilience stack: typed auth
/// failures; a push costs the calls the CRM's batch size implies; a repeated push updates and never duplicates;
/// a bad record comes back rejected with the CRM's own words while the rest are written; a 429 storm slows the push
/// without losing a record; the module's fields, custom ones included, are described.
/// </summary>
public abstract class CrmConnectorConformance : IAsyncLifetime
{
    protected abstract string Platform { get; }

    protected abstract SandboxServer Server { get; }

    protected ICrmConnector Connector { get; set; } = null!;

    protected ConnectionContext Connection { get; set; } = null!;

    /// <summary>The module, its match field, a custom picklist field with one of its options, a name and an amount field.</summary>
    protected abstract (string Module, string MatchField, string CustomField, string CustomOption, string NameField, string AmountField) Target { get; }

    public abstract Task InitializeAsync();

    public abstract Task DisposeAsync();

    protected abstract ConnectionContext WithWrongCredentials();

    /// <summary>Records the CRM holds now, by match value.</summary>
    protected abstract IReadOnlyDictionary<string, JObject> CrmRecords();

    /// <summary>A call that writes records (an upsert, a create or an update).</summary>
    protected virtual bool IsWriteCall(SandboxRequest request) => request.Path.EndsWith("upsert", StringComparison.Ordinal);

    /// <summary>Whether the CRM matches the key without regard to case (emails in HubSpot and Zoho).</summary>
    protected virtual bool MatchIgnoresCase => true;

    /// <summary>Write calls a push of <paramref name="records"/> new records should cost.</summary>
    protected abstract int ExpectedCalls(int records);

    protected CrmUpsertBatch Batch(IEnumerable<CrmRecord> records) => new(Target.Module, Target.MatchField, records.ToList(), ["vip", "repeat_buyer"]);

    protected CrmRecord Profile(int i, string? email = null, string? option = null) => new(
        $"p{i}",
        email ?? $"person{i}@example.com",
        new JObject
        {
            [Target.NameField] = $"Last{i}",
            [Target.CustomField] = option ?? Target.CustomOption,
            [Target.AmountField] = 100.5m + i,
        },
        i % 2 == 0 ? ["vip"] : []);

    [Fact]
    public async Task TestConnection_WrongCredentials_ThrowsValidation() =>
        await Assert.ThrowsAsync<ConnectorValidationException>(() => Connector.TestConnectionAsync(WithWrongCredentials(), CancellationToken.None));

    [Fact]
    public async Task Upsert_250Profiles_CostsTheBatchCallsAndCreatesEachOnce()
    {
        Server.ClearRequests();

        var push = await Connector.UpsertAsync(Connection, Batch(Enumerable.Range(0, 250).Select(i => Profile(i))), CancellationToken.None);
        var results = push.Records;

        Assert.Equal(ExpectedCalls(250), Server.Requests.Count(IsWriteCall));
        Assert.Equal(Server.Requests.Count, push.Usage.Calls);
        Assert.Equal(250, results.Count);
        Assert.All(results, r => Assert.Equal(CrmOutcome.Created, r.Outcome));
        Assert.Equal(250, results.Select(r => r.CrmId).Distinct().Count());
        Assert.Equal(250, CrmRecords().Count);
    }

    [Fact]
    public async Task Upsert_Repeated_UpdatesTheSameRecordsAndNeverDuplicates()
    {
        var first = (await Connector.UpsertAsync(Connection, Batch(Enumerable.Range(0, 30).Select(i => Profile(i))), CancellationToken.None)).Records;
        var second = (await Connector.UpsertAsync(Connection, Batch(Enumerable.Range(0, 30).Select(i => Profile(i, email: MatchIgnoresCase ? $"PERSON{i}@example.com" : null))), CancellationToken.None)).Records;

        Assert.All(second, r => Assert.Equal(CrmOutcome.Updated, r.Outcome));
        Assert.Equal(first.ToDictionary(r => r.ProfileId, r => r.CrmId), second.ToDictionary(r => r.ProfileId, r => r.CrmId));
        Assert.Equal(30, CrmRecords().Count);
    }

    [Fact]
    public async Task Upsert_BadRecords_AreRejectedWithTheCrmsWordsAndTheRestAreWritten()
    {
        var records = Enumerable.Range(0, 10).Select(i => Profile(i)).ToList();
        records[3] = Profile(3, email: "not-an-email");
        records[7] = Profile(7, option: "no-such-option");

        var results = ((await Connector.UpsertAsync(Connection, Batch(records), CancellationToken.None)).Records).ToDictionary(r => r.ProfileId);

        Assert.Equal(CrmOutcome.Rejected, results["p3"].Outcome);
        Assert.Contains(Target.MatchField, results["p3"].Message, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(CrmOutcome.Rejected, results["p7"].Outcome);
        Assert.Contains(Target.CustomField, results["p7"].Message, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(8, results.Values.Count(r => r.Succeeded));
        Assert.Equal(8, CrmRecords().Count);
    }

    [Fact]
    public async Task Upsert_429Storm_SlowsThePushWithoutLosingARecord()
    {
        Server.FailNext(429, times: 3);

        var results = (await Connector.UpsertAsync(Connection, Batch(Enumerable.Range(0, 120).Select(i => Profile(i))), CancellationToken.None)).Records;

        Assert.All(results, r => Assert.True(r.Succeeded, r.Message));
        Assert.Equal(120, CrmRecords().Count);
        Assert.Equal(3, Server.Requests.Count(r => r.Fault == 429));
    }

    [Fact]
    public async Task Describe_ListsCustomFieldsWithTheirOptions()
    {
        var fields = await Connector.DescribeAsync(Connection, Target.Module, CancellationToken.None);

        var custom = Assert.Single(fields, f => f.ApiName == Target.CustomField);
        Assert.True(custom.Custom);
        Assert.Contains(Target.CustomOption, custom.Options);
        Assert.Contains(fields, f => f.ApiName == Target.MatchField);
    }

    [Fact]
    public async Task Upsert_WrittenValues_AreWhatThePayloadSaid()
    {
        await Connector.UpsertAsync(Connection, Batch([Profile(1)]), CancellationToken.None);

        var record = CrmRecords()["person1@example.com"];
        Assert.Equal("Last1", record.Value<string>(Target.NameField));
        Assert.Equal(101.5m, decimal.Parse(record.Value<string>(Target.AmountField)!, CultureInfo.InvariantCulture));
    }
}

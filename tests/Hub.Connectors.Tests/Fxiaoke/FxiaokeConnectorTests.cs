using Hub.Connectors.Tests.Support;
using Hub.Sandbox.Fxiaoke;
using Microsoft.Extensions.DependencyInjection;
using Newtonsoft.Json.Linq;

namespace Hub.Connectors.Tests.Fxiaoke;

public sealed class FxiaokeConnectorTests : IAsyncLifetime
{
    private readonly FxiaokeSandbox _sandbox = new();
    private ServiceProvider _services = null!;
    private ICrmConnector _connector = null!;

    public async Task InitializeAsync()
    {
        await _sandbox.StartAsync();
        _services = FxiaokeFixture.Services(_sandbox);
        _connector = _services.Crm("fxiaoke");
    }

    public async Task DisposeAsync()
    {
        await _services.DisposeAsync();
        await _sandbox.DisposeAsync();
    }

    private static CrmUpsertBatch Batch(params CrmRecord[] records) => new("ContactObj", "hub_profile_id__c", records, []);

    private static CrmRecord Record(int i, string? crmId = null) =>
        new($"p{i}", $"p{i}", new JObject { ["name"] = $"客户{i}", ["mobile"] = $"1380000{i:0000}", ["vip_level__c"] = "gold" }, [], crmId);

    [Fact]
    public async Task Push_TokenIsFetchedOnceAndShared_ByThisAndLaterPushes()
    {
        JObject? saved = null;
        var connection = FxiaokeFixture.Connection(_sandbox, save: (s, _) => { saved = s; return Task.CompletedTask; });

        await _connector.UpsertAsync(connection, Batch(Record(1), Record(2)), CancellationToken.None);
        await _connector.UpsertAsync(connection, Batch(Record(3)), CancellationToken.None);

        Assert.Single(_sandbox.Requests, r => r.Path == "/cgi/corpAccessToken/get/V2");
        Assert.NotNull(saved!.Value<string>("corpAccessToken"));
        Assert.NotNull(saved.Value<string>("corpAccessTokenExpiresAt"));
    }

    [Fact]
    public async Task TokenExpired_20016RefreshesOnceAndTheCallIsRepeated()
    {
        var connection = FxiaokeFixture.Connection(_sandbox);
        await _connector.UpsertAsync(connection, Batch(Record(1)), CancellationToken.None);
        _sandbox.ExpireToken();

        var push = await _connector.UpsertAsync(connection, Batch(Record(2)), CancellationToken.None);

        Assert.Equal(CrmOutcome.Created, push.Records[0].Outcome);
        Assert.Equal(2, _sandbox.Requests.Count(r => r.Path == "/cgi/corpAccessToken/get/V2"));
    }

    [Fact]
    public async Task CreateCommittedButAnswerLost_IsFoundByTheReQueryAndNeverDuplicated()
    {
        _sandbox.CommitThenTimeoutCreates = 1;
        var connection = FxiaokeFixture.Connection(_sandbox);

        var first = await _connector.UpsertAsync(connection, Batch(Record(1)), CancellationToken.None);
        var again = await _connector.UpsertAsync(connection, Batch(Record(1)), CancellationToken.None);

        Assert.Equal(CrmOutcome.Created, first.Records[0].Outcome);
        Assert.Equal(CrmOutcome.Updated, again.Records[0].Outcome);
        Assert.Equal(first.Records[0].CrmId, again.Records[0].CrmId);
        Assert.Single(_sandbox.Records);
        Assert.Single(_sandbox.Requests, r => r.Path == "/cgi/crm/v2/data/create"); // never sent a second time
    }

    [Fact]
    public async Task KnownCrmId_IsUpdatedWithoutAQuery_AndADeletedOneIsFoundAgainOrRecreated()
    {
        var connection = FxiaokeFixture.Connection(_sandbox);
        var created = (await _connector.UpsertAsync(connection, Batch(Record(1)), CancellationToken.None)).Records[0];
        _sandbox.ClearRequests();

        var updated = (await _connector.UpsertAsync(connection, Batch(Record(1, created.CrmId)), CancellationToken.None)).Records[0];
        Assert.Equal(CrmOutcome.Updated, updated.Outcome);
        Assert.Equal(["/cgi/crm/v2/data/update"], _sandbox.Requests.Select(r => r.Path));

        _sandbox.Delete(created.CrmId!);
        var recreated = (await _connector.UpsertAsync(connection, Batch(Record(1, created.CrmId)), CancellationToken.None)).Records[0];
        Assert.Equal(CrmOutcome.Created, recreated.Outcome);
        Assert.NotEqual(created.CrmId, recreated.CrmId);
        Assert.Single(_sandbox.Records);
    }

    [Fact]
    public async Task PacedPerInterface_NeverHitsTheFrequencyLimit()
    {
        _sandbox.CallsPerWindow = 10;
        await using var services = FxiaokeFixture.Services(_sandbox, new Dictionary<string, string?> { ["Hub:Connectors:Fxiaoke:CallsPerWindow"] = "10" });
        var connector = services.Crm("fxiaoke");

        var push = await connector.UpsertAsync(FxiaokeFixture.Connection(_sandbox), Batch([.. Enumerable.Range(0, 25).Select(i => Record(i))]), CancellationToken.None);

        Assert.All(push.Records, r => Assert.Equal(CrmOutcome.Created, r.Outcome));
        Assert.Equal(51, push.Usage.Calls); // the token, then a query and a create per record
        Assert.DoesNotContain(_sandbox.Requests, r => r.Operation?.EndsWith("30004", StringComparison.Ordinal) == true);
    }

    [Fact]
    public async Task DailyQuotaSpent_RemainingRecordsWaitAndNoMoreCallsAreMade()
    {
        var connection = FxiaokeFixture.Connection(_sandbox);
        await _connector.TestConnectionAsync(connection, CancellationToken.None);
        _sandbox.DailyQuota = 4;

        var push = await _connector.UpsertAsync(connection, Batch(Record(1), Record(2), Record(3)), CancellationToken.None);

        Assert.Equal(CrmOutcome.Created, push.Records[0].Outcome);
        Assert.All(push.Records.Skip(1), r => Assert.Equal(CrmOutcome.Transient, r.Outcome));
        Assert.All(push.Records.Skip(1), r => Assert.Equal("30002", r.Code));
        Assert.Equal(5, _sandbox.Requests.Count(r => r.Path.StartsWith("/cgi/crm", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task NoQuotaBought_IsAValidationError()
    {
        var connection = FxiaokeFixture.Connection(_sandbox);
        await _connector.TestConnectionAsync(connection, CancellationToken.None);
        _sandbox.NoQuota = true;

        var ex = await Assert.ThrowsAsync<ConnectorValidationException>(() => _connector.UpsertAsync(connection, Batch(Record(1)), CancellationToken.None));

        Assert.Equal("30003", ex.PlatformCode);
    }

    [Theory]
    [InlineData("wrong-secret", null, "20006")]
    [InlineData(null, "wrong-code", "20015")]
    public async Task WrongAppCredentials_AreValidationErrorsWithFxiaokesCode(string? secret, string? permanentCode, string code)
    {
        var connection = FxiaokeFixture.Connection(_sandbox, appSecret: secret);
        if (permanentCode is not null)
        {
            connection.Secrets["permanentCode"] = permanentCode;
        }

        var ex = await Assert.ThrowsAsync<ConnectorValidationException>(() => _connector.TestConnectionAsync(connection, CancellationToken.None));

        Assert.Equal(code, ex.PlatformCode);
    }

    [Fact]
    public async Task DuplicateRule_RejectionCarriesFxiaokesWords()
    {
        _sandbox.DuplicateRuleField = "mobile";
        var connection = FxiaokeFixture.Connection(_sandbox);
        await _connector.UpsertAsync(connection, Batch(Record(1)), CancellationToken.None);
        var twin = new CrmRecord("p9", "p9", new JObject { ["name"] = "客户9", ["mobile"] = "13800000001" }, []);

        var result = (await _connector.UpsertAsync(connection, Batch(twin), CancellationToken.None)).Records[0];

        Assert.Equal(CrmOutcome.Rejected, result.Outcome);
        Assert.Contains("查重", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MissingOperator_IsAValidationErrorBeforeAnyCall()
    {
        var connection = FxiaokeFixture.Connection(_sandbox);
        connection.Settings.Remove("currentOpenUserId");

        await Assert.ThrowsAsync<ConnectorValidationException>(() => _connector.TestConnectionAsync(connection, CancellationToken.None));
        Assert.Empty(_sandbox.Requests);
    }

    [Fact]
    public async Task Tags_GoToTheHubsOwnMultiSelectField_OnlyOwnedOnes()
    {
        var connection = FxiaokeFixture.Connection(_sandbox);
        var record = new CrmRecord("p1", "p1", new JObject { ["name"] = "客户1" }, ["vip", "not-owned"]);

        await _connector.UpsertAsync(connection, new CrmUpsertBatch("ContactObj", "hub_profile_id__c", [record], ["vip", "churn_risk"]), CancellationToken.None);
        await _connector.UpsertAsync(connection, new CrmUpsertBatch("ContactObj", "hub_profile_id__c", [record with { Tags = ["churn_risk"] }], ["vip", "churn_risk"]), CancellationToken.None);

        Assert.Equal(["churn_risk"], Assert.Single(_sandbox.Records)["hub_tags__c"]!.Select(t => t.ToString()));
    }

    [Fact]
    public async Task Describe_ReadsSelectOptionsAndCustomFields()
    {
        var fields = await _connector.DescribeAsync(FxiaokeFixture.Connection(_sandbox), "ContactObj", CancellationToken.None);

        var lifecycle = fields.Single(f => f.ApiName == "lifecycle_stage__c");
        Assert.True(lifecycle.Custom);
        Assert.Contains("sleeping", lifecycle.Options);
        Assert.True(fields.Single(f => f.ApiName == "name").Mandatory);
    }
}

using System.Globalization;
using System.Net;
using Hub.Connectors.Tests.Support;
using Hub.Sandbox.ZohoCrm;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection;
using Newtonsoft.Json.Linq;

namespace Hub.Connectors.Tests.ZohoCrm;

public sealed class ZohoCrmConnectorTests : IAsyncLifetime
{
    private static readonly Uri Callback = new("https://hub.example.com/setup/oauth/zoho-crm/callback");
    private readonly ZohoCrmSandbox _sandbox = new();
    private ServiceProvider _services = null!;
    private ICrmConnector _connector = null!;

    public async Task InitializeAsync()
    {
        await _sandbox.StartAsync();
        _services = ZohoCrmFixture.Services(_sandbox);
        _connector = _services.Crm("zoho-crm");
    }

    public async Task DisposeAsync()
    {
        await _services.DisposeAsync();
        await _sandbox.DisposeAsync();
    }

    private static CrmUpsertBatch Batch(IEnumerable<CrmRecord> records) => new("Contacts", "Email", records.ToList(), ["VIP", "Churn risk"]);

    private static CrmRecord Record(int i, JObject? payload = null, params string[] tags) =>
        new($"p{i}", $"c{i}@example.com", payload ?? new JObject { ["Last_Name"] = $"L{i}", ["Hub_Profile_Id"] = $"p{i}", ["Lifecycle_Stage"] = "Active" }, tags);

    [Fact]
    public async Task BoundRecords_AreUpdatedById_ANewEmailLandsOnTheSameContact_AndAnUnknownIdFallsBackToTheUpsert()
    {
        var connection = ZohoCrmFixture.Connection(_sandbox);
        var first = await _connector.UpsertAsync(connection, Batch([Record(1), Record(2)]), CancellationToken.None);
        var id1 = first.Records.Single(r => r.ProfileId == "p1").CrmId!;

        // p1 changed its email: by id it stays one contact; p2's contact was deleted in Zoho meanwhile (an unknown id).
        var moved = new CrmRecord("p1", "new1@example.com", new JObject { ["Last_Name"] = "L1", ["Hub_Profile_Id"] = "p1" }, [], id1);
        var gone = Record(2) with { CrmId = "4150868000000999999" };
        var second = await _connector.UpsertAsync(connection, Batch([moved, gone]), CancellationToken.None);

        var p1 = second.Records.Single(r => r.ProfileId == "p1");
        Assert.True(p1.Outcome == CrmOutcome.Updated && p1.CrmId == id1, $"{p1.Outcome} {p1.Code} {p1.Message} id1={id1} ids={string.Join(",", _sandbox.Contacts.Select(c => c["id"]))}");
        Assert.Equal(CrmOutcome.Updated, second.Records.Single(r => r.ProfileId == "p2").Outcome);
        Assert.Equal(2, _sandbox.Contacts.Count);
        Assert.Equal("new1@example.com", _sandbox.Contacts.Single(c => c.Value<string>("id") == id1).Value<string>("Email"));
        Assert.Contains(_sandbox.Requests, r => r.Method == "PUT" && r.Path.EndsWith("/crm/v8/Contacts", StringComparison.Ordinal));
    }

    [Fact]
    public async Task NoEmail_MatchesOnTheFallbackKey_AndTwoContactsMergeIntoOne()
    {
        var connection = ZohoCrmFixture.Connection(_sandbox);
        var phoneOnly = new CrmRecord("p9", "", new JObject { ["Last_Name"] = "张伟", ["Hub_Profile_Id"] = "p9", ["Mobile"] = "+8613912345678" }, []);
        var batch = Batch([phoneOnly]) with { FallbackMatchFields = ["Hub_Profile_Id"] };
        var a = await _connector.UpsertAsync(connection, batch, CancellationToken.None);
        var b = await _connector.UpsertAsync(connection, batch, CancellationToken.None);
        var other = await _connector.UpsertAsync(connection, Batch([Record(3)]), CancellationToken.None);

        Assert.Equal(CrmOutcome.Created, a.Records[0].Outcome);
        Assert.Equal((CrmOutcome.Updated, a.Records[0].CrmId), (b.Records[0].Outcome, b.Records[0].CrmId));
        var merger = _services.GetRequiredKeyedService<ICrmMerger>("zoho-crm");
        await merger.MergeAsync(connection, "Contacts", other.Records[0].CrmId!, a.Records[0].CrmId!, CancellationToken.None);
        var survivor = Assert.Single(_sandbox.Contacts);
        Assert.Equal("+8613912345678", survivor.Value<string>("Mobile")); // blank in the master, filled from the duplicate
        await Assert.ThrowsAsync<ConnectorValidationException>(() => merger.MergeAsync(connection, "Contacts", other.Records[0].CrmId!, a.Records[0].CrmId!, CancellationToken.None));
    }

    [Fact]
    public async Task Install_OrgInAnotherDataCentre_CodeIsExchangedThereAndCallsGoToItsApiDomain()
    {
        var installer = _services.GetRequiredKeyedService<IOAuthInstaller>("zoho-crm");
        var start = installer.BeginInstall(new OAuthBegin("", Callback, "st"));
        Assert.StartsWith(_sandbox.AccountsServer("us"), start.AuthorizeUrl.ToString(), StringComparison.Ordinal);

        var query = await FollowAsync(start.AuthorizeUrl);
        var grant = await installer.CompleteInstallAsync(new OAuthCallback(query, "st", Callback), CancellationToken.None);

        Assert.Equal(_sandbox.AccountsServer("eu"), grant.Settings.Value<string>("accountsServer"));
        Assert.Equal(_sandbox.ApiDomain("eu"), grant.Settings.Value<string>("apiDomain"));
        Assert.Contains(_sandbox.Requests, r => r.Path == "/accounts/eu/oauth/v2/token");
        var connection = new ConnectionContext("t", "c", "zoho-crm", (JObject)grant.Settings.DeepClone()) { };
        connection.Settings["secrets"] = grant.Secrets;
        await _connector.TestConnectionAsync(connection, CancellationToken.None);
        Assert.Equal("/api/eu/crm/v8/org", _sandbox.Requests[^1].Path);
    }

    [Fact]
    public async Task Install_ForgedAccountsServer_IsRefusedBeforeTheCodeLeaves()
    {
        var installer = _services.GetRequiredKeyedService<IOAuthInstaller>("zoho-crm");
        var query = new Dictionary<string, string> { ["code"] = "1000.x", ["state"] = "st", ["accounts-server"] = "https://accounts.evil.example" };

        var ex = await Assert.ThrowsAsync<ConnectorValidationException>(() => installer.CompleteInstallAsync(new OAuthCallback(query, "st", Callback), CancellationToken.None));

        Assert.Contains("accounts server", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(_sandbox.Requests, r => r.Path.EndsWith("/token", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Install_CodeUsedTwice_ZohosErrorInsideA200IsAValidationError()
    {
        var installer = _services.GetRequiredKeyedService<IOAuthInstaller>("zoho-crm");
        var query = await FollowAsync(installer.BeginInstall(new OAuthBegin("", Callback, "st")).AuthorizeUrl);
        await installer.CompleteInstallAsync(new OAuthCallback(query, "st", Callback), CancellationToken.None);

        var ex = await Assert.ThrowsAsync<ConnectorValidationException>(() => installer.CompleteInstallAsync(new OAuthCallback(query, "st", Callback), CancellationToken.None));

        Assert.Equal("invalid_code", ex.PlatformCode);
    }

    [Fact]
    public async Task ExpiredToken_ParallelPushesRefreshItOnceAndShareIt()
    {
        var saved = 0;
        var connection = ZohoCrmFixture.Connection(_sandbox, save: (_, _) => { Interlocked.Increment(ref saved); return Task.CompletedTask; });
        connection.Secrets["expiresAt"] = DateTimeOffset.UtcNow.AddMinutes(-1).ToString("O", CultureInfo.InvariantCulture);

        var pushes = await Task.WhenAll(Enumerable.Range(0, 5).Select(i => _connector.UpsertAsync(connection, Batch([Record(i)]), CancellationToken.None)));

        Assert.All(pushes, p => Assert.Equal(CrmOutcome.Created, p.Records[0].Outcome));
        Assert.Single(_sandbox.Requests, r => r.Path.EndsWith("/oauth/v2/token", StringComparison.Ordinal));
        Assert.Equal(1, saved);
    }

    [Fact]
    public async Task TokenRejectedMidPush_IsRefreshedOnceAndThePushCompletes()
    {
        var connection = ZohoCrmFixture.Connection(_sandbox);
        _sandbox.ExpireAccessTokens();

        var push = await _connector.UpsertAsync(connection, Batch([Record(1)]), CancellationToken.None);

        Assert.Equal(CrmOutcome.Created, push.Records[0].Outcome);
        Assert.Equal([401, 200, 200], _sandbox.Requests.Select(r => r.Status));
    }

    [Fact]
    public async Task TooManyRefreshes_IsTransientWithAWait()
    {
        var connection = ZohoCrmFixture.Connection(_sandbox);
        for (var i = 0; i < 9; i++)
        {
            _sandbox.ExpireAccessTokens();
            await _connector.TestConnectionAsync(connection, CancellationToken.None);
        }

        _sandbox.ExpireAccessTokens();
        var ex = await Assert.ThrowsAsync<ConnectorTransientException>(() => _connector.TestConnectionAsync(connection, CancellationToken.None));

        Assert.Equal("Access Denied", ex.PlatformCode);
        Assert.NotNull(ex.RetryAfter);
    }

    [Fact]
    public async Task PerRecordErrors_ComeBackWithZohosCodeAndDetails()
    {
        var connection = ZohoCrmFixture.Connection(_sandbox);
        await _connector.UpsertAsync(connection, Batch([Record(1)]), CancellationToken.None);
        var records = new[]
        {
            Record(2, new JObject { ["Hub_Profile_Id"] = "p2" }),
            Record(3, new JObject { ["Last_Name"] = new string('x', 81), ["Hub_Profile_Id"] = "p3" }),
            Record(4, new JObject { ["Last_Name"] = "L4", ["Hub_Profile_Id"] = "p1" }),
            Record(5),
        };

        var results = (await _connector.UpsertAsync(connection, Batch(records), CancellationToken.None)).Records.ToDictionary(r => r.ProfileId);

        Assert.Equal("MANDATORY_NOT_FOUND", results["p2"].Code);
        Assert.Contains("Last_Name", results["p2"].Message, StringComparison.Ordinal);
        Assert.Equal("INVALID_DATA", results["p3"].Code);
        Assert.Contains("maximum_length", results["p3"].Message, StringComparison.Ordinal);
        Assert.Equal("DUPLICATE_DATA", results["p4"].Code);
        Assert.Contains("duplicate_record", results["p4"].Message, StringComparison.Ordinal);
        Assert.Equal(CrmOutcome.Created, results["p5"].Outcome);
    }

    [Fact]
    public async Task Tags_OnlyOwnedTagsChange_NewRecordsNeedNoRemoveCalls()
    {
        var connection = ZohoCrmFixture.Connection(_sandbox);
        var first = await _connector.UpsertAsync(connection, Batch([Record(1, null, "VIP"), Record(2)]), CancellationToken.None);
        Assert.Equal(["/api/eu/crm/v8/Contacts/upsert", "/api/eu/crm/v8/Contacts/actions/add_tags"], _sandbox.Requests.Select(r => r.Path));
        var id1 = first.Records.Single(r => r.ProfileId == "p1").CrmId!;
        Assert.Equal(["VIP"], _sandbox.TagsOf(id1));

        // Someone adds their own tag in Zoho; the Hub's next push drops VIP (the profile no longer qualifies).
        await using (var other = ZohoCrmFixture.Services(_sandbox))
        {
            await other.Crm("zoho-crm").UpsertAsync(connection, new CrmUpsertBatch("Contacts", "Email", [Record(1, null, "Sales follow-up")], ["Sales follow-up"]), CancellationToken.None);
        }

        var second = await _connector.UpsertAsync(connection, Batch([Record(1), Record(2, null, "Churn risk")]), CancellationToken.None);

        Assert.All(second.Records, r => Assert.Equal(CrmOutcome.Updated, r.Outcome));
        Assert.Equal(["Sales follow-up"], _sandbox.TagsOf(id1).Order());
        Assert.Equal(["Churn risk"], _sandbox.TagsOf(second.Records.Single(r => r.ProfileId == "p2").CrmId!));
    }

    [Fact]
    public async Task TagCapReached_RecordIsWrittenAndReportedWithZohosCode()
    {
        _sandbox.TagsPerRecord = 0;
        var connection = ZohoCrmFixture.Connection(_sandbox);

        var push = await _connector.UpsertAsync(connection, Batch([Record(1, null, "VIP")]), CancellationToken.None);

        var result = Assert.Single(push.Records);
        Assert.Equal(CrmOutcome.Rejected, result.Outcome);
        Assert.Equal("LIMIT_EXCEEDED", result.Code);
        Assert.NotNull(result.CrmId);
        Assert.StartsWith("Record written; tag 'VIP' not added", result.Message, StringComparison.Ordinal);
        Assert.Single(_sandbox.Contacts);
    }

    [Fact]
    public async Task ConcurrencyGate_KeepsParallelPushesUnderZohosLimit()
    {
        _sandbox.ConcurrencyLimit = 2;
        await using var services = ConnectorServices.Build(overrides: new Dictionary<string, string?>
        {
            ["Hub:Connectors:ZohoCrm:ClientId"] = _sandbox.ClientId,
            ["Hub:Connectors:ZohoCrm:ClientSecret"] = _sandbox.ClientSecret,
            ["Hub:Connectors:ZohoCrm:ApiDomainSuffixes:20"] = _sandbox.BaseUrl + "/api/",
            ["Hub:Connectors:ZohoCrm:AccountsServers:21"] = _sandbox.AccountsServer("eu"),
            ["Hub:Connectors:ZohoCrm:Concurrency"] = "2",
        });
        var connector = services.Crm("zoho-crm");
        var connection = ZohoCrmFixture.Connection(_sandbox) with { ConnectionId = "zoho-gated" };

        var pushes = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => connector.UpsertAsync(connection, Batch(Enumerable.Range(i * 50, 50).Select(j => Record(j))), CancellationToken.None)));

        Assert.All(pushes.SelectMany(p => p.Records), r => Assert.True(r.Succeeded));
        Assert.DoesNotContain(_sandbox.Requests, r => r.Status == 429);
    }

    [Fact]
    public async Task Credits_RemainingIsReportedOnceZohoSaysIt()
    {
        _sandbox.UseCredits(_sandbox.CreditsPerDay / 2);

        var push = await _connector.UpsertAsync(ZohoCrmFixture.Connection(_sandbox), Batch([Record(1)]), CancellationToken.None);

        Assert.Equal(1, push.Usage.Calls);
        Assert.Equal((_sandbox.CreditsPerDay / 2) - 1, push.Usage.Remaining);
    }

    [Fact]
    public async Task Describe_ReadsMandatoryAndPicklistFields()
    {
        var fields = await _connector.DescribeAsync(ZohoCrmFixture.Connection(_sandbox), "Contacts", CancellationToken.None);

        Assert.True(fields.Single(f => f.ApiName == "Last_Name").Mandatory);
        Assert.Equal(["Prospect", "New", "Active", "Sleeping", "Churned"], fields.Single(f => f.ApiName == "Lifecycle_Stage").Options);
        Assert.True(fields.Single(f => f.ApiName == "Hub_Profile_Id").Custom);
    }

    [Fact]
    public async Task ApiDomainThatIsNotZohos_IsRefused()
    {
        var connection = ZohoCrmFixture.Connection(_sandbox);
        connection.Settings["apiDomain"] = "https://www.zohoapis.com.evil.io";

        await Assert.ThrowsAsync<ConnectorValidationException>(() => _connector.TestConnectionAsync(connection, CancellationToken.None));
        Assert.Empty(_sandbox.Requests);
    }

    private static async Task<IReadOnlyDictionary<string, string>> FollowAsync(Uri authorize)
    {
        using var browser = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });
        using var response = await browser.GetAsync(authorize);
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        return QueryHelpers.ParseQuery(response.Headers.Location!.Query).ToDictionary(p => p.Key, p => p.Value.ToString());
    }
}

using System.Globalization;
using Hub.Connectors.Tests.Support;
using Hub.Sandbox.HubSpot;
using Microsoft.Extensions.DependencyInjection;
using Newtonsoft.Json.Linq;

namespace Hub.Connectors.Tests.HubSpot;

public sealed class HubSpotConnectorTests : IAsyncLifetime
{
    private readonly HubSpotSandbox _sandbox = new(null, seedProperties: true);
    private ServiceProvider _services = null!;
    private ICrmConnector _connector = null!;

    public async Task InitializeAsync()
    {
        await _sandbox.StartAsync();
        _services = ConnectorServices.Build(overrides: new Dictionary<string, string?>
        {
            ["Hub:Connectors:HubSpot:ApiBaseUrl"] = _sandbox.BaseUrl,
            ["Hub:Connectors:HubSpot:ClientId"] = _sandbox.ClientId,
            ["Hub:Connectors:HubSpot:ClientSecret"] = _sandbox.ClientSecret,
        });
        _connector = _services.Crm("hubspot");
    }

    public async Task DisposeAsync()
    {
        await _services.DisposeAsync();
        await _sandbox.DisposeAsync();
    }

    private ConnectionContext Connection(JObject? secrets = null, Func<JObject, CancellationToken, Task>? save = null) =>
        new("tenant-a", "crm-1", "hubspot", new JObject { ["secrets"] = secrets ?? new JObject { ["accessToken"] = _sandbox.PrivateAppToken } }) { SaveSecretsAsync = save };

    private static CrmUpsertBatch Batch(params CrmRecord[] records) => new("contacts", "email", records, ["vip", "repeat_buyer"]);

    private static CrmRecord Record(int i, string? email = null, JObject? payload = null, params string[] tags) =>
        new($"p{i}", email ?? $"c{i}@example.com", payload ?? new JObject { ["firstname"] = $"F{i}", ["hub_vip_level"] = "VIP2" }, tags);

    [Fact]
    public async Task WholeBatchRefused_IsSplitUntilTheBadRecordsStandAlone()
    {
        _sandbox.RefuseWholeBatchOnInvalidInput = true;
        var records = Enumerable.Range(0, 16).Select(i => Record(i)).ToArray();
        records[5] = Record(5, email: "broken@");

        var results = ((await _connector.UpsertAsync(Connection(), Batch(records), CancellationToken.None)).Records).ToDictionary(r => r.ProfileId);

        Assert.Equal(CrmOutcome.Rejected, results["p5"].Outcome);
        Assert.Equal("VALIDATION_ERROR", results["p5"].Code);
        Assert.Contains("INVALID_EMAIL", results["p5"].Message, StringComparison.Ordinal);
        Assert.Equal(15, results.Values.Count(r => r.Outcome == CrmOutcome.Created));
        // 16 → 8 + 8 → 4 + 4 → 2 + 2 → 1 + 1: one bad record costs 1 + 2 × 4 calls, never one per record.
        Assert.Equal(9, _sandbox.Requests.Count);
    }

    [Fact]
    public async Task TwoContactsMerge_IntoANewContactThatAnUpsertByEitherEmailFinds_AndARepeatedMergeAnswersWithIt()
    {
        var merger = _services.GetRequiredKeyedService<ICrmMerger>("hubspot");
        var first = (await _connector.UpsertAsync(Connection(), Batch(
            Record(1, "li.wei@shop.cn"),
            Record(2, "wei.li@mail.cn", new JObject { ["phone"] = "+8613912345678" })), CancellationToken.None)).Records.ToDictionary(r => r.ProfileId, r => r.CrmId!);

        var merged = await merger.MergeAsync(Connection(), "contacts", first["p1"], first["p2"], CancellationToken.None);

        // HubSpot makes a new contact: the primary's values, the blanks filled from the other, its email kept as an additional one.
        Assert.DoesNotContain(merged.RecordId, first.Values);
        var contact = Assert.Single(_sandbox.Contacts);
        Assert.Equal(merged.RecordId, contact.Value<string>("id"));
        Assert.Equal(("li.wei@shop.cn", "wei.li@mail.cn", "F1", "+8613912345678"),
            (contact.Value<string>("email"), contact.Value<string>("hs_additional_emails"), contact.Value<string>("firstname"), contact.Value<string>("phone")));
        Assert.Equal(1, merged.Usage.Calls);

        // The answer was lost and the merge is sent again: HubSpot refuses it, both old ids lead to the merged contact.
        var again = await merger.MergeAsync(Connection(), "contacts", first["p1"], first["p2"], CancellationToken.None);
        Assert.Equal((merged.RecordId, 3), (again.RecordId, again.Usage.Calls));
        Assert.Single(_sandbox.Contacts);

        // The profile's email was the other one: the upsert finds the merged contact by it, and creates nothing.
        var later = (await _connector.UpsertAsync(Connection(), Batch(Record(2, "wei.li@mail.cn")), CancellationToken.None)).Records.Single();
        Assert.Equal((CrmOutcome.Updated, merged.RecordId), (later.Outcome, later.CrmId));
        Assert.Single(_sandbox.Contacts);

        // An id HubSpot does not know: its own words.
        var refused = await Assert.ThrowsAsync<ConnectorValidationException>(() => merger.MergeAsync(Connection(), "contacts", merged.RecordId, "999999", CancellationToken.None));
        Assert.Contains("OBJECT_NOT_FOUND", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DailyLimitReached_RecordsComeBackPendingAndTheCallIsNotRetried()
    {
        _sandbox.UseDailyQuota(_sandbox.DailyLimit);

        var results = (await _connector.UpsertAsync(Connection(), Batch(Record(1), Record(2)), CancellationToken.None)).Records;

        Assert.All(results, r => Assert.Equal(CrmOutcome.Transient, r.Outcome));
        Assert.All(results, r => Assert.Equal("DAILY", r.Code));
        Assert.Contains("daily limit", results[0].Message, StringComparison.Ordinal);
        Assert.Single(_sandbox.Requests);
        Assert.Empty(_sandbox.Contacts);
    }

    [Fact]
    public async Task TenSecondLimit_IsWaitedOutByThePipeline()
    {
        _sandbox.TenSecondLimit = 2;
        _ = (await _connector.UpsertAsync(Connection(), Batch(Record(1)), CancellationToken.None)).Records;
        _ = (await _connector.UpsertAsync(Connection(), Batch(Record(2)), CancellationToken.None)).Records;

        var results = (await _connector.UpsertAsync(Connection(), Batch(Record(3)), CancellationToken.None)).Records;

        // Through every retry the window stays full (10 s): the record is pending, not lost, not failed.
        Assert.Equal(CrmOutcome.Transient, results[0].Outcome);
        Assert.Equal("TEN_SECONDLY_ROLLING", results[0].Code);
        Assert.True(_sandbox.Requests.Count(r => r.Status == 429) >= 2, "the pipeline retried the burst limit");
    }

    [Fact]
    public async Task ExpiredOAuthToken_IsRefreshedAndSaved()
    {
        var (access, refresh) = _sandbox.IssueOAuthTokens();
        JObject? saved = null;
        var secrets = new JObject { ["accessToken"] = access, ["refreshToken"] = refresh, ["expiresAt"] = DateTimeOffset.UtcNow.AddMinutes(20).ToString("O", CultureInfo.InvariantCulture) };
        _sandbox.ExpireAccessTokens();

        var results = (await _connector.UpsertAsync(Connection(secrets, (s, _) => { saved = s; return Task.CompletedTask; }), Batch(Record(1)), CancellationToken.None)).Records;

        Assert.Equal(CrmOutcome.Created, results[0].Outcome);
        Assert.NotNull(saved);
        Assert.NotEqual(access, saved!.Value<string>("accessToken"));
        Assert.Equal([401, 200, 200], _sandbox.Requests.Select(r => r.Status));
    }

    [Fact]
    public async Task PrivateAppTokenRejected_IsAValidationErrorWithHubSpotsWords()
    {
        var ex = await Assert.ThrowsAsync<ConnectorValidationException>(() =>
            _connector.UpsertAsync(Connection(new JObject { ["accessToken"] = "pat-revoked" }), Batch(Record(1)), CancellationToken.None));

        Assert.Contains("INVALID_AUTHENTICATION", ex.Message, StringComparison.Ordinal);
        Assert.Single(_sandbox.Requests);
    }

    [Fact]
    public async Task TagsAndNulls_OnlyOwnedTagsAreWritten_NullClearsTheProperty()
    {
        await _connector.UpsertAsync(Connection(), Batch(Record(1, tags: ["vip", "repeat_buyer"])), CancellationToken.None);

        await _connector.UpsertAsync(Connection(), Batch(Record(1, payload: new JObject { ["firstname"] = "F1", ["hub_vip_level"] = null }, tags: ["repeat_buyer", "not-owned"])), CancellationToken.None);

        var contact = Assert.Single(_sandbox.Contacts);
        Assert.Equal("repeat_buyer", contact.Value<string>("hub_tags"));
        Assert.Equal("", contact.Value<string>("hub_vip_level"));
    }

    [Fact]
    public async Task SameEmailTwiceInOnePush_GoesOutInTwoCallsAndStaysOneContact()
    {
        var results = (await _connector.UpsertAsync(Connection(), Batch(Record(1, email: "same@example.com"), Record(2, email: "Same@Example.com")), CancellationToken.None)).Records;

        Assert.Equal(2, _sandbox.Requests.Count);
        Assert.Single(_sandbox.Contacts);
        Assert.Equal(results[0].CrmId, results[1].CrmId);
    }

    [Fact]
    public async Task OAuthInstall_ExchangesTheCodeAndChecksState()
    {
        var installer = _services.GetRequiredKeyedService<IOAuthInstaller>("hubspot");
        var redirect = new Uri("https://hub.example.com/setup/oauth/hubspot/callback");

        var start = installer.BeginInstall(new OAuthBegin("portal", redirect, "s1"));
        var grant = await installer.CompleteInstallAsync(new OAuthCallback(new Dictionary<string, string> { ["code"] = "code-1", ["state"] = "s1" }, "s1", redirect), CancellationToken.None);

        Assert.Contains("state=s1", start.AuthorizeUrl.Query, StringComparison.Ordinal);
        Assert.NotNull(grant.Secrets.Value<string>("refreshToken"));
        await _connector.TestConnectionAsync(new ConnectionContext("t", "c", "hubspot", new JObject { ["secrets"] = grant.Secrets }), CancellationToken.None);
        await Assert.ThrowsAsync<ConnectorValidationException>(() => installer.CompleteInstallAsync(new OAuthCallback(new Dictionary<string, string> { ["code"] = "code-1", ["state"] = "forged" }, "s1", redirect), CancellationToken.None));
    }
}

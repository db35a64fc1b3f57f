using System.Net;
using Hub.Connectors.Tests.Support;
using Hub.Connectors.Tests.ZohoCrm;
using Hub.Sandbox.ZohoCrm;
using Newtonsoft.Json.Linq;

namespace Hub.Connectors.Tests.Sandbox;

/// <summary>
/// The Zoho sandbox's search reproduces why the Hub upserts instead of search-then-write: a record just written is
/// not found yet (indexing lag, 204), and <c>equals</c> on text matches like contains.
/// </summary>
public sealed class ZohoCrmSandboxTests : IAsyncLifetime
{
    // The sandbox's clock is ours to move: the indexing lag is shown without sleeping or racing it.
    private readonly Microsoft.Extensions.Time.Testing.FakeTimeProvider _clock = new(DateTimeOffset.UtcNow);
    private readonly ZohoCrmSandbox _sandbox;

    public ZohoCrmSandboxTests() => _sandbox = new ZohoCrmSandbox(_clock);

    public Task InitializeAsync() => _sandbox.StartAsync();

    public async Task DisposeAsync() => await _sandbox.DisposeAsync();

    [Fact]
    public async Task Search_RightAfterAWrite_Is204_ThenEqualsMatchesLikeContains()
    {
        _sandbox.SearchLag = TimeSpan.FromSeconds(5);
        using var services = ZohoCrmFixture.Services(_sandbox);
        var connection = ZohoCrmFixture.Connection(_sandbox);
        var batch = new CrmUpsertBatch("Contacts", "Email", [new CrmRecord("p1", "ann@example.com", new JObject { ["Last_Name"] = "Ann" }, []), new CrmRecord("p2", "joann@example.com", new JObject { ["Last_Name"] = "Jo" }, [])], []);
        await services.Crm("zoho-crm").UpsertAsync(connection, batch, CancellationToken.None);
        using var http = new HttpClient();
        http.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", "Zoho-oauthtoken " + connection.Secrets.Value<string>("accessToken"));
        var url = $"{_sandbox.ApiDomain("eu")}/crm/v8/Contacts/search?criteria=(Email:equals:ann@example.com)";

        using var early = await http.GetAsync(url);
        Assert.Equal(HttpStatusCode.NoContent, early.StatusCode);
        Assert.Empty(await early.Content.ReadAsStringAsync());

        _clock.Advance(TimeSpan.FromSeconds(6));
        var late = JObject.Parse(await http.GetStringAsync(url));
        Assert.Equal(2, late["data"]!.Count()); // "equals" also found joann@example.com
    }
}

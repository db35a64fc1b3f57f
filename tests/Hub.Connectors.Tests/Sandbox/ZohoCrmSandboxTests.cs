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

    [Fact]
    public async Task DuplicateChecks_FollowEveryWrite_UpdatesMergesAndCase()
    {
        using var services = ZohoCrmFixture.Services(_sandbox);
        var connection = ZohoCrmFixture.Connection(_sandbox);
        using var http = new HttpClient { BaseAddress = new Uri(_sandbox.ApiDomain("eu") + "/") };
        http.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", "Zoho-oauthtoken " + connection.Secrets.Value<string>("accessToken"));
        async Task<JObject> Send(HttpMethod method, string path, JObject body)
        {
            using var response = await http.SendAsync(new HttpRequestMessage(method, path) { Content = new StringContent(body.ToString(), System.Text.Encoding.UTF8, "application/json") });
            return (JObject)JObject.Parse(await response.Content.ReadAsStringAsync())["data"]![0]!;
        }

        Task<JObject> Upsert(string email, string name) => Send(HttpMethod.Post, "crm/v8/Contacts/upsert", new JObject { ["data"] = new JArray(new JObject { ["Email"] = email, ["Last_Name"] = name }), ["duplicate_check_fields"] = new JArray("Email") });

        var ann = (await Upsert("ann@example.com", "Ann"))["details"]!.Value<string>("id")!;
        var bob = (await Upsert("bob@example.com", "Bob"))["details"]!.Value<string>("id")!;
        Assert.Equal("update", (await Upsert("ANN@Example.com", "Ann B"))["action"]!.ToString()); // Zoho matches email ignoring case

        // an update moves Ann to a new address: the old one no longer matches, the new one does
        Assert.Equal("SUCCESS", (await Send(HttpMethod.Put, "crm/v8/Contacts", new JObject { ["data"] = new JArray(new JObject { ["id"] = ann, ["Email"] = "ann@new.example" }) }))["code"]!.ToString());
        var moved = await Upsert("ann@new.example", "Ann C");
        Assert.Equal(("update", ann), (moved["action"]!.ToString(), moved["details"]!.Value<string>("id")));
        var again = await Upsert("ann@example.com", "Another Ann");
        Assert.Equal("insert", again["action"]!.ToString());

        // merging deletes the child: its address now creates a contact instead of updating a deleted one
        using (var merge = await http.PostAsync($"crm/v8/Contacts/{ann}/actions/merge", new StringContent(new JObject { ["merge"] = new JArray(new JObject { ["data"] = new JArray(new JObject { ["id"] = bob }) }) }.ToString())))
        {
            Assert.Equal(HttpStatusCode.OK, merge.StatusCode);
        }

        var afterMerge = await Upsert("bob@example.com", "Bob again");
        Assert.Equal("insert", afterMerge["action"]!.ToString());
        Assert.NotEqual(bob, afterMerge["details"]!.Value<string>("id"));
        Assert.Equal(3, _sandbox.Contacts.Count); // Ann, the other Ann, the new Bob
        Assert.Single(_sandbox.Contacts, c => c.Value<string>("Email") == "ann@new.example");
    }
}

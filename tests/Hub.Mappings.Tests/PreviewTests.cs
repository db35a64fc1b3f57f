using Hub.Mappings.Rules;
using Newtonsoft.Json.Linq;
using Xunit;

namespace Hub.Mappings.Tests;

public class PreviewTests
{
    private static readonly JToken[] Customers =
    [
        Payloads.Parse(Payloads.ShopifyWebhookCustomer),
        Payloads.Parse("""{"id":2,"email":"ann@shop.com","first_name":"Ann","updated_at":"2024-05-01T00:00:00Z"}"""),
        Payloads.Parse("""{"email":"no-id@shop.com"}"""),
        Payloads.Parse("""{"id":4,"first_name":"Phone","last_name":"Only","phone":"+14155550101","updated_at":"2024-05-01T00:00:00Z"}"""),
    ];

    [Fact]
    public void Run_SampleCustomers_ShowsCanonicalProfilesPayloadsAndErrors()
    {
        var result = Preview.Run(Rules.Defaults, new PreviewRequest("shopify", "member", "c1", Customers, "hubspot", "contacts"), Build.Now);

        Assert.Equal(4, result.Records.Count);
        Assert.Equal("bob.norman@mail.example.net", result.Records[0].Canonical.Value<string>("email"));
        Assert.False(result.Records[2].Valid);
        Assert.Contains(result.Records[2].Issues, i => i.Field == "vendorId");
        Assert.Equal(3, result.Profiles.Count);
        Assert.All(result.Profiles, p => Assert.NotNull(p["segments"]!["lifecycle"]));
        Assert.Equal(new DryRunCounts(Creates: 2, Updates: 0, Unchanged: 0, Invalid: 1, InvalidRecords: 1), result.Counts);
        Assert.Contains(result.Payloads, p => p.Action == Preview.Invalid && p.Issues.Any(i => i.Field == "email"));
    }

    [Fact]
    public void Run_ZohoMatchesAProfileWithoutEmailOnHubProfileId_SoNothingIsInvalid()
    {
        var result = Preview.Run(Rules.Defaults, new PreviewRequest("shopify", "member", "c1", Customers, "zoho-crm", "Contacts"), Build.Now);

        Assert.Equal(new DryRunCounts(Creates: 3, Updates: 0, Unchanged: 0, Invalid: 0, InvalidRecords: 1), result.Counts);
        Assert.All(result.Payloads, p => Assert.False(string.IsNullOrEmpty(p.Payload.Value<string>("Hub_Profile_Id"))));
    }

    [Fact]
    public void Run_WithTheLedger_SeparatesUpdatesFromUnchanged()
    {
        var first = Preview.Run(Rules.Defaults, new PreviewRequest("shopify", "member", "c1", Customers, "hubspot", "contacts"), Build.Now);
        var valid = first.Payloads.Where(p => p.Action == Preview.Create).ToList();
        var ledger = new Dictionary<string, string>
        {
            [valid[0].ProfileId] = valid[0].Hash,
            [valid[1].ProfileId] = "an-older-hash",
        };

        var again = Preview.Run(Rules.Defaults, new PreviewRequest("shopify", "member", "c1", Customers, "hubspot", "contacts", Ledger: ledger), Build.Now);

        Assert.Equal(new DryRunCounts(0, 1, 1, 1, 1), again.Counts);
    }

    [Fact]
    public void TryLoad_BrokenOverride_ReturnsEveryErrorAndNoRules()
    {
        var over = """{ "version": 1, "kind": "target", "crm": "zoho-crm", "module": "Contacts", "match": { "targetKey": "Email" }, "fields": { "Lifecycle_Stage": { "@lookup": { "value": { "@path": "segments.lifecycle" } } } } }""";

        var (rules, errors) = Preview.TryLoad(Rules.Defaults, [new RuleDocument("conn-c1/zoho.json", over)]);

        Assert.Null(rules);
        Assert.NotEmpty(errors);
        Assert.All(errors, e => Assert.Contains("conn-c1/zoho.json", e.File, StringComparison.Ordinal));
    }
}

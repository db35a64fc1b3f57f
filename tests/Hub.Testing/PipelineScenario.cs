using System.Globalization;
using System.Text.RegularExpressions;
using Hub.Sandbox.Common;
using Hub.Sandbox.Fxiaoke;
using Hub.Sandbox.HubSpot;
using Hub.Sandbox.Shopify;
using Hub.Sandbox.Youzan;
using Hub.Sandbox.ZohoCrm;
using Newtonsoft.Json.Linq;

namespace Hub.Testing;

/// <summary>
/// Two stores with overlapping customers and a CRM, all sandboxes: a Shopify shop and a Youzan shop that share the
/// people in the middle of the pool (the Shopify customers carry the same Chinese mobile numbers Youzan has, so the
/// two stores' records of one person join on the phone), and a Zoho CRM org. It knows the truth the pipeline must
/// reach: which real people exist, and how many counted orders each has.
/// </summary>
public sealed partial class PipelineScenario : IAsyncDisposable
{
    private PipelineScenario(IReadOnlyList<SandboxPerson> people, int days)
    {
        People = people;
        Days = days;
    }

    public IReadOnlyList<SandboxPerson> People { get; }
    public int Days { get; }
    public ShopifySandbox Shopify { get; } = new();
    public ShopifyShop Shop { get; private set; } = null!;
    public YouzanSandbox Youzan { get; } = new();
    public ZohoCrmSandbox Zoho { get; } = new();
    public (string Access, string Refresh) ZohoTokens { get; private set; }

    /// <summary>Started only when <c>allCrms</c> asks for them (connections <c>hubspot</c> and <c>fx</c>).</summary>
    public HubSpotSandbox? HubSpot { get; private set; }
    public FxiaokeSandbox? Fxiaoke { get; private set; }

    /// <param name="people">Size of the pool; Shopify sees the first two thirds, Youzan the last two thirds.</param>
    /// <param name="throttled">Keep Shopify's real cost bucket (50 points/s); otherwise a bucket that never makes the test wait.</param>
    /// <param name="allCrms">Also a HubSpot portal and a 纷享销客 enterprise, connected besides Zoho.</param>
    public static async Task<PipelineScenario> StartAsync(int people, int shopifyOrders, int youzanOrders, int days = 45, bool throttled = false, bool allCrms = false)
    {
        var pool = SandboxPeople.Generate(people);
        var scenario = new PipelineScenario(pool, days);
        var third = people / 3;
        var shopPeople = pool.Take(2 * third).Select(p => p with { Phone = "+86" + YouzanSandbox.Mobile(p) }).ToList();
        scenario.Shop = scenario.Shopify.AddShop("pipeline.myshopify.com");
        if (!throttled)
        {
            scenario.Shop.RestoreRate = 100_000;
            scenario.Shop.BucketMaximum = 1_000_000;
        }

        scenario.Shop.Seed(shopPeople, customers: third, orders: shopifyOrders, days: days);
        scenario.Youzan.Seed(pool.Skip(third).ToList(), customers: third, orders: youzanOrders, days: days);
        await scenario.Shopify.StartAsync();
        await scenario.Youzan.StartAsync();
        await scenario.Zoho.StartAsync();
        scenario.ZohoTokens = scenario.Zoho.IssueTokens(scenario.Zoho.UserDataCentre);
        if (allCrms)
        {
            scenario.HubSpot = new HubSpotSandbox();
            scenario.Fxiaoke = new FxiaokeSandbox();
            await scenario.HubSpot.StartAsync();
            await scenario.Fxiaoke.StartAsync();
        }

        return scenario;
    }

    /// <summary>Handler settings that point the connectors at the sandboxes.</summary>
    public Dictionary<string, string> Settings => HubSpot is null ? Base : new(Base, StringComparer.OrdinalIgnoreCase)
    {
        ["Hub:Connectors:HubSpot:ClientId"] = HubSpot.ClientId,
        ["Hub:Connectors:HubSpot:ClientSecret"] = HubSpot.ClientSecret,
        ["Hub:Connectors:HubSpot:AuthorizeUrl"] = HubSpot.BaseUrl + "/oauth/authorize",
    };

    private Dictionary<string, string> Base => new(StringComparer.OrdinalIgnoreCase)
    {
        ["Hub:Connectors:HubSpot:ApiBaseUrl"] = HubSpot?.BaseUrl ?? "https://api.hubapi.com",
        ["Hub:Connectors:Fxiaoke:Hosts:20"] = Fxiaoke?.BaseUrl ?? "https://open.fxiaoke.com",
        ["Hub:Connectors:Shopify:AdminBaseUrl"] = Shopify.AdminBaseUrlTemplate,
        ["Hub:Connectors:Shopify:ClientId"] = Shopify.ClientId,
        ["Hub:Connectors:Shopify:ClientSecret"] = Shopify.ClientSecret,
        ["Hub:Connectors:Youzan:ApiBaseUrl"] = Youzan.BaseUrl,
        ["Hub:Connectors:ZohoCrm:ClientId"] = Zoho.ClientId,
        ["Hub:Connectors:ZohoCrm:ClientSecret"] = Zoho.ClientSecret,
        ["Hub:Connectors:ZohoCrm:AccountsServers:20"] = Zoho.AccountsServer(Zoho.UserDataCentre),
        ["Hub:Connectors:ZohoCrm:ApiDomainSuffixes:20"] = Zoho.BaseUrl + "/api/",
        // OAuth installs: the sandbox "us" accounts server is where an install starts; the org lives in UserDataCentre.
        ["Hub:Connectors:ZohoCrm:AccountsServers:21"] = Zoho.AccountsServer("us"),
        ["Hub:Connectors:ZohoCrm:DefaultAccountsServer"] = Zoho.AccountsServer("us"),
        ["Hub:Connectors:Youzan:ClientId"] = Youzan.ClientId,
        ["Hub:Connectors:Youzan:ClientSecret"] = Youzan.ClientSecret,
    };

    /// <summary>Where every stream's first read starts: before the oldest seeded customer.</summary>
    public DateTimeOffset BackfillStart => DateTimeOffset.UtcNow.AddDays(-Days - 45);

    /// <summary>The three connections (id, connector, settings, secrets).</summary>
    public IEnumerable<(string Id, string Connector, JObject Settings, JObject Secrets)> Connections(DateTimeOffset now) =>
    [
        ("shop", "shopify", new JObject { ["shop"] = Shop.Domain }, new JObject { ["accessToken"] = Shop.AccessToken, ["webhookSecret"] = Shopify.ClientSecret }),
        ("yz", "youzan", new JObject { ["kdtId"] = Youzan.KdtId }, new JObject { ["clientId"] = Youzan.ClientId, ["clientSecret"] = Youzan.ClientSecret }),
        ("zoho", "zoho-crm", new JObject { ["accountsServer"] = Zoho.AccountsServer(Zoho.UserDataCentre), ["apiDomain"] = Zoho.ApiDomain(Zoho.UserDataCentre) },
            new JObject { ["accessToken"] = ZohoTokens.Access, ["refreshToken"] = ZohoTokens.Refresh, ["expiresAt"] = now.AddMinutes(55).ToString("O", CultureInfo.InvariantCulture) }),
        .. HubSpot is null || Fxiaoke is null ? [] : new (string, string, JObject, JObject)[]
        {
            ("hubspot", "hubspot", [], new JObject { ["accessToken"] = HubSpot.PrivateAppToken }),
            ("fx", "fxiaoke", new JObject { ["host"] = Fxiaoke.BaseUrl, ["currentOpenUserId"] = Fxiaoke.AdminOpenUserId },
                new JObject { ["appId"] = Fxiaoke.AppId, ["appSecret"] = Fxiaoke.AppSecret, ["permanentCode"] = Fxiaoke.PermanentCode }),
        },
    ];

    /// <summary>Every real person the two stores hold (as a customer or a buyer), with the orders the metrics count.</summary>
    /// <param name="youzan">False when only the Shopify store is connected (the benchmark): Youzan's people are not expected.</param>
    public IReadOnlyDictionary<int, int> ExpectedOrderCounts(bool youzan = true)
    {
        var counts = new Dictionary<int, int>();
        void Person(int index, bool counted)
        {
            counts[index] = counts.GetValueOrDefault(index) + (counted ? 1 : 0);
        }

        var byCustomer = Shop.Customers.ToDictionary(c => c.Id, c => IndexOfEmail(c.Email!));
        foreach (var customer in Shop.Customers)
        {
            Person(IndexOfEmail(customer.Email!), false);
        }

        foreach (var order in Shop.Orders)
        {
            var index = order.CustomerId is { } id ? byCustomer[id] : IndexOfEmail(order.Email!);
            Person(index, order.CancelledAt is null && order.FinancialStatus is not ("refunded" or "voided"));
        }

        foreach (var customer in youzan ? Youzan.Customers : [])
        {
            Person(IndexOfOpenId(customer.YzOpenId), false);
        }

        foreach (var order in youzan ? Youzan.Orders : [])
        {
            Person(IndexOfOpenId(order.YzOpenId), order.Status is not ("TRADE_CLOSED" or "TRADE_CLOSED_BY_USER"));
        }

        return counts;
    }

    /// <summary>Which person a Zoho contact is (by its email, else its mobile number), or -1.</summary>
    public static int PersonOf(JObject contact)
    {
        if (contact.Value<string>("Email") is { Length: > 0 } email)
        {
            return IndexOfEmail(email);
        }

        return contact.Value<string>("Mobile") is { } mobile && MobileIndex().Match(mobile) is { Success: true } m
            ? int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)
            : -1;
    }

    public static int IndexOfEmail(string email) => int.Parse(EmailIndex().Match(email).Groups[1].Value, CultureInfo.InvariantCulture);

    private static int IndexOfOpenId(string openId) => int.Parse(openId[2..8], CultureInfo.InvariantCulture);

    [GeneratedRegex(@"\.(\d+)@")]
    private static partial Regex EmailIndex();

    [GeneratedRegex(@"^\+861390000(\d{4})$")]
    private static partial Regex MobileIndex();

    public async ValueTask DisposeAsync()
    {
        await Shopify.DisposeAsync();
        await Youzan.DisposeAsync();
        await Zoho.DisposeAsync();
        if (HubSpot is not null)
        {
            await HubSpot.DisposeAsync();
        }

        if (Fxiaoke is not null)
        {
            await Fxiaoke.DisposeAsync();
        }
    }
}

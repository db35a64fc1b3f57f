using System.Globalization;
using Hub.Connectors.Tests.Support;
using Hub.Sandbox.Common;
using Hub.Sandbox.Shopify;
using Microsoft.Extensions.DependencyInjection;
using Newtonsoft.Json.Linq;

namespace Hub.Connectors.Tests.Conformance;

public sealed class ShopifyConformanceTests : StoreConnectorConformance
{
    private readonly ShopifySandbox _sandbox = new();
    private ServiceProvider _services = null!;
    private ShopifyShop _shop = null!;

    protected override string Platform => "shopify";

    protected override SandboxServer Server => _sandbox;

    public override async Task InitializeAsync()
    {
        await _sandbox.StartAsync();
        _shop = _sandbox.AddShop("conformance.myshopify.com");
        _shop.Seed(SandboxPeople.Generate(60), customers: 50, orders: OrderCount, days: 20);
        _shop.RestoreRate = 2000; // an Enterprise shop: the cost bucket is exercised in ShopifyThrottleTests, not here
        _services = ConnectorServices.Build(_sandbox, ConnectorServices.Impatient);
        Connector = _services.Store("shopify");
        Connection = new ConnectionContext("tenant-a", "conn-shopify", "shopify", new JObject
        {
            ["shop"] = _shop.Domain,
            ["secrets"] = new JObject { ["accessToken"] = _shop.AccessToken },
        });
    }

    public override async Task DisposeAsync()
    {
        await _services.DisposeAsync();
        await _sandbox.DisposeAsync();
    }

    protected override ConnectionContext WithWrongCredentials() =>
        Connection with { Settings = new JObject { ["shop"] = _shop.Domain, ["secrets"] = new JObject { ["accessToken"] = "shpat_wrong" } } };

    protected override IReadOnlyDictionary<string, DateTimeOffset> Truth()
    {
        lock (_shop.Orders)
        {
            return _shop.Orders.ToDictionary(o => o.Id.ToString(CultureInfo.InvariantCulture), o => o.UpdatedAt);
        }
    }

    protected override string TouchOrder(int index)
    {
        var id = _shop.Orders.OrderBy(o => o.UpdatedAt).ThenBy(o => o.Id).ElementAt(index).Id;
        _shop.UpdateOrder(id, o => o.Tags.Add("touched"));
        return id.ToString(CultureInfo.InvariantCulture);
    }

    protected override string IdOf(JObject record) => record.Value<string>("legacyResourceId")!;

    protected override DateTimeOffset UpdatedOf(JObject record) =>
        DateTimeOffset.Parse(record.Value<string>("updatedAt")!, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);

    protected override WebhookRequest OrderWebhook(byte[] body, string? secret = null)
    {
        var headers = new Dictionary<string, string>
        {
            ["X-Shopify-Topic"] = "orders/updated",
            ["X-Shopify-Shop-Domain"] = _shop.Domain,
            ["X-Shopify-Event-Id"] = "evt-1",
            ["X-Shopify-Webhook-Id"] = Guid.NewGuid().ToString(),
        };
        if (secret != "")
        {
            headers["X-Shopify-Hmac-Sha256"] = WebhookSignature.HmacSha256Base64(body, secret ?? _sandbox.ClientSecret);
        }

        return new WebhookRequest(Connection, body, headers);
    }

    protected override string SampleOrderJson() => """{"id":820982911946154508,"email":"jon@example.com","updated_at":"2026-11-20T10:00:00-05:00","total_price":"12.50","financial_status":"paid"}""";
}

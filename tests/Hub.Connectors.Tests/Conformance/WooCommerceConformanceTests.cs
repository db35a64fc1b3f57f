using System.Globalization;
using Hub.Connectors.Tests.Support;
using Hub.Sandbox.Common;
using Hub.Sandbox.WooCommerce;
using Microsoft.Extensions.DependencyInjection;
using Newtonsoft.Json.Linq;

namespace Hub.Connectors.Tests.Conformance;

public sealed class WooCommerceConformanceTests : StoreConnectorConformance
{
    private const string WebhookSecret = "wc-conformance-secret";
    private readonly WooCommerceSandbox _sandbox = new();
    private ServiceProvider _services = null!;
    private WooStore _store = null!;

    protected override string Platform => "woocommerce";

    protected override SandboxServer Server => _sandbox;

    public override async Task InitializeAsync()
    {
        await _sandbox.StartAsync();
        _store = _sandbox.AddStore("conformance");
        _store.Seed(SandboxPeople.Generate(60), customers: 50, orders: OrderCount, days: 20);
        _services = ConnectorServices.Build(overrides: ConnectorServices.Impatient);
        Connector = _services.Store("woocommerce");
        Connection = Context(_store.ConsumerSecret);
    }

    public override async Task DisposeAsync()
    {
        await _services.DisposeAsync();
        await _sandbox.DisposeAsync();
    }

    private ConnectionContext Context(string secret) => new("tenant-a", "conn-woo", "woocommerce", new JObject
    {
        ["storeUrl"] = _sandbox.SiteUrl("conformance"),
        ["secrets"] = new JObject { ["consumerKey"] = _store.ConsumerKey, ["consumerSecret"] = secret, ["webhookSecret"] = WebhookSecret },
    });

    protected override ConnectionContext WithWrongCredentials() => Context("cs_wrong");

    protected override IReadOnlyDictionary<string, DateTimeOffset> Truth()
    {
        lock (_store.Orders)
        {
            return _store.Orders.ToDictionary(o => o.Id.ToString(CultureInfo.InvariantCulture), o => new DateTimeOffset(o.Modified, TimeSpan.Zero));
        }
    }

    protected override string TouchOrder(int index)
    {
        var id = _store.Orders.OrderBy(o => o.Modified).ThenBy(o => o.Id).ElementAt(index).Id;
        _store.UpdateOrder(id, o => o.Status = "processing");
        return id.ToString(CultureInfo.InvariantCulture);
    }

    protected override string IdOf(JObject record) => record["id"]!.ToString();

    protected override DateTimeOffset UpdatedOf(JObject record) =>
        new(DateTime.Parse(record.Value<string>("date_modified_gmt")!, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal), TimeSpan.Zero);

    protected override WebhookRequest OrderWebhook(byte[] body, string? secret = null)
    {
        var headers = new Dictionary<string, string>
        {
            ["X-WC-Webhook-Topic"] = "order.updated",
            ["X-WC-Webhook-Source"] = _sandbox.SiteUrl("conformance") + "/",
            ["X-WC-Webhook-Delivery-ID"] = Guid.NewGuid().ToString("N"),
        };
        if (secret != "")
        {
            headers["X-WC-Webhook-Signature"] = WebhookSignature.HmacSha256Base64(body, secret ?? WebhookSecret);
        }

        return new WebhookRequest(Connection, body, headers);
    }

    protected override string SampleOrderJson() => """{"id":727,"status":"processing","total":"12.50","date_modified_gmt":"2026-11-20T10:00:00","billing":{"email":"jon@example.com"}}""";
}

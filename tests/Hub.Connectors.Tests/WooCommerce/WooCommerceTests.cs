using System.Globalization;
using System.Text;
using Hub.Connectors.Tests.Support;
using Hub.Connectors.WooCommerce;
using Hub.Sandbox.Common;
using Hub.Sandbox.WooCommerce;
using Microsoft.Extensions.DependencyInjection;
using Newtonsoft.Json.Linq;

namespace Hub.Connectors.Tests.WooCommerce;

public sealed class WooCommerceTests : IAsyncLifetime
{
    private const string Secret = "wc-hook-secret";
    private readonly WooCommerceSandbox _sandbox = new();
    private ServiceProvider _services = null!;
    private IStoreConnector _connector = null!;
    private WooStore _store = null!;

    public async Task InitializeAsync()
    {
        await _sandbox.StartAsync();
        _store = _sandbox.AddStore("shop");
        _services = ConnectorServices.Build();
        _connector = _services.Store("woocommerce");
    }

    public async Task DisposeAsync()
    {
        await _services.DisposeAsync();
        await _sandbox.DisposeAsync();
    }

    private ConnectionContext Connection(string? storeUrl = null, int? pageSize = null)
    {
        var settings = new JObject
        {
            ["storeUrl"] = storeUrl ?? _sandbox.SiteUrl("shop"),
            ["secrets"] = new JObject { ["consumerKey"] = _store.ConsumerKey, ["consumerSecret"] = _store.ConsumerSecret, ["webhookSecret"] = Secret },
        };
        if (pageSize is not null)
        {
            settings["pageSize"] = pageSize;
        }

        return new ConnectionContext("tenant-a", "conn-woo", "woocommerce", settings);
    }

    private List<SandboxRequest> OrderCalls() => _sandbox.Requests.Where(r => r.Path.EndsWith("/orders", StringComparison.Ordinal)).ToList();

    [Fact]
    public async Task ManyOrdersInOneSecond_PageNumbersAdvanceAndNothingIsLost()
    {
        var people = SandboxPeople.Generate(10);
        var second = DateTime.UtcNow.AddHours(-1);
        second = new DateTime(second.Ticks - (second.Ticks % TimeSpan.TicksPerSecond), DateTimeKind.Utc);
        for (var i = 0; i < 250; i++)
        {
            _store.AddOrder(people[i % 10], null, second, [("S", "Thing", 1, 10m)]);
        }

        var read = await WindowReader.ReadAsync(_connector, Connection(), "orders", DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow);

        Assert.Equal(250, read.Records.Select(r => r.Value<long>("id")).Distinct().Count());
        Assert.Equal(["1", "2", "3"], OrderCalls().Select(c => c.Query["page"]));
    }

    [Fact]
    public async Task OrdersEditedMidScan_ShiftPagesButNoUntouchedOrderIsSkipped()
    {
        _store.Seed(SandboxPeople.Generate(50), customers: 40, orders: 300, days: 10);
        var firstPageIds = new List<long>();

        var read = await WindowReader.ReadAsync(_connector, Connection(), "orders", DateTimeOffset.UtcNow.AddDays(-11), DateTimeOffset.UtcNow, afterPage: page =>
        {
            if (page == 1)
            {
                // Five orders already read are edited: they leave the front of the result set, so with plain page
                // numbers page 2 would start five rows later than it should.
                foreach (var o in _store.Orders.OrderBy(o => o.Modified).ThenBy(o => o.Id).Take(5).ToList())
                {
                    _store.UpdateOrder(o.Id, x => x.Status = "refunded");
                }
            }

            return Task.CompletedTask;
        });

        var seen = read.Records.Select(r => r.Value<long>("id")).ToHashSet();
        Assert.All(_store.Orders, o => Assert.Contains(o.Id, seen));
        // Keyset paging: each request starts from the last modified time seen, not from a page number.
        Assert.All(OrderCalls(), c => Assert.Equal("1", c.Query["page"]));
    }

    [Fact]
    public async Task PageSizeAboveWooCommercesCap_IsClampedTo100()
    {
        _store.Seed(SandboxPeople.Generate(20), customers: 10, orders: 30, days: 5);

        await _connector.PullAsync(new PullRequest(Connection(pageSize: 500), "orders", null, DateTimeOffset.UtcNow.AddDays(-6), DateTimeOffset.UtcNow), CancellationToken.None);

        Assert.Equal("100", Assert.Single(OrderCalls()).Query["per_page"]);
    }

    [Fact]
    public async Task Customers_FullScanHandsOnOnlyCustomersChangedInTheWindow()
    {
        _store.Seed(SandboxPeople.Generate(230), customers: 230, orders: 0, days: 5);
        var changed = _store.Customers.Where((_, i) => i % 70 == 0).Select(c => _store.UpdateCustomer(c.Id, x => x.City = "Shanghai").Id).ToHashSet();

        var read = await WindowReader.ReadAsync(_connector, Connection(), "customers", DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddSeconds(2));

        Assert.Equal(changed, read.Records.Select(r => r.Value<long>("id")).ToHashSet());
        Assert.Equal(3, read.Pages); // 230 customers, 100 per page: the whole list is scanned
        var rule = RepoRules.Defaults.Source("woocommerce", "member");
        Assert.All(read.Records, r => Assert.True(rule.MapMember(r, "conn-woo", rule.Context(DateTimeOffset.UtcNow)).IsValid));
    }

    [Fact]
    public async Task HostRateLimit_429WithRetryAfter_IsWaitedOut()
    {
        _store.Seed(SandboxPeople.Generate(20), customers: 10, orders: 250, days: 5);
        _store.RateLimitPerSecond = 1;

        var read = await WindowReader.ReadAsync(_connector, Connection(), "orders", DateTimeOffset.UtcNow.AddDays(-6), DateTimeOffset.UtcNow);

        Assert.Equal(250, read.Records.Select(r => r.Value<long>("id")).Distinct().Count());
        Assert.Contains(OrderCalls(), c => c.Status == 429);
    }

    [Theory]
    [InlineData("http://shop.example.com")]
    [InlineData("ftp://shop.example.com")]
    [InlineData("not a url")]
    public async Task StoreAddressNotHttps_IsRefusedBeforeAnyCall(string url)
    {
        await Assert.ThrowsAsync<ConnectorValidationException>(() => _connector.TestConnectionAsync(Connection(url), CancellationToken.None));
        Assert.Empty(_sandbox.Requests);
    }

    [Fact]
    public async Task WrongStorePath_IsAValidationErrorNamingTheProblem()
    {
        var ex = await Assert.ThrowsAsync<ConnectorValidationException>(() => _connector.TestConnectionAsync(Connection(_sandbox.BaseUrl + "/stores/nope"), CancellationToken.None));
        Assert.Contains("rest_no_route", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Signature_MatchesTheReferenceVector()
    {
        var body = Encoding.UTF8.GetBytes("""{"id":727,"status":"processing"}""");
        Assert.Equal("M5zIirWLSRhgI1MdKCotxfEOmgXByIXcTgNBWyq4Prs=", WebhookSignature.HmacSha256Base64(body, "wc_secret"));
    }

    [Fact]
    public async Task Webhooks_PingIsAcknowledged_DeliveriesAreVerified_RepeatedFailuresDisableTheWebhook()
    {
        _store.Seed(SandboxPeople.Generate(5), customers: 3, orders: 3, days: 5);
        await using var receiver = await WebhookReceiver.StartAsync(_connector, Connection());

        var hook = await _sandbox.AddWebhookAsync("shop", "order.updated", receiver.Url, Secret);
        Assert.Equal("active", hook.Status);
        Assert.True(Assert.Single(receiver.Accepted).IsPing);

        var order = _store.UpdateOrder(_store.Orders[0].Id, o => o.Status = "processing");
        Assert.Equal([200], await _sandbox.FireAsync("shop", "order.updated", _store.OrderJson(order.Id)));
        var evt = receiver.Accepted.Last().Events.Single();
        Assert.Equal(WebhookEventKind.Upsert, evt.Kind);
        Assert.StartsWith($"order.updated|{order.Id}|", evt.EventId, StringComparison.Ordinal);

        receiver.ForceStatus = 500;
        for (var i = 0; i < 6; i++)
        {
            await _sandbox.FireAsync("shop", "order.updated", _store.OrderJson(order.Id));
        }

        Assert.Equal("disabled", hook.Status); // WooCommerce gives up after more than five failures in a row
        Assert.Empty(await _sandbox.FireAsync("shop", "order.updated", _store.OrderJson(order.Id)));
    }

    [Fact]
    public async Task Webhook_WrongSecretOnTheStoreSide_Is401()
    {
        await using var receiver = await WebhookReceiver.StartAsync(_connector, Connection());
        await _sandbox.AddWebhookAsync("shop", "order.created", receiver.Url, "another-secret");

        var statuses = await _sandbox.FireAsync("shop", "order.created", new JObject { ["id"] = 1, ["date_modified_gmt"] = "2026-11-20T10:00:00" });

        Assert.Equal([401], statuses);
    }

    [Fact]
    public void Webhook_FromAnotherSite_IsUnauthorized()
    {
        var body = Encoding.UTF8.GetBytes("""{"id":1,"date_modified_gmt":"2026-11-20T10:00:00"}""");
        var request = new WebhookRequest(Connection(), body, new Dictionary<string, string>
        {
            [WooCommerceWebhooks.SignatureHeader] = WebhookSignature.HmacSha256Base64(body, Secret),
            [WooCommerceWebhooks.TopicHeader] = "order.updated",
            [WooCommerceWebhooks.SourceHeader] = "https://evil.example.com/",
        });

        Assert.Throws<WebhookUnauthorizedException>(() => _connector.ParseWebhook(request));
    }

    [Fact]
    public void Webhook_Deleted_IsADeleteWithTheId()
    {
        var body = Encoding.UTF8.GetBytes("""{"id":31}""");
        var request = new WebhookRequest(Connection(), body, new Dictionary<string, string>
        {
            [WooCommerceWebhooks.SignatureHeader] = WebhookSignature.HmacSha256Base64(body, Secret),
            [WooCommerceWebhooks.TopicHeader] = "customer.deleted",
            [WooCommerceWebhooks.DeliveryIdHeader] = "d1",
        });

        var evt = Assert.Single(_connector.ParseWebhook(request).Events);

        Assert.Equal(WebhookEventKind.Delete, evt.Kind);
        Assert.Equal("customers", evt.Stream);
        Assert.Equal(31, evt.Records[0].Value<int>("id"));
    }

    [Fact]
    public void Webhook_PingLookalikeWithExtraContent_IsNotAPing() =>
        Assert.Throws<WebhookUnauthorizedException>(() => _connector.ParseWebhook(new WebhookRequest(Connection(), Encoding.UTF8.GetBytes("webhook_id=1&evil=2"), new Dictionary<string, string>())));
}

using System.Text;
using Hub.Connectors.Shopify;
using Hub.Connectors.Tests.Support;
using Hub.Sandbox.Shopify;
using Newtonsoft.Json.Linq;

namespace Hub.Connectors.Tests.Shopify;

public sealed class ShopifyWebhookTests : ShopifyTestBase
{
    [Fact]
    public void Signature_MatchesTheReferenceVector()
    {
        var body = Encoding.UTF8.GetBytes("""{"id":820982911946154508,"email":"jon@example.com"}""");

        Assert.Equal("D0UMXmhjwBRi4y66TmhJrDlhQABD7zI2fm3p6/QLMo8=", WebhookSignature.HmacSha256Base64(body, "hush"));
        Assert.True(WebhookSignature.VerifyHmacSha256Base64(body, "hush", "D0UMXmhjwBRi4y66TmhJrDlhQABD7zI2fm3p6/QLMo8="));
        Assert.False(WebhookSignature.VerifyHmacSha256Base64(body, "hush", "D0UMXmhjwBRi4y66TmhJrDlhQABD7zI2fm3p6/QLNo8="));
        Assert.False(WebhookSignature.VerifyHmacSha256Base64(body, "hush", "not base64!"));
    }

    [Fact]
    public async Task Delivery_FromTheSandbox_IsVerifiedOnRawBytesAndParsed()
    {
        Seed(orders: 2);
        var order = Shop.Orders[0];
        await using var receiver = await WebhookReceiver.StartAsync(Connector, Connection());

        var status = await Sandbox.DeliverWebhookAsync(receiver.Url, Shop.Domain, "orders/updated", ShopifySandbox.RestOrder(Shop, order), eventId: "evt-42");

        Assert.Equal(200, status);
        var evt = Assert.Single(Assert.Single(receiver.Accepted).Events);
        Assert.Equal("orders/updated|evt-42", evt.EventId);
        Assert.NotNull(evt.DeliveryId);
        Assert.Equal(order.UpdatedAt, evt.OccurredAt);
        var rule = RepoRules.Defaults.Source("shopify", "order");
        var mapped = rule.MapOrder(evt.Records[0], "conn-1", rule.Context(DateTimeOffset.UtcNow));
        Assert.True(mapped.IsValid);
        Assert.Equal(order.Total, mapped.Value!.Total);
    }

    [Fact]
    public async Task Delivery_Duplicate_HasTheSameDedupeKey_OutOfOrderCarriesItsOwnTime()
    {
        Seed(orders: 1);
        var order = Shop.Orders[0];
        var older = ShopifySandbox.RestOrder(Shop, order);
        Shop.UpdateOrder(order.Id, o => o.Tags.Add("later"));
        var newer = ShopifySandbox.RestOrder(Shop, order);
        await using var receiver = await WebhookReceiver.StartAsync(Connector, Connection());

        await Sandbox.DeliverWebhookAsync(receiver.Url, Shop.Domain, "orders/updated", newer, eventId: "e2");
        await Sandbox.DeliverWebhookAsync(receiver.Url, Shop.Domain, "orders/updated", older, eventId: "e1");
        await Sandbox.DeliverWebhookAsync(receiver.Url, Shop.Domain, "orders/updated", newer, eventId: "e2");

        var events = receiver.Accepted.Select(b => b.Events[0]).ToList();
        Assert.Equal(events[0].EventId, events[2].EventId);
        Assert.True(events[0].OccurredAt > events[1].OccurredAt, "the late delivery says it is older, so the newer state can win");
    }

    [Fact]
    public async Task Delivery_ForAnotherShop_IsRefusedEvenThoughSignedByTheSameApp()
    {
        Seed(orders: 1);
        await using var receiver = await WebhookReceiver.StartAsync(Connector, Connection());

        var status = await Sandbox.DeliverWebhookAsync(receiver.Url, "other-shop.myshopify.com", "orders/updated", ShopifySandbox.RestOrder(Shop, Shop.Orders[0]));

        Assert.Equal(401, status);
        Assert.Empty(receiver.Accepted);
    }

    [Fact]
    public async Task Delivery_SignedWithAnotherSecret_Is401AndShopifyRetries()
    {
        Seed(orders: 1);
        await using var receiver = await WebhookReceiver.StartAsync(Connector, Connection());
        receiver.ForceStatus = 500;

        var statuses = await Sandbox.DeliverWebhookWithRetriesAsync(receiver.Url, Shop.Domain, "orders/create", ShopifySandbox.RestOrder(Shop, Shop.Orders[0]), [TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(10)]);
        receiver.ForceStatus = null;
        var wrong = await Sandbox.DeliverWebhookAsync(receiver.Url, Shop.Domain, "orders/create", ShopifySandbox.RestOrder(Shop, Shop.Orders[0]), secret: "someone-else");

        Assert.Equal([500, 500, 500], statuses);
        Assert.Equal(401, wrong);
    }

    [Fact]
    public void Delivery_SignedWithThePreviousSecretDuringRotation_IsAccepted()
    {
        using var services = ConnectorServices.Build(Sandbox, new Dictionary<string, string?> { ["Hub:Connectors:Shopify:PreviousClientSecret"] = "old-secret" });
        var connector = services.Store("shopify");
        var body = Encoding.UTF8.GetBytes("""{"id":1,"updated_at":"2026-11-20T10:00:00-05:00"}""");

        var batch = connector.ParseWebhook(Request(body, "orders/create", WebhookSignature.HmacSha256Base64(body, "old-secret")));

        Assert.Single(batch.Events);
    }

    [Theory]
    [InlineData("customers/redact", WebhookEventKind.CustomerRedact)]
    [InlineData("customers/data_request", WebhookEventKind.CustomerDataRequest)]
    [InlineData("shop/redact", WebhookEventKind.ShopRedact)]
    [InlineData("app/uninstalled", WebhookEventKind.Uninstalled)]
    [InlineData("customers/delete", WebhookEventKind.Delete)]
    public void ComplianceAndLifecycleTopics_AreParsedIntoTheirKinds(string topic, WebhookEventKind kind)
    {
        var body = Encoding.UTF8.GetBytes($$"""{"id":5,"shop_id":1,"shop_domain":"{{Shop.Domain}}","customer":{"id":2,"email":"a@example.com"},"orders_to_redact":[3]}""");

        var evt = Assert.Single(Connector.ParseWebhook(Request(body, topic, WebhookSignature.HmacSha256Base64(body, Sandbox.ClientSecret))).Events);

        Assert.Equal(kind, evt.Kind);
    }

    [Fact]
    public void ComplianceTopic_BadHmac_IsUnauthorized()
    {
        var body = Encoding.UTF8.GetBytes("""{"shop_id":1,"shop_domain":"acme.myshopify.com"}""");

        Assert.Throws<WebhookUnauthorizedException>(() => Connector.ParseWebhook(Request(body, "shop/redact", WebhookSignature.HmacSha256Base64(body, "wrong"))));
    }

    [Fact]
    public void TopicTheHubDoesNotUse_IsAcknowledgedWithoutEvents()
    {
        var body = Encoding.UTF8.GetBytes("""{"id":9}""");

        var batch = Connector.ParseWebhook(Request(body, "products/update", WebhookSignature.HmacSha256Base64(body, Sandbox.ClientSecret)));

        Assert.Empty(batch.Events);
    }

    [Fact]
    public void MissingEventIdAndTopic_AreMalformed()
    {
        var body = Encoding.UTF8.GetBytes("""{"id":9}""");
        var signature = WebhookSignature.HmacSha256Base64(body, Sandbox.ClientSecret);
        var headers = new Dictionary<string, string> { [ShopifyWebhooks.HmacHeader] = signature, [ShopifyWebhooks.ShopHeader] = Shop.Domain };

        Assert.Throws<ConnectorValidationException>(() => Connector.ParseWebhook(new WebhookRequest(Connection(), body, headers)));
    }

    private WebhookRequest Request(byte[] body, string topic, string signature) => new(Connection(), body, new Dictionary<string, string>
    {
        [ShopifyWebhooks.HmacHeader] = signature,
        [ShopifyWebhooks.TopicHeader] = topic,
        [ShopifyWebhooks.ShopHeader] = Shop.Domain,
        [ShopifyWebhooks.EventIdHeader] = Guid.NewGuid().ToString(),
    });
}

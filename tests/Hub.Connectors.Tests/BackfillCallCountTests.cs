using Hub.Connectors.Shopify;
using Hub.Connectors.Tests.Support;
using Hub.Sandbox.Common;
using Hub.Sandbox.Shopify;
using Hub.Sandbox.WooCommerce;
using Newtonsoft.Json.Linq;
using Xunit.Abstractions;

namespace Hub.Connectors.Tests;

/// <summary>
/// Counts the platform calls a backfill makes, so the figures in each connector's README are measured, not guessed.
/// Platforms are rate limited and cost merchants money: a change that adds calls fails here.
/// </summary>
public sealed class BackfillCallCountTests(ITestOutputHelper output)
{
    private const int Orders = 2000;

    [Fact]
    public async Task Shopify_PagedBackfill_CallsAreOnePerPageOf24PlusOnePerOrderWithMoreThan10Lines()
    {
        await using var sandbox = new ShopifySandbox();
        await sandbox.StartAsync();
        var shop = sandbox.AddShop("count.myshopify.com");
        shop.RestoreRate = 100_000;
        shop.BucketMaximum = 1000;
        shop.Seed(SandboxPeople.Generate(200), 150, Orders, days: 25);
        await using var services = ConnectorServices.Build(sandbox);
        var context = new ConnectionContext("t", "c", "shopify", new JObject { ["shop"] = shop.Domain, ["secrets"] = new JObject { ["accessToken"] = shop.AccessToken } });

        var read = await WindowReader.ReadAsync(services.Store("shopify"), context, "orders", DateTimeOffset.UtcNow.AddDays(-29), DateTimeOffset.UtcNow.AddMinutes(1));

        var longOrders = shop.Orders.Count(o => o.Lines.Count > 10);
        var calls = sandbox.Requests.Count;
        output.WriteLine($"Shopify paged: {Orders} orders, {calls} calls ({read.Pages} pages, {longOrders} orders with more than 10 lines)");
        Assert.Equal(Orders, read.Records.Count);
        Assert.DoesNotContain(sandbox.Requests, r => r.Operation?.EndsWith("THROTTLED", StringComparison.Ordinal) == true);
        Assert.Equal((int)Math.Ceiling(Orders / 24.0) + longOrders, calls);
    }

    [Fact]
    public async Task Shopify_BulkBackfill_OneMutationAFewPollsAndOneRangeReadPerThousandOrders()
    {
        await using var sandbox = new ShopifySandbox();
        await sandbox.StartAsync();
        var shop = sandbox.AddShop("count.myshopify.com");
        shop.BulkDuration = TimeSpan.FromSeconds(1);
        shop.Seed(SandboxPeople.Generate(200), 150, Orders, days: 80);
        await using var services = ConnectorServices.Build(sandbox);
        var context = new ConnectionContext("t", "c", "shopify", new JObject { ["shop"] = shop.Domain, ["secrets"] = new JObject { ["accessToken"] = shop.AccessToken } });

        var read = await WindowReader.ReadAsync(services.Store("shopify"), context, "orders", DateTimeOffset.UtcNow.AddDays(-365), DateTimeOffset.UtcNow.AddMinutes(1));

        var graphql = sandbox.Requests.Count(r => r.Path.EndsWith("graphql.json", StringComparison.Ordinal));
        var downloads = sandbox.Requests.Count(r => r.Path.StartsWith("/bulk-results/", StringComparison.Ordinal));
        output.WriteLine($"Shopify bulk: {Orders} orders, {graphql} GraphQL calls (1 mutation + status polls), {downloads} range reads of the result file");
        Assert.Equal(Orders, read.Records.Count);
        Assert.Equal((int)Math.Ceiling(Orders / 1000.0), downloads);
        Assert.InRange(graphql, 2, 2 + 15); // the mutation, then a status poll every 100 ms (tests) while the 1 s export runs, then one per page
    }

    [Fact]
    public async Task WooCommerce_Backfill_CallsAreOnePerHundredOrders()
    {
        await using var sandbox = new WooCommerceSandbox();
        await sandbox.StartAsync();
        var store = sandbox.AddStore("count");
        store.Seed(SandboxPeople.Generate(200), 150, Orders, days: 80);
        await using var services = ConnectorServices.Build();
        var context = new ConnectionContext("t", "c", "woocommerce", new JObject
        {
            ["storeUrl"] = sandbox.SiteUrl("count"),
            ["secrets"] = new JObject { ["consumerKey"] = store.ConsumerKey, ["consumerSecret"] = store.ConsumerSecret },
        });

        var read = await WindowReader.ReadAsync(services.Store("woocommerce"), context, "orders", DateTimeOffset.UtcNow.AddDays(-365), DateTimeOffset.UtcNow);

        var calls = sandbox.Requests.Count;
        output.WriteLine($"WooCommerce: {Orders} orders, {calls} calls, {read.Records.Count - Orders} re-read at page edges");
        Assert.Equal(Orders, read.Records.Select(r => r.Value<long>("id")).Distinct().Count());
        Assert.InRange(calls, Orders / 100, (Orders / 100) + 1);
    }

    [Fact]
    public void Shopify_PageSizes_KeepEveryQueryUnderTheCostCap()
    {
        Assert.Equal(24, ShopifyQueries.PageSize(f => ShopifyQueries.OrdersCost(f, 10), 1000));
        Assert.True(ShopifyQueries.OrdersCost(24, 10) <= 1000 && ShopifyQueries.OrdersCost(25, 10) > 1000);
        Assert.Equal(166, ShopifyQueries.PageSize(ShopifyQueries.CustomersCost, 1000));
        Assert.True(ShopifyQueries.OrderLinesCost <= 1000);
    }
}

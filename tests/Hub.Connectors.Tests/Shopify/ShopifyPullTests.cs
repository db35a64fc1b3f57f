using System.Globalization;
using Hub.Connectors.Shopify;
using Hub.Connectors.Tests.Support;
using Hub.Sandbox.Shopify;
using Newtonsoft.Json.Linq;

namespace Hub.Connectors.Tests.Shopify;

public sealed class ShopifyPullTests : ShopifyTestBase
{
    protected override IDictionary<string, string?> Overrides => new Dictionary<string, string?> { ["Hub:Connectors:Shopify:BulkPageSize"] = "40" };

    [Fact]
    public async Task ReadWindow_PagedOrders_CallsArePagesPlusLineFollowUpsAndLinesAreComplete()
    {
        Seed(orders: 100);
        Shop.UpdateOrder(Shop.Orders[3].Id, o => o.Lines.AddRange(Enumerable.Range(0, 115).Select(i => new ShopifyLine { Sku = $"X{i}", Title = "extra", Price = 1 })));
        var longOrders = Shop.Orders.Where(o => o.Lines.Count > 10).ToList();

        var read = await WindowReader.ReadAsync(Connector, Connection(), "orders", DateTimeOffset.UtcNow.AddDays(-29), DateTimeOffset.UtcNow.AddMinutes(1));

        var pageSize = ShopifyQueries.PageSize(f => ShopifyQueries.OrdersCost(f, 10), 1000);
        Assert.Equal(24, pageSize);
        var expectedCalls = (int)Math.Ceiling(100 / (double)pageSize) + longOrders.Sum(o => (int)Math.Ceiling((o.Lines.Count - 10) / 100.0));
        Assert.Equal(expectedCalls, GraphQLCalls().Count);
        Assert.All(GraphQLCalls(), c => Assert.Equal(200, c.Status));
        foreach (var order in Shop.Orders)
        {
            var record = Assert.Single(read.Records, r => r.Value<string>("legacyResourceId") == order.Id.ToString(CultureInfo.InvariantCulture));
            Assert.Equal(order.Lines.Count, ((JArray)record["lineItems"]!["nodes"]!).Count);
        }
    }

    [Fact]
    public async Task ReadWindow_Customers_ReturnsCustomersUpdatedInTheWindow()
    {
        Seed(orders: 0, customers: 30);
        var changed = Shop.Customers.Take(3).Select(c => Shop.UpdateCustomer(c.Id, x => x.Tags.Add("vip")).Id.ToString(CultureInfo.InvariantCulture)).ToHashSet();

        var read = await WindowReader.ReadAsync(Connector, Connection(), "customers", DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddMinutes(1));

        Assert.Equal(changed, read.Records.Select(r => r.Value<string>("legacyResourceId")!).ToHashSet());
        var rule = RepoRules.Defaults.Source("shopify", "member");
        Assert.All(read.Records, r => Assert.True(rule.MapMember(r, "conn-1", rule.Context(DateTimeOffset.UtcNow)).IsValid));
    }

    [Fact]
    public async Task ReadLongWindow_UsesOneBulkOperationAndRangeRequests()
    {
        Seed(orders: 130, days: 80);

        var read = await WindowReader.ReadAsync(Connector, Connection(), "orders", DateTimeOffset.UtcNow.AddDays(-90), DateTimeOffset.UtcNow.AddMinutes(1));

        Assert.Equal(Shop.Orders.Select(o => o.Id.ToString(CultureInfo.InvariantCulture)).Order(), read.Records.Select(r => r.Value<string>("legacyResourceId")!).Order());
        foreach (var order in Shop.Orders)
        {
            var record = read.Records.Single(r => r.Value<string>("legacyResourceId") == order.Id.ToString(CultureInfo.InvariantCulture));
            Assert.Equal(order.Lines.Count, ((JArray)record["lineItems"]!["nodes"]!).Count);
            Assert.Null(record["__parentId"]);
        }

        Assert.Single(GraphQLCalls(), c => c.Operation == "bulkOperationRunQuery");
        var downloads = Sandbox.Requests.Where(r => r.Path.StartsWith("/bulk-results/", StringComparison.Ordinal)).ToList();
        Assert.Equal((int)Math.Ceiling(130 / 40.0), downloads.Count);
        Assert.All(downloads, d => Assert.StartsWith("bytes=", d.Range));
        var rule = RepoRules.Defaults.Source("shopify", "order");
        Assert.All(read.Records, r => Assert.True(rule.MapOrder(r, "conn-1", rule.Context(DateTimeOffset.UtcNow)).IsValid));
    }

    [Fact]
    public async Task OrdersAndCustomersBackfilledAtOnce_TheSecondBulkWaitsForTheFirst()
    {
        Seed(orders: 60, days: 80);

        // A first backfill of a shop reads both streams at once; Shopify runs one bulk query per app and shop at a time.
        var start = DateTimeOffset.UtcNow.AddDays(-90);
        var reads = await Task.WhenAll(
            WindowReader.ReadAsync(Connector, Connection(), "orders", start, DateTimeOffset.UtcNow.AddMinutes(1)),
            WindowReader.ReadAsync(Connector, Connection(), "customers", start, DateTimeOffset.UtcNow.AddMinutes(1)));

        Assert.Equal(60, reads[0].Records.Count);
        Assert.Equal(Shop.Customers.Count(c => c.UpdatedAt >= start), reads[1].Records.Count);
        Assert.True(GraphQLCalls().Count(c => c.Operation == "bulkOperationRunQuery") >= 3); // the second was refused while the first ran
    }

    [Fact]
    public async Task BulkOperationFails_IsStartedAgainWithAWarning()
    {
        Seed(orders: 30, days: 80);
        Shop.FailNextBulk.Enqueue("INTERNAL_SERVER_ERROR");

        var read = await WindowReader.ReadAsync(Connector, Connection(), "orders", DateTimeOffset.UtcNow.AddDays(-90), DateTimeOffset.UtcNow.AddMinutes(1));

        Assert.Equal(30, read.Records.Count);
        Assert.Equal(2, GraphQLCalls().Count(c => c.Operation == "bulkOperationRunQuery"));
        Assert.Contains(read.Warnings, w => w.Contains("INTERNAL_SERVER_ERROR", StringComparison.Ordinal));
    }

    [Fact]
    public async Task BulkOperationFailsThreeTimes_ThrowsValidation()
    {
        Seed(orders: 5, days: 80);
        for (var i = 0; i < 3; i++)
        {
            Shop.FailNextBulk.Enqueue("ACCESS_DENIED");
        }

        await Assert.ThrowsAsync<ConnectorValidationException>(() => WindowReader.ReadAsync(Connector, Connection(), "orders", DateTimeOffset.UtcNow.AddDays(-90), DateTimeOffset.UtcNow));
    }

    [Fact]
    public async Task WithoutReadAllOrders_OlderOrdersAreInvisibleAndTheRunSaysWhy()
    {
        Seed(orders: 60, days: 80);
        Shop.Scopes.Remove("read_all_orders");
        var secrets = new JObject { ["accessToken"] = Shop.AccessToken, ["scope"] = "read_orders,read_customers" };

        var read = await WindowReader.ReadAsync(Connector, Connection(secrets), "orders", DateTimeOffset.UtcNow.AddDays(-29), DateTimeOffset.UtcNow.AddMinutes(1));
        var older = await Connector.PullAsync(new PullRequest(Connection(secrets), "orders", null, DateTimeOffset.UtcNow.AddDays(-75), DateTimeOffset.UtcNow.AddDays(-50)), CancellationToken.None);

        Assert.All(read.Records, r => Assert.True(DateTimeOffset.Parse(r.Value<string>("createdAt")!, CultureInfo.InvariantCulture) > DateTimeOffset.UtcNow.AddDays(-61)));
        Assert.Contains(older.Warnings, w => w.Contains("read_all_orders", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ProtectedDataNotApproved_RecordsArriveRedactedWithAWarning()
    {
        Seed(orders: 10);
        Shop.ProtectedDataApproved = false;

        var page = await Connector.PullAsync(new PullRequest(Connection(), "orders", null, DateTimeOffset.UtcNow.AddDays(-29), DateTimeOffset.UtcNow.AddMinutes(1)), CancellationToken.None);

        Assert.NotEmpty(page.Records);
        Assert.All(page.Records, r => Assert.Equal(JTokenType.Null, r["email"]!.Type));
        Assert.Contains(page.Warnings, w => w.Contains("protected customer data", StringComparison.Ordinal));
    }

    [Fact]
    public async Task UnsupportedApiVersion_FallsForwardAndTheRunSaysSo()
    {
        Seed(orders: 3);

        var page = await Connector.PullAsync(new PullRequest(Connection(apiVersion: "2023-01"), "orders", null, DateTimeOffset.UtcNow.AddDays(-29), DateTimeOffset.UtcNow.AddMinutes(1)), CancellationToken.None);

        Assert.Equal(3, page.Records.Count);
        Assert.Contains(page.Warnings, w => w.Contains("2025-10", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ShopNotAShopifyDomain_ThrowsValidation()
    {
        var context = new ConnectionContext("t", "c", "shopify", new JObject { ["shop"] = "evil.example.com", ["secrets"] = new JObject { ["accessToken"] = "x" } });

        await Assert.ThrowsAsync<ConnectorValidationException>(() => Connector.PullAsync(new PullRequest(context, "orders", null, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow), CancellationToken.None));
    }

    [Fact]
    public async Task ForeignCursor_ThrowsValidation() =>
        await Assert.ThrowsAsync<ConnectorValidationException>(() => Connector.PullAsync(new PullRequest(Connection(), "orders", "page=2", DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow), CancellationToken.None));
}

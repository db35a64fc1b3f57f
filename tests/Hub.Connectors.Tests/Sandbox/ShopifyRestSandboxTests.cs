using System.Net;
using Hub.Sandbox.Common;
using Hub.Sandbox.Shopify;
using Newtonsoft.Json.Linq;

namespace Hub.Connectors.Tests.Sandbox;

/// <summary>
/// The sandbox's legacy REST Admin API behaves as Shopify documents it, for trials of custom apps that still use it:
/// the leaky bucket and its header, Link paging with opaque page_info, and the filters page_info refuses.
/// </summary>
public sealed class ShopifyRestSandboxTests : IAsyncLifetime
{
    private readonly ShopifySandbox _sandbox = new();
    private readonly HttpClient _http = new();
    private ShopifyShop _shop = null!;

    public async Task InitializeAsync()
    {
        await _sandbox.StartAsync();
        _shop = _sandbox.AddShop("rest.myshopify.com");
        _shop.Seed(SandboxPeople.Generate(20), customers: 15, orders: 120, days: 30);
        _http.DefaultRequestHeaders.Add("X-Shopify-Access-Token", _shop.AccessToken);
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _sandbox.DisposeAsync();
    }

    private string Url(string query) => $"{_sandbox.BaseUrl}/shops/{_shop.Domain}/admin/api/2026-10/orders.json?{query}";

    [Fact]
    public async Task LinkPaging_WalksEveryOrderOnceAndCountsCallsInTheBucketHeader()
    {
        _shop.RestLeakRate = 0.001; // nothing leaks during the test, so the header counts every call
        var ids = new List<long>();
        var url = Url("status=any&limit=50&order=updated_at%20asc&updated_at_min=2000-01-01T00:00:00Z");
        var calls = 0;
        while (url is not null)
        {
            using var response = await _http.GetAsync(url);
            calls++;
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal($"{calls}/40", response.Headers.GetValues("X-Shopify-Shop-Api-Call-Limit").Single());
            ids.AddRange(JObject.Parse(await response.Content.ReadAsStringAsync())["orders"]!.Select(o => o.Value<long>("id")));
            url = response.Headers.TryGetValues("Link", out var link) ? link.Single().Split(';')[0].Trim('<', '>') : null;
        }

        Assert.Equal(3, calls);
        Assert.Equal(_shop.Orders.Select(o => o.Id).Order(), ids.Order());
    }

    [Fact]
    public async Task PageInfoWithAFilter_Is400()
    {
        using var first = await _http.GetAsync(Url("status=any&limit=10"));
        var next = first.Headers.GetValues("Link").Single().Split(';')[0].Trim('<', '>');

        using var response = await _http.GetAsync(next + "&created_at_min=2026-01-01");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("created_at_min cannot be passed when page_info is present", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task BucketFull_Answers429WithRetryAfter()
    {
        _shop.RestLeakRate = 0.5;
        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage? throttled = null;
        for (var i = 0; i < 45; i++)
        {
            var response = await _http.GetAsync(Url("limit=1"));
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                throttled ??= response;
            }
            else
            {
                response.Dispose();
            }
        }

        Assert.InRange(statuses.Count(s => s == HttpStatusCode.OK), 40, 41); // one more may have leaked out meanwhile
        Assert.NotNull(throttled);
        Assert.Equal("2.0", throttled!.Headers.GetValues("Retry-After").Single());
        Assert.Contains("Exceeded 2 calls per second", await throttled.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        throttled.Dispose();
    }

    [Fact]
    public async Task DefaultStatusIsOpen_CancelledOrdersOnlyWithStatusAny()
    {
        _shop.UpdateOrder(_shop.Orders[0].Id, o => o.CancelledAt = DateTimeOffset.UtcNow);

        var open = JObject.Parse(await _http.GetStringAsync(Url("limit=250")))["orders"]!.Count();
        var any = JObject.Parse(await _http.GetStringAsync(Url("limit=250&status=any")))["orders"]!.Count();

        Assert.Equal(119, open);
        Assert.Equal(120, any);
    }
}

using Hub.Mappings.Model;
using Hub.Mappings.Rules;
using Newtonsoft.Json.Linq;
using Xunit;

namespace Hub.Mappings.Tests;

public class SegmentTests
{
    private static Profile One(RuleSet rules, params Order[] orders) =>
        Assert.Single(new ProfileEngine(rules).Build([Build.Member("shopify", "s1", "1", email: "a@x.com")], orders, Build.Now).Profiles);

    private static Order Paid(string id, decimal total, int daysAgo, OrderStatus status = OrderStatus.Paid, string currency = "USD", decimal refunded = 0)
    {
        var o = Build.Order("shopify", "s1", id, total, Build.Now.AddDays(-daysAgo), email: "a@x.com", status: status, currency: currency);
        o.Refunded = refunded;
        return o;
    }

    [Fact]
    public void Metrics_ExcludeCancelledRefundedAndPending_AndSubtractRefunds()
    {
        var p = One(Rules.Defaults, Paid("1", 100, 40), Paid("2", 300, 10, refunded: 50), Paid("3", 999, 5, OrderStatus.Cancelled), Paid("4", 999, 5, OrderStatus.Refunded), Paid("5", 999, 1, OrderStatus.Pending));

        Assert.Equal((350m, 2, 175m, "USD"), (p.Metrics.TotalSpent, p.Metrics.OrderCount, p.Metrics.AverageOrderValue, p.Metrics.Currency));
        Assert.Equal(10, p.Metrics.DaysSinceLastOrder);
        Assert.Equal(Build.Now.AddDays(-40), p.Metrics.FirstOrderAt);
        Assert.True(p.Metrics.Repurchase);
        Assert.Equal("yes", p.Segments["repurchase"]);
    }

    [Fact]
    public void Metrics_SeveralCurrencies_KeepEachTotal_AndReportTheMainOne()
    {
        var p = One(Rules.Defaults, Paid("1", 100, 3, currency: "USD"), Paid("2", 900, 4, currency: "CNY"));

        Assert.Equal(100m, p.Metrics.TotalSpentByCurrency["USD"]);
        Assert.Equal(900m, p.Metrics.TotalSpentByCurrency["CNY"]);
        Assert.Equal(("CNY", 900m), (p.Metrics.Currency, p.Metrics.TotalSpent));
    }

    [Fact]
    public void Metrics_SameOrderPulledTwice_CountsOnce()
    {
        var older = Paid("1", 100, 3);
        var newer = Paid("1", 120, 3);
        newer.Source = newer.Source with { VendorUpdatedAt = older.Source.VendorUpdatedAt!.Value.AddHours(1) };

        var p = One(Rules.Defaults, older, newer);

        Assert.Equal((1, 120m), (p.Metrics.OrderCount, p.Metrics.TotalSpent));
    }

    [Theory]
    [InlineData(new[] { 5 }, "new")]
    [InlineData(new[] { 5, 40 }, "active")]
    [InlineData(new[] { 45 }, "active")]
    [InlineData(new[] { 120 }, "sleeping")]
    [InlineData(new[] { 400 }, "churned")]
    [InlineData(new int[0], "prospect")]
    public void Lifecycle_FollowsTheDayThresholdsOfTheRules(int[] daysAgo, string expected)
    {
        var p = One(Rules.Defaults, daysAgo.Select((d, i) => Paid($"o{i}", 50, d)).ToArray());

        Assert.Equal(expected, p.Segments["lifecycle"]);
    }

    [Fact]
    public void Lifecycle_ThresholdsAreData_AConnectionCanMoveThem()
    {
        // "Active" within 50 days instead of 90: a customer 60 days out becomes sleeping.
        var over = Rules.Defaults.Export("segments");
        over["segments"]![0]!["rules"]![1]!["when"] = JObject.Parse("""{ "lte": [ { "@path": "$.metrics.daysSinceLastOrder" }, 50 ] }""");
        var rules = Rules.Defaults.WithOverrides([new RuleDocument("conn/segments.json", over.ToString())]);

        Assert.Equal("active", One(Rules.Defaults, Paid("1", 50, 60), Paid("2", 50, 70)).Segments["lifecycle"]);
        Assert.Equal("sleeping", One(rules, Paid("1", 50, 60), Paid("2", 50, 70)).Segments["lifecycle"]);
    }

    [Fact]
    public void Rfm_ScoresFromThresholds_AndTiersAndTags()
    {
        var orders = Enumerable.Range(0, 12).Select(i => Paid($"o{i}", 1000, 3 + i)).ToArray();

        var p = One(Rules.Defaults, orders);

        Assert.Equal((5, 5, 5), p.Rfm);
        Assert.Equal(("champions", "high", "VIP3"), (p.Segments["rfmTier"], p.Segments["valueTier"], p.Segments["vipLevel"]));
        Assert.Contains("VIP", p.Tags);
        Assert.Equal("555", p.View()["rfm"]!.Value<string>("score"));
    }

    [Fact]
    public void ChurnRiskTag_RepeatBuyerGoneQuiet()
    {
        var p = One(Rules.Defaults, Paid("1", 80, 100), Paid("2", 80, 130), Paid("3", 80, 150));

        Assert.Equal("sleeping", p.Segments["lifecycle"]);
        Assert.Contains("Churn risk", p.Tags);
        Assert.Equal("at_risk", p.Segments["rfmTier"]);
    }
}

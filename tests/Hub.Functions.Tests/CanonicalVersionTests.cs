using Hub.Functions.State;
using Hub.Mappings.Model;
using Xunit;

namespace Hub.Functions.Tests;

public class CanonicalVersionTests
{
    private static Order Sample(DateTimeOffset created, decimal total, string sku = "SKU-1")
    {
        var order = new Order
        {
            Source = new SourceRef("shopify", "shop", "1001", created.AddHours(1)),
            OrderNumber = "#1001",
            Status = OrderStatus.Paid,
            Currency = "CNY",
            Total = total,
            CreatedAt = created,
            Email = "buyer@example.cn",
        };
        order.Identifiers["shopify_customer_id"] = "77";
        order.Lines.Add(new OrderLine { Sku = sku, Quantity = 2, UnitPrice = total / 2 });
        order.Tags.Add("vip");
        return order;
    }

    [Fact]
    public void OneStateInTwoShapes_IsOneVersion_TheShopsOffsetAndTrailingZerosDoNotCount()
    {
        var utc = new DateTimeOffset(2026, 11, 20, 2, 0, 0, TimeSpan.Zero);
        var graphQl = Sample(utc, 12.5m);
        var rest = Sample(utc.ToOffset(TimeSpan.FromHours(8)), 12.50m);

        Assert.Equal(CanonicalVersion.Of(graphQl), CanonicalVersion.Of(rest));
    }

    [Fact]
    public void AnyMappedChange_IsANewVersion()
    {
        var at = new DateTimeOffset(2026, 11, 20, 2, 0, 0, TimeSpan.Zero);
        var version = CanonicalVersion.Of(Sample(at, 12.5m));

        Assert.NotEqual(version, CanonicalVersion.Of(Sample(at, 12.51m)));
        Assert.NotEqual(version, CanonicalVersion.Of(Sample(at.AddSeconds(1), 12.5m)));
        Assert.NotEqual(version, CanonicalVersion.Of(Sample(at, 12.5m, sku: "SKU-2")));
        var refunded = Sample(at, 12.5m);
        refunded.Status = OrderStatus.Refunded;
        Assert.NotEqual(version, CanonicalVersion.Of(refunded));
        var otherId = Sample(at, 12.5m);
        otherId.Identifiers["shopify_customer_id"] = "78";
        Assert.NotEqual(version, CanonicalVersion.Of(otherId));
    }
}

using Hub.Mappings.Model;
using Hub.Mappings.Rules;
using Xunit;

namespace Hub.Mappings.Tests;

/// <summary>Every shipped source rule against realistic payloads of each shape it claims to read.</summary>
public class GoldenTests
{
    private static readonly DateTimeOffset Now = new(2024, 6, 1, 0, 0, 0, TimeSpan.Zero);

    private static Member Member(string platform, string json, string connection = "c1", string? region = null)
    {
        var rule = Rules.Defaults.Source(platform, "member");
        var mapped = rule.MapMember(Payloads.Parse(json), connection, rule.Context(Now, region));
        Assert.True(mapped.IsValid, string.Join("; ", mapped.Issues));
        return mapped.Value!;
    }

    private static Order Order(string platform, string json, string connection = "c1", string? region = null)
    {
        var rule = Rules.Defaults.Source(platform, "order");
        var mapped = rule.MapOrder(Payloads.Parse(json), connection, rule.Context(Now, region));
        Assert.True(mapped.IsValid, string.Join("; ", mapped.Issues));
        return mapped.Value!;
    }

    [Fact]
    public void Shopify_WebhookAndGraphqlCustomer_MapToTheSameMember()
    {
        var rest = Member("shopify", Payloads.ShopifyWebhookCustomer);
        var graphql = Member("shopify", Payloads.ShopifyGraphqlCustomer);

        foreach (var m in new[] { rest, graphql })
        {
            Assert.Equal("706405506930370084", m.Source.VendorId);
            Assert.Equal("bob.norman@mail.example.net", m.Email);
            Assert.Equal("+16136120707", m.Phone);
            Assert.Equal(("Bob", "Norman", "Bob Norman"), (m.GivenName, m.FamilyName, m.Name));
            Assert.Equal("706405506930370084", m.Identifiers["shopify_customer_id"]);
            Assert.Equal(["vip", "newsletter"], m.Tags);
            Assert.Equal((true, false), (m.Consent.Email, m.Consent.Sms));
            Assert.Equal(("US", "Louisville", "40202"), (m.Address.Country, m.Address.City, m.Address.Zip));
            Assert.Equal(new DateTimeOffset(2024, 4, 22, 19, 30, 0, TimeSpan.Zero), m.Source.VendorUpdatedAt);
        }

        Assert.Equal(TimeSpan.FromHours(-5), rest.Source.VendorUpdatedAt!.Value.Offset); // offsets are kept
    }

    [Fact]
    public void Shopify_WebhookOrder_MapsMoneyStatusAndCustomer()
    {
        var order = Order("shopify", Payloads.ShopifyWebhookOrder);

        Assert.Equal(("820982911946154508", "#1001", OrderStatus.Paid, "USD", 199.00m), (order.Source.VendorId, order.OrderNumber, order.Status, order.Currency, order.Total));
        Assert.Equal("706405506930370084", order.Identifiers["shopify_customer_id"]);
        Assert.Equal("+16136120707", order.Phone); // from the customer when the order has none
        var line = Assert.Single(order.Lines);
        Assert.Equal(("IPOD-342", 1m, 199.00m), (line.Sku, line.Quantity, line.UnitPrice));
    }

    [Fact]
    public void Shopify_GraphqlOrder_ReadsMoneySetsAndRefunds()
    {
        var order = Order("shopify", Payloads.ShopifyGraphqlOrder);

        Assert.Equal((OrderStatus.Paid, 199.00m, 20.00m, "USD"), (order.Status, order.Total, order.Refunded, order.Currency));
        Assert.Equal("IPOD-342", Assert.Single(order.Lines).Sku);
    }

    [Fact]
    public void Shopify_CancelledOrder_IsCancelledWhateverItsFinancialStatus()
    {
        var order = Order("shopify", Payloads.ShopifyWebhookOrder.Replace("\"cancelled_at\":null", "\"cancelled_at\":\"2024-04-23T10:00:00-05:00\"", StringComparison.Ordinal));

        Assert.Equal(OrderStatus.Cancelled, order.Status);
    }

    [Fact]
    public void WooCommerce_GuestOrder_KeepsContactPointsAndNoCustomerId()
    {
        var order = Order("woocommerce", Payloads.WooGuestOrder, region: "DE"); // the connection says the store is German

        Assert.Equal((OrderStatus.Paid, 29.35m, "EUR"), (order.Status, order.Total, order.Currency));
        Assert.Equal("john.doe@example.de", order.Email);
        Assert.Equal("+49301234567", order.Phone); // a national number, read in the connection's region
        Assert.False(order.Identifiers.ContainsKey("woocommerce_customer_id"));
        Assert.Equal(new DateTimeOffset(2024, 5, 2, 8, 15, 0, TimeSpan.Zero), order.CreatedAt);
        Assert.Equal(2, order.Lines.Count);
    }

    [Fact]
    public void WooCommerce_Customer_Maps()
    {
        var member = Member("woocommerce", Payloads.WooCustomer, region: "DE");

        Assert.Equal(("25", "john.doe@example.de", "+49301234567", "John Doe"), (member.Source.VendorId, member.Email, member.Phone, member.Name));
        Assert.Equal("25", member.Identifiers["woocommerce_customer_id"]);
    }

    [Fact]
    public void Youzan_Trade_ReadsShanghaiTimesYuanAndDropsEncryptedReceiver()
    {
        var order = Order("youzan", Payloads.YouzanTrade);

        Assert.Equal(("E20240501123456000001", OrderStatus.Completed, 258.00m, "CNY"), (order.Source.VendorId, order.Status, order.Total, order.Currency));
        Assert.Equal(new DateTimeOffset(2024, 5, 1, 10, 0, 0, TimeSpan.FromHours(8)), order.CreatedAt);
        Assert.Equal("+8613912345678", order.Phone);
        Assert.Null(order.Name); // receiver_name is encrypted
        Assert.Equal("yzOpenId_abc123", order.Identifiers["yz_open_id"]);
        Assert.Equal(("LJ-250", 2m), (order.Lines[0].Sku, order.Lines[0].Quantity));
    }

    [Fact]
    public void Youzan_CustomerRowAndPush_MapToTheSameMember()
    {
        var row = Member("youzan", Payloads.YouzanCustomerRow);
        var push = Member("youzan", Payloads.YouzanCustomerPush);

        Assert.Equal(("yzOpenId_abc123", "+8613912345678", "张伟", 120m), (row.Source.VendorId, row.Phone, row.Name, row.Points));
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1704067200), row.CreatedAt);
        Assert.Equal(("yzOpenId_abc123", "+8613912345678"), (push.Source.VendorId, push.Phone));
        Assert.False(push.Deleted);
    }

    [Fact]
    public void Tmall_Trade_KeepsPrivacySafeIdsOnly()
    {
        var order = Order("tmall", Payloads.TmallTrade);

        Assert.Equal((OrderStatus.Completed, 499.00m), (order.Status, order.Total));
        Assert.Null(order.Phone); // masked receiver data never becomes a contact point
        Assert.Equal("AAHm5d-EAAeGwJedwSHpg8bT", order.Identifiers["tmall_buyer_open_uid"]);
        Assert.Equal("ouid_77", order.Identifiers["tmall_ouid"]);
        Assert.Equal(new DateTimeOffset(2024, 5, 5, 20, 10, 0, TimeSpan.FromHours(8)), order.CreatedAt);
    }

    [Fact]
    public void Tmall_Member_CarriesTheConsentedPhoneAndLevel()
    {
        var member = Member("tmall", Payloads.TmallMember);

        Assert.Equal(("ouid_77", "+8613912345678", "黄金会员", 880m), (member.Source.VendorId, member.Phone, member.PlatformLevel, member.Points));
        Assert.Equal("omid_9f8e", member.Identifiers["tmall_omid"]);
    }

    [Fact]
    public void Source_RecordWithoutVendorId_IsInvalidWithAReason()
    {
        var rule = Rules.Defaults.Source("shopify", "order");

        var mapped = rule.MapOrder(Payloads.Parse("""{"email":"a@b.co","total_price":"1.00"}"""), "c1", rule.Context(Now));

        Assert.False(mapped.IsValid);
        Assert.Contains(mapped.Issues, i => i.IsError && i.Field == "vendorId");
    }

    [Fact]
    public void Source_TotalThatIsNotANumber_IsInvalid()
    {
        var rule = Rules.Defaults.Source("shopify", "order");

        var mapped = rule.MapOrder(Payloads.Parse("""{"id":1,"total_price":"lots","financial_status":"paid"}"""), "c1", rule.Context(Now));

        Assert.False(mapped.IsValid);
        Assert.Contains(mapped.Issues, i => i.Field == "total");
    }

    [Fact]
    public void Targets_MapAProfileForEveryCrm()
    {
        var orders = new[] { Order("shopify", Payloads.ShopifyWebhookOrder) };
        var members = new[] { Member("shopify", Payloads.ShopifyWebhookCustomer) };
        var profile = Assert.Single(new ProfileEngine(Rules.Defaults).Build(members, orders, Now).Profiles);
        var view = profile.View();
        var ctx = new EvalContext(Now);

        var zoho = Rules.Defaults.Target("zoho-crm", "Contacts").Map(view, ctx);
        Assert.True(zoho.IsValid);
        Assert.Equal("bob.norman@mail.example.net", zoho.Payload.Value<string>("Email"));
        Assert.Equal(("Bob", "Norman", "+16136120707"), (zoho.Payload.Value<string>("First_Name"), zoho.Payload.Value<string>("Last_Name"), zoho.Payload.Value<string>("Mobile")));
        Assert.Equal("2024-04-22", zoho.Payload.Value<string>("Last_Order_Date"));
        Assert.Equal(("Active", 199.00m, 1), (zoho.Payload.Value<string>("Lifecycle_Stage"), zoho.Payload.Value<decimal>("Total_Spent"), zoho.Payload.Value<int>("Order_Count")));
        Assert.False(zoho.Payload.Value<bool>("Email_Opt_Out"));
        Assert.All(zoho.Payload.Properties(), p => Assert.Contains(p.Name, Rules.Defaults.Target("zoho-crm", "Contacts").Owned));

        var hubspot = Rules.Defaults.Target("hubspot", "contacts").Map(view, ctx);
        Assert.Equal(("bob.norman@mail.example.net", "active"), (hubspot.Payload.Value<string>("email"), hubspot.Payload.Value<string>("hub_lifecycle_stage")));
        Assert.Null(hubspot.Payload["lifecyclestage"]); // never the built-in, forward-only property

        var fxiaoke = Rules.Defaults.Target("fxiaoke", "ContactObj").Map(view, ctx);
        Assert.Equal(profile.Id, fxiaoke.Payload.Value<string>("hub_profile_id__c"));
        Assert.Equal("2024-04-23", fxiaoke.Payload.Value<string>("last_order_date__c")); // 19:30 UTC is the 23rd in Shanghai
    }

    [Fact]
    public void Target_ChineseNameInOneField_GoesToLastName()
    {
        var members = new[] { Member("youzan", Payloads.YouzanCustomerRow) };
        var view = Assert.Single(new ProfileEngine(Rules.Defaults).Build(members, [], Now).Profiles).View();

        var zoho = Rules.Defaults.Target("zoho-crm", "Contacts").Map(view, new EvalContext(Now));

        Assert.Equal("张伟", zoho.Payload.Value<string>("Last_Name"));
        // No email: Zoho matches on the fallback key Hub_Profile_Id (a unique field); HubSpot has only email, so it is invalid there.
        Assert.True(zoho.IsValid);
        Assert.True(string.IsNullOrEmpty(zoho.Payload["Email"]?.ToString()), "Email: " + zoho.Payload["Email"]);
        Assert.Equal(view.Value<string>("id"), zoho.Payload.Value<string>("Hub_Profile_Id"));
        var hubspot = Rules.Defaults.Target("hubspot", "contacts").Map(view, new EvalContext(Now));
        Assert.False(hubspot.IsValid);
        Assert.Contains(hubspot.Issues, i => i.Field == "email");
    }

    [Fact]
    public void Target_Hash_IsStableAndChangesWithContent()
    {
        var a = Payloads.Parse("""{"Email":"a@b.co","Order_Count":1}""");
        var b = Payloads.Parse("""{"Order_Count":1,"Email":"a@b.co"}""");

        Assert.Equal(TargetRule.Hash(a, ["VIP"]), TargetRule.Hash(b, ["VIP"]));
        Assert.NotEqual(TargetRule.Hash(a, ["VIP"]), TargetRule.Hash(a, []));
        b["Order_Count"] = 2;
        Assert.NotEqual(TargetRule.Hash(a, []), TargetRule.Hash(b, []));
    }
}

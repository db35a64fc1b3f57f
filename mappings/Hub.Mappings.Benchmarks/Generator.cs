using System.Globalization;
using System.Text;
using Bogus;

namespace Hub.Mappings.Benchmarks;

/// <summary>
/// Deterministic raw vendor JSON for two stores that share customers: a Shopify store (customers with email and
/// phone, webhook-shaped orders) and a Youzan store (SCRM customers, trades.sold.get trades). A share of the people
/// buy in both stores, linked only by their phone number, as in real multi-store merchants.
/// </summary>
public sealed class Generator
{
    private readonly Faker _faker;
    private readonly int _people;
    private readonly int _shopifyEnd;
    private readonly int _youzanStart;

    /// <param name="members">Member records across both stores.</param>
    /// <param name="overlap">Share of people present in both stores (0.3 = 30%).</param>
    public Generator(int members, double overlap, int seed = 42)
    {
        Randomizer.Seed = new Random(seed);
        _faker = new Faker("en");
        // Each store holds (1 + overlap) / 2 of the people; members = people × (1 + overlap).
        _people = (int)Math.Round(members / (1 + overlap));
        var each = (1 + overlap) / 2;
        _shopifyEnd = (int)(_people * each);
        _youzanStart = _people - (int)(_people * each);
    }

    public int People => _people;
    public int ShopifyMembers => _shopifyEnd;
    public int YouzanMembers => _people - _youzanStart;
    public int OverlappingPeople => _shopifyEnd - _youzanStart;

    private static string Phone(int person) => "+86139" + (10_000_000 + person).ToString(CultureInfo.InvariantCulture);

    private static string Email(int person) => $"customer{person}@mail{person % 97}.example.net";

    public string ShopifyCustomer(int person)
    {
        var first = _faker.Name.FirstName();
        var last = _faker.Name.LastName();
        return $$$"""{"id":{{{5_000_000_000L + person}}},"email":"{{{Email(person)}}}","created_at":"2023-01-0{{{1 + person % 9}}}T10:00:00-05:00","updated_at":"2024-0{{{1 + person % 9}}}-15T14:30:00-05:00","first_name":"{{{first}}}","last_name":"{{{last}}}","state":"enabled","phone":"{{{Phone(person)}}}","tags":"{{{(person % 5 == 0 ? "vip, newsletter" : "")}}}","email_marketing_consent":{"state":"{{{(person % 3 == 0 ? "subscribed" : "not_subscribed")}}}"},"default_address":{"address1":"{{{person}}} Main Street","city":"Louisville","province":"Kentucky","country_code":"US","zip":"40202"}}""";
    }

    public string YouzanCustomer(int person) =>
        $$$"""{"yz_open_id":"yz{{{person:D9}}}","mobile":"{{{Phone(person)[3..]}}}","show_name":"会员{{{person}}}","name":"张{{{person % 1000}}}","gender":{{{person % 2}}},"is_member":1,"points":{{{person % 500}}},"created_at":{{{1_700_000_000 + person}}}}""";

    /// <summary>The n-th order: 60% Shopify, 40% Youzan, each for a customer of that store.</summary>
    public (string Platform, string Json) Order(int n)
    {
        var random = new Random(n * 7919 + 17);
        var day = 1 + random.Next(0, 365);
        var created = new DateTimeOffset(2025, 1, 1, 8, 0, 0, TimeSpan.Zero).AddDays(day).AddMinutes(random.Next(0, 1440));
        var total = (decimal)random.Next(500, 90_000) / 100m;
        if (n % 5 < 3)
        {
            var person = random.Next(0, _shopifyEnd);
            var status = random.Next(0, 20) switch { 0 => "refunded", 1 => "pending", _ => "paid" };
            return ("shopify", $$$"""{"id":{{{9_000_000_000L + n}}},"name":"#{{{1000 + n}}}","email":"{{{Email(person)}}}","phone":null,"created_at":"{{{created:yyyy-MM-ddTHH:mm:ss}}}-05:00","updated_at":"{{{created.AddMinutes(5):yyyy-MM-ddTHH:mm:ss}}}-05:00","processed_at":"{{{created:yyyy-MM-ddTHH:mm:ss}}}-05:00","cancelled_at":null,"currency":"USD","total_price":"{{{total.ToString(CultureInfo.InvariantCulture)}}}","financial_status":"{{{status}}}","fulfillment_status":null,"tags":"","customer":{"id":{{{5_000_000_000L + person}}},"email":"{{{Email(person)}}}","first_name":"A","last_name":"B","phone":"{{{Phone(person)}}}"},"line_items":[{"sku":"SKU-{{{n % 300}}}","title":"Product {{{n % 300}}}","quantity":{{{1 + n % 3}}},"price":"{{{total.ToString(CultureInfo.InvariantCulture)}}}"}]}""");
        }

        var buyer = random.Next(_youzanStart, _people);
        var state = random.Next(0, 20) switch { 0 => "TRADE_CLOSED", 1 => "WAIT_BUYER_PAY", _ => "TRADE_SUCCESS" };
        var local = created.ToOffset(TimeSpan.FromHours(8));
        return ("youzan", $$$"""{"full_order_info":{"order_info":{"tid":"E{{{n:D20}}}","status":"{{{state}}}","created":"{{{local:yyyy-MM-dd HH:mm:ss}}}","update_time":"{{{local.AddMinutes(5):yyyy-MM-dd HH:mm:ss}}}","pay_time":"{{{local:yyyy-MM-dd HH:mm:ss}}}"},"buyer_info":{"yz_open_id":"yz{{{buyer:D9}}}","buyer_phone":"{{{Phone(buyer)[3..]}}}","outer_user_id":""},"address_info":{"receiver_name":"$uhqbqg15Dn5slYolRHAzZw==$1$","receiver_tel":"$dGVsZXBob25l$1$","delivery_province":"浙江省","delivery_city":"杭州市"},"pay_info":{"total_fee":"{{{total.ToString(CultureInfo.InvariantCulture)}}}","payment":"{{{total.ToString(CultureInfo.InvariantCulture)}}}","post_fee":"0.00"},"orders":[{"title":"商品{{{n % 300}}}","num":{{{1 + n % 3}}},"price":"{{{total.ToString(CultureInfo.InvariantCulture)}}}","outer_sku_id":"SKU-{{{n % 300}}}"}]}}""");
    }

    public static byte[] Utf8(string json) => Encoding.UTF8.GetBytes(json);
}

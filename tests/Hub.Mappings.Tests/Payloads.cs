using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Hub.Mappings.Tests;

/// <summary>Realistic vendor payloads, shaped as store-apis.md documents them (minimal but complete where it matters).</summary>
internal static class Payloads
{
    public static JObject Parse(string text)
    {
        using var reader = new JsonTextReader(new StringReader(text)) { DateParseHandling = DateParseHandling.None, FloatParseHandling = FloatParseHandling.Decimal };
        return JObject.Load(reader);
    }

    public const string ShopifyWebhookCustomer = """
        {"id":706405506930370084,"email":"Bob.Norman@Mail.Example.net","created_at":"2024-03-01T10:00:00-05:00","updated_at":"2024-04-22T14:30:00-05:00",
         "first_name":"Bob","last_name":"Norman","state":"enabled","phone":"+16136120707","tags":"vip, newsletter",
         "email_marketing_consent":{"state":"subscribed","opt_in_level":"single_opt_in","consent_updated_at":"2024-03-01T10:00:00-05:00"},
         "sms_marketing_consent":{"state":"not_subscribed","opt_in_level":"single_opt_in","consent_collected_from":"OTHER"},
         "default_address":{"address1":"Chestnut Street 92","city":"Louisville","province":"Kentucky","country_code":"US","zip":"40202","phone":"555-625-1199"}}
        """;

    public const string ShopifyGraphqlCustomer = """
        {"id":"gid://shopify/Customer/706405506930370084","legacyResourceId":"706405506930370084","firstName":"Bob","lastName":"Norman",
         "defaultEmailAddress":{"emailAddress":"bob.norman@mail.example.net"},"defaultPhoneNumber":{"phoneNumber":"+16136120707"},
         "createdAt":"2024-03-01T15:00:00Z","updatedAt":"2024-04-22T19:30:00Z","tags":["vip","newsletter"],
         "emailMarketingConsent":{"marketingState":"SUBSCRIBED"},"smsMarketingConsent":{"marketingState":"NOT_SUBSCRIBED"},
         "defaultAddress":{"address1":"Chestnut Street 92","city":"Louisville","province":"Kentucky","countryCodeV2":"US","zip":"40202"}}
        """;

    public const string ShopifyWebhookOrder = """
        {"id":820982911946154508,"name":"#1001","email":"bob.norman@mail.example.net","phone":null,"created_at":"2024-04-22T14:30:00-05:00",
         "updated_at":"2024-04-22T14:35:00-05:00","processed_at":"2024-04-22T14:30:00-05:00","cancelled_at":null,"currency":"USD",
         "total_price":"199.00","financial_status":"paid","fulfillment_status":null,"tags":"",
         "customer":{"id":706405506930370084,"email":"bob.norman@mail.example.net","first_name":"Bob","last_name":"Norman","phone":"+16136120707"},
         "line_items":[{"sku":"IPOD-342","title":"IPod Nano","quantity":1,"price":"199.00"}]}
        """;

    public const string ShopifyGraphqlOrder = """
        {"id":"gid://shopify/Order/820982911946154508","legacyResourceId":"820982911946154508","name":"#1001","email":"bob.norman@mail.example.net",
         "createdAt":"2024-04-22T19:30:00Z","updatedAt":"2024-04-22T19:35:00Z","processedAt":"2024-04-22T19:30:00Z","cancelledAt":null,
         "displayFinancialStatus":"PARTIALLY_REFUNDED","totalPriceSet":{"shopMoney":{"amount":"199.00","currencyCode":"USD"}},
         "totalRefundedSet":{"shopMoney":{"amount":"20.00","currencyCode":"USD"}},
         "customer":{"legacyResourceId":"706405506930370084"},
         "lineItems":{"nodes":[{"sku":"IPOD-342","title":"IPod Nano","quantity":1,"originalUnitPriceSet":{"shopMoney":{"amount":"199.00"}}}]}}
        """;

    public const string WooGuestOrder = """
        {"id":727,"number":"727","status":"processing","currency":"EUR","date_created_gmt":"2024-05-02T08:15:00","date_modified_gmt":"2024-05-02T08:20:00",
         "date_paid_gmt":"2024-05-02T08:16:00","total":"29.35","customer_id":0,
         "billing":{"first_name":"John","last_name":"Doe","email":"JOHN.DOE@example.de","phone":"030 1234567","country":"DE","city":"Berlin"},
         "line_items":[{"name":"Woo Single #1","sku":"W1","quantity":2,"price":9.5},{"name":"Ship Your Idea","sku":"W2","quantity":1,"price":10.35}]}
        """;

    public const string WooCustomer = """
        {"id":25,"date_created_gmt":"2024-01-10T12:00:00","date_modified_gmt":"2024-05-02T08:00:00","email":"john.doe@example.de","first_name":"John","last_name":"Doe",
         "role":"customer","billing":{"phone":"+49 30 1234567","country":"DE","state":"BE","city":"Berlin","address_1":"Unter den Linden 1","postcode":"10117"}}
        """;

    public const string YouzanTrade = """
        {"full_order_info":{"order_info":{"tid":"E20240501123456000001","status":"TRADE_SUCCESS","created":"2024-05-01 10:00:00","update_time":"2024-05-03 18:00:00","pay_time":"2024-05-01 10:01:00"},
          "buyer_info":{"yz_open_id":"yzOpenId_abc123","buyer_phone":"13912345678","outer_user_id":""},
          "address_info":{"receiver_name":"$uhqbqg15Dn5slYolRHAzZw==$1$","receiver_tel":"$dGVsZXBob25l$1$","delivery_province":"浙江省","delivery_city":"杭州市"},
          "pay_info":{"total_fee":"268.00","payment":"258.00","post_fee":"0.00"},
          "orders":[{"title":"龙井茶 250g","num":2,"price":"129.00","outer_sku_id":"LJ-250"}]}}
        """;

    public const string YouzanCustomerRow = """
        {"yz_open_id":"yzOpenId_abc123","mobile":"13912345678","show_name":"小张","name":"张伟","gender":1,"is_member":1,"trade_count":3,"points":120,"created_at":1704067200}
        """;

    public const string YouzanCustomerPush = """
        {"account_id":"yzOpenId_abc123","mobile":"13912345678","is_member":true,"is_log_off":false}
        """;

    public const string TmallTrade = """
        {"tid":3512345678901234567,"status":"TRADE_FINISHED","created":"2024-05-05 20:10:00","modified":"2024-05-09 09:00:00","pay_time":"2024-05-05 20:11:00",
         "payment":"499.00","total_fee":"520.00","buyer_nick":"t**1","buyer_open_uid":"AAHm5d-EAAeGwJedwSHpg8bT","ouid":"ouid_77","oaid":"1Q2w3E4r5T6y","receiver_mobile":"*******1234",
         "orders":{"order":[{"title":"护肤套装","num":1,"price":"499.00","outer_sku_id":"SK-1"}]}}
        """;

    public const string TmallMember = """
        {"ouid":"ouid_77","omid":"omid_9f8e","mobile":"13912345678","grade":2,"grade_name":"黄金会员","points":880,"bind_time":"2024-02-01 12:00:00"}
        """;
}

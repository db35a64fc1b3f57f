using System.Globalization;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Hub.Connectors.Shopify;

/// <summary>
/// Shopify webhook verification and parsing. The signature is base64(HMAC-SHA256(client secret, raw body)) in
/// <c>X-Shopify-Hmac-Sha256</c>, compared in constant time; the old secret is accepted too during a rotation (Shopify
/// can sign with it for up to an hour). Duplicates share <c>X-Shopify-Event-Id</c>, so the dedupe key is
/// (topic, event id); <c>X-Shopify-Webhook-Id</c> is kept for logs. A delivery for another shop than the connection's
/// is refused even when correctly signed: one app secret signs every shop's webhooks.
/// https://shopify.dev/docs/apps/build/webhooks/verify-deliveries , https://shopify.dev/docs/apps/build/webhooks/ignore-duplicates ,
/// https://shopify.dev/docs/apps/build/privacy-law-compliance
/// </summary>
public static class ShopifyWebhooks
{
    public const string HmacHeader = "X-Shopify-Hmac-Sha256";
    public const string TopicHeader = "X-Shopify-Topic";
    public const string ShopHeader = "X-Shopify-Shop-Domain";
    public const string EventIdHeader = "X-Shopify-Event-Id";
    public const string WebhookIdHeader = "X-Shopify-Webhook-Id";
    public const string TriggeredAtHeader = "X-Shopify-Triggered-At";
    public const string ApiVersionHeader = "X-Shopify-API-Version";

    /// <summary>Topics the Hub subscribes to, and what each means for it.</summary>
    public static readonly IReadOnlyDictionary<string, (WebhookEventKind Kind, string? Stream)> Topics = new Dictionary<string, (WebhookEventKind, string?)>(StringComparer.Ordinal)
    {
        ["orders/create"] = (WebhookEventKind.Upsert, "orders"),
        ["orders/updated"] = (WebhookEventKind.Upsert, "orders"),
        ["orders/paid"] = (WebhookEventKind.Upsert, "orders"),
        ["orders/cancelled"] = (WebhookEventKind.Upsert, "orders"),
        ["orders/delete"] = (WebhookEventKind.Delete, "orders"),
        ["customers/create"] = (WebhookEventKind.Upsert, "customers"),
        ["customers/update"] = (WebhookEventKind.Upsert, "customers"),
        ["customers/delete"] = (WebhookEventKind.Delete, "customers"),
        ["customers/data_request"] = (WebhookEventKind.CustomerDataRequest, "customers"),
        ["customers/redact"] = (WebhookEventKind.CustomerRedact, "customers"),
        ["shop/redact"] = (WebhookEventKind.ShopRedact, null),
        ["app/uninstalled"] = (WebhookEventKind.Uninstalled, null),
    };

    public static WebhookBatch Parse(WebhookRequest request, string shop, IEnumerable<string?> secrets)
    {
        ArgumentNullException.ThrowIfNull(request);
        var signature = request.Header(HmacHeader) ?? throw new WebhookUnauthorizedException($"The delivery has no {HmacHeader} header.");
        var valid = false;
        foreach (var secret in secrets)
        {
            valid |= WebhookSignature.VerifyHmacSha256Base64(request.Body.Span, secret, signature);
        }

        if (!valid)
        {
            throw new WebhookUnauthorizedException("The delivery's HMAC does not match the app's secret.");
        }

        if (request.Header(ShopHeader) is { } from && !string.Equals(from.Trim(), shop, StringComparison.OrdinalIgnoreCase))
        {
            throw new WebhookUnauthorizedException($"The delivery is for shop {from}, not this connection's shop.");
        }

        var topic = request.Header(TopicHeader) ?? throw new ConnectorValidationException($"The delivery has no {TopicHeader} header.");
        var eventId = request.Header(EventIdHeader) ?? request.Header(WebhookIdHeader)
            ?? throw new ConnectorValidationException($"The delivery has neither {EventIdHeader} nor {WebhookIdHeader}.");
        var record = ParseBody(request.Body);
        if (!Topics.TryGetValue(topic, out var meaning))
        {
            return new WebhookBatch([]); // a topic the Hub does not use: acknowledge so Shopify keeps the subscription
        }

        if (meaning.Kind is WebhookEventKind.Upsert or WebhookEventKind.Delete && record["id"] is null)
        {
            throw new ConnectorValidationException($"The {topic} delivery has no id.");
        }

        var occurred = Time(record.Value<string>("updated_at")) ?? Time(request.Header(TriggeredAtHeader));
        var evt = new WebhookEvent(topic, $"{topic}|{eventId}", meaning.Kind, meaning.Stream, [record], occurred)
        {
            DeliveryId = request.Header(WebhookIdHeader),
        };
        return new WebhookBatch([evt]);
    }

    private static JObject ParseBody(ReadOnlyMemory<byte> body)
    {
        try
        {
            using var reader = new JsonTextReader(new StreamReader(new MemoryStream(body.ToArray()))) { DateParseHandling = DateParseHandling.None, FloatParseHandling = FloatParseHandling.Decimal };
            var token = JToken.ReadFrom(reader);
            return token as JObject ?? throw new ConnectorValidationException("The delivery's body is not a JSON object.");
        }
        catch (JsonException ex)
        {
            throw new ConnectorValidationException($"The delivery's body is not JSON: {ex.Message}", ex);
        }
    }

    private static DateTimeOffset? Time(string? value) =>
        value is not null && DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var at) ? at : null;
}

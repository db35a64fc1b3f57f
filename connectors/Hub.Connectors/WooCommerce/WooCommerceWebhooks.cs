using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Hub.Connectors.WooCommerce;

/// <summary>
/// WooCommerce webhooks: <c>X-WC-Webhook-Signature</c> = base64(HMAC-SHA256(webhook secret, raw body)); the creation
/// ping is an unsigned form body <c>webhook_id=N</c> that must get a 2xx or WooCommerce keeps the webhook inactive.
/// WooCommerce never retries a failed delivery and disables the webhook after more than five failures in a row, so
/// the scheduled pull is what guarantees nothing is lost. Deliveries carry no event id: the dedupe key is the
/// record's id and modified time, i.e. the same version of the same record.
/// https://woocommerce.github.io/woocommerce-rest-api-docs/#webhooks ,
/// https://github.com/woocommerce/woocommerce/blob/trunk/plugins/woocommerce/includes/class-wc-webhook.php
/// </summary>
public static partial class WooCommerceWebhooks
{
    public const string SignatureHeader = "X-WC-Webhook-Signature";
    public const string TopicHeader = "X-WC-Webhook-Topic";
    public const string SourceHeader = "X-WC-Webhook-Source";
    public const string DeliveryIdHeader = "X-WC-Webhook-Delivery-ID";
    public const string WebhookIdHeader = "X-WC-Webhook-ID";

    public static readonly IReadOnlyDictionary<string, (WebhookEventKind Kind, string Stream)> Topics = new Dictionary<string, (WebhookEventKind, string)>(StringComparer.Ordinal)
    {
        ["order.created"] = (WebhookEventKind.Upsert, "orders"),
        ["order.updated"] = (WebhookEventKind.Upsert, "orders"),
        ["order.restored"] = (WebhookEventKind.Upsert, "orders"),
        ["order.deleted"] = (WebhookEventKind.Delete, "orders"),
        ["customer.created"] = (WebhookEventKind.Upsert, "customers"),
        ["customer.updated"] = (WebhookEventKind.Upsert, "customers"),
        ["customer.deleted"] = (WebhookEventKind.Delete, "customers"),
    };

    public static WebhookBatch Parse(WebhookRequest request, string site, string? secret)
    {
        ArgumentNullException.ThrowIfNull(request);
        var signature = request.Header(SignatureHeader);
        if (signature is null && Ping().IsMatch(Encoding.UTF8.GetString(request.Body.Span)))
        {
            return WebhookBatch.Ping; // unsigned by design; acknowledging it changes nothing
        }

        if (signature is null)
        {
            throw new WebhookUnauthorizedException($"The delivery has no {SignatureHeader} header.");
        }

        if (string.IsNullOrEmpty(secret))
        {
            throw new WebhookUnauthorizedException("The connection has no webhook secret to verify deliveries with.");
        }

        if (!WebhookSignature.VerifyHmacSha256Base64(request.Body.Span, secret, signature))
        {
            throw new WebhookUnauthorizedException("The delivery's signature does not match the webhook secret.");
        }

        if (request.Header(SourceHeader) is { } source && !SameSite(source, site))
        {
            throw new WebhookUnauthorizedException($"The delivery comes from {source}, not this connection's store.");
        }

        var topic = request.Header(TopicHeader) ?? throw new ConnectorValidationException($"The delivery has no {TopicHeader} header.");
        JObject record;
        try
        {
            using var reader = new JsonTextReader(new StreamReader(new MemoryStream(request.Body.ToArray()))) { DateParseHandling = DateParseHandling.None, FloatParseHandling = FloatParseHandling.Decimal };
            record = JToken.ReadFrom(reader) as JObject ?? throw new ConnectorValidationException("The delivery's body is not a JSON object.");
        }
        catch (JsonException ex)
        {
            throw new ConnectorValidationException($"The delivery's body is not JSON: {ex.Message}", ex);
        }

        if (!Topics.TryGetValue(topic, out var meaning))
        {
            return new WebhookBatch([]);
        }

        var id = record["id"]?.ToString(Formatting.None) ?? throw new ConnectorValidationException($"The {topic} delivery has no id.");
        var modified = WooCommerceConnector.Modified(record);
        var version = modified?.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture) ?? request.Header(DeliveryIdHeader) ?? "deleted";
        var evt = new WebhookEvent(topic, $"{topic}|{id}|{version}", meaning.Kind, meaning.Stream, [record], modified)
        {
            DeliveryId = request.Header(DeliveryIdHeader),
        };
        return new WebhookBatch([evt]);
    }

    private static bool SameSite(string source, string site) =>
        Uri.TryCreate(source, UriKind.Absolute, out var a) && Uri.TryCreate(site, UriKind.Absolute, out var b) &&
        string.Equals(a.Host, b.Host, StringComparison.OrdinalIgnoreCase) && a.Port == b.Port &&
        b.AbsolutePath.TrimEnd('/').StartsWith(a.AbsolutePath.TrimEnd('/'), StringComparison.OrdinalIgnoreCase);

    [GeneratedRegex(@"^webhook_id=\d+$")]
    private static partial Regex Ping();
}

using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Hub.Connectors.Youzan;

/// <summary>
/// 有赞 push messages: <c>Event-Sign</c> = md5_hex(client_id + raw body + client_secret), compared in constant time on the
/// raw bytes; <c>msg</c> is URL-encoded JSON; the dedupe key is <c>msg_id</c> and <c>version</c> orders messages per record.
/// A <c>{"test":true}</c> health probe is acknowledged. Youzan wants <c>{"code":0,"msg":"success"}</c> within 5 s and
/// re-pushes anything else. https://doc.youzanyun.com/ (消息推送)
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Security", "CA5351:Do not use broken cryptographic algorithms", Justification = "Youzan defines Event-Sign as MD5; the Hub verifies what the platform sends.")]
public static class YouzanPush
{
    public const string SignHeader = "Event-Sign";
    public const string TypeHeader = "Event-Type";
    public const string Reply = """{"code":0,"msg":"success"}""";

    public static WebhookBatch Parse(WebhookRequest request, string? clientId, string? clientSecret, string kdtId)
    {
        ArgumentNullException.ThrowIfNull(request);
        JObject body;
        try
        {
            using var reader = new JsonTextReader(new StreamReader(new MemoryStream(request.Body.ToArray()), Encoding.UTF8)) { DateParseHandling = DateParseHandling.None };
            body = JToken.ReadFrom(reader) as JObject ?? throw new ConnectorValidationException("The push body is not a JSON object.");
        }
        catch (JsonException ex)
        {
            throw new ConnectorValidationException($"The push body is not JSON: {ex.Message}", ex);
        }

        if (body.Value<bool?>("test") == true && body.Count <= 2)
        {
            return WebhookBatch.Ping with { ReplyJson = Reply }; // the health probe
        }

        var sign = request.Header(SignHeader) ?? throw new WebhookUnauthorizedException($"The push has no {SignHeader} header.");
        if (string.IsNullOrEmpty(clientId) || string.IsNullOrEmpty(clientSecret))
        {
            throw new WebhookUnauthorizedException("The connection has no client id and secret to verify pushes with.");
        }

        var expected = MD5.HashData([.. Encoding.UTF8.GetBytes(clientId), .. request.Body.Span, .. Encoding.UTF8.GetBytes(clientSecret)]);
        byte[] given;
        try
        {
            given = Convert.FromHexString(sign);
        }
        catch (FormatException)
        {
            throw new WebhookUnauthorizedException("The push's Event-Sign is not hex.");
        }

        if (!CryptographicOperations.FixedTimeEquals(expected, given))
        {
            throw new WebhookUnauthorizedException("The push's Event-Sign does not match the app's secret.");
        }

        if (body.Value<string>("kdt_id") is { } shop && shop != kdtId)
        {
            throw new WebhookUnauthorizedException($"The push is for shop {shop}, not this connection's shop.");
        }

        var type = body.Value<string>("type") ?? request.Header(TypeHeader) ?? throw new ConnectorValidationException("The push has no type.");
        var msgId = body.Value<string>("msg_id") ?? body.Value<string>("id") ?? throw new ConnectorValidationException("The push has no msg_id.");
        JObject msg = body["msg"] switch
        {
            JObject o => o,
            JValue { Type: JTokenType.String } s => ParseMsg(s.ToString()),
            _ => throw new ConnectorValidationException("The push has no msg."),
        };
        var version = body.Value<long?>("version");
        var occurred = YouzanConnector.Epoch(version is null ? null : new JValue(version.Value));
        var (kind, stream) = type switch
        {
            "SCRM_CUSTOMER_EVENT" => (msg.Value<bool?>("is_log_off") == true ? WebhookEventKind.Delete : WebhookEventKind.Upsert, "customers"),
            _ when type.StartsWith("trade_", StringComparison.Ordinal) => (WebhookEventKind.Upsert, "orders"),
            _ => (WebhookEventKind.Upsert, (string?)null),
        };
        if (stream is null)
        {
            return new WebhookBatch([]) { ReplyJson = Reply };
        }

        var evt = new WebhookEvent(type, msgId, kind, stream, [msg], occurred) { DeliveryId = body.Value<string>("sendCount") };
        return new WebhookBatch([evt]) { ReplyJson = Reply };
    }

    private static JObject ParseMsg(string encoded)
    {
        try
        {
            var json = WebUtility.UrlDecode(encoded);
            using var reader = new JsonTextReader(new StringReader(json)) { DateParseHandling = DateParseHandling.None };
            return JToken.ReadFrom(reader) as JObject ?? throw new ConnectorValidationException("The push's msg is not a JSON object.");
        }
        catch (JsonException ex)
        {
            throw new ConnectorValidationException($"The push's msg is not URL-encoded JSON: {ex.Message}", ex);
        }
    }

    /// <summary>The sign a push should carry, for senders and tests.</summary>
    public static string Sign(string clientId, ReadOnlySpan<byte> body, string clientSecret) =>
        Convert.ToHexStringLower(MD5.HashData([.. Encoding.UTF8.GetBytes(clientId), .. body, .. Encoding.UTF8.GetBytes(clientSecret)]));

    internal static string Invariant(long value) => value.ToString(CultureInfo.InvariantCulture);
}

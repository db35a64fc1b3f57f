using System.Security.Cryptography;
using System.Text;
using Newtonsoft.Json.Linq;

namespace Hub.Connectors;

/// <summary>A webhook delivery exactly as it arrived: the raw body bytes (signatures are computed on them) and headers.</summary>
public sealed class WebhookRequest
{
    public WebhookRequest(ConnectionContext connection, ReadOnlyMemory<byte> body, IEnumerable<KeyValuePair<string, string>> headers)
    {
        ArgumentNullException.ThrowIfNull(headers);
        Connection = connection;
        Body = body;
        var map = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in headers)
        {
            map[name] = value;
        }

        Headers = map;
    }

    public ConnectionContext Connection { get; }

    public ReadOnlyMemory<byte> Body { get; }

    /// <summary>Header names compare case-insensitively, as HTTP defines.</summary>
    public IReadOnlyDictionary<string, string> Headers { get; }

    public string? Header(string name) => Headers.TryGetValue(name, out var v) && !string.IsNullOrEmpty(v) ? v : null;
}

/// <summary>What a delivery contained.</summary>
/// <param name="Events">Zero or more events (a ping has none).</param>
/// <param name="IsPing">A platform's test delivery (WooCommerce's creation ping): answer 200 and do nothing else.</param>
public sealed record WebhookBatch(IReadOnlyList<WebhookEvent> Events, bool IsPing = false)
{
    /// <summary>Body the platform expects back (Youzan wants <c>{"code":0,"msg":"success"}</c>); null for an empty 200.</summary>
    public string? ReplyJson { get; init; }

    public static WebhookBatch Ping { get; } = new([], IsPing: true);
}

/// <summary>One event of a delivery.</summary>
/// <param name="Topic">The platform's topic (<c>orders/updated</c>, <c>order.updated</c>).</param>
/// <param name="EventId">Dedupe key: the same id means the same event delivered again.</param>
/// <param name="Kind">What the Hub does with it.</param>
/// <param name="Stream">The pull stream the records belong to (<c>orders</c>, <c>customers</c>), when any.</param>
/// <param name="Records">Raw records in the platform's shape, as the source rules read them.</param>
/// <param name="OccurredAt">When the platform says it happened (for ordering out-of-order deliveries).</param>
public sealed record WebhookEvent(string Topic, string EventId, WebhookEventKind Kind, string? Stream, IReadOnlyList<JObject> Records, DateTimeOffset? OccurredAt)
{
    /// <summary>The platform's id of this delivery attempt, for logs (Shopify <c>X-Shopify-Webhook-Id</c>).</summary>
    public string? DeliveryId { get; init; }
}

public enum WebhookEventKind
{
    /// <summary>A record was created or changed: store the newer version.</summary>
    Upsert,

    /// <summary>A record was deleted on the platform (records carry only the id).</summary>
    Delete,

    /// <summary>Privacy law: erase one customer's data (Shopify <c>customers/redact</c>).</summary>
    CustomerRedact,

    /// <summary>Privacy law: the merchant must be sent what the Hub holds about a customer.</summary>
    CustomerDataRequest,

    /// <summary>Privacy law: erase everything the Hub holds for the shop (Shopify <c>shop/redact</c>).</summary>
    ShopRedact,

    /// <summary>The merchant removed the app: stop syncing, keep data until the shop's redact.</summary>
    Uninstalled,
}

/// <summary>The delivery's signature is missing or wrong: answer 401, store nothing.</summary>
public sealed class WebhookUnauthorizedException(string message) : ConnectorValidationException(message);

/// <summary>HMAC signatures compared in constant time, as every platform's webhook verification needs.</summary>
public static class WebhookSignature
{
    /// <summary>True when <paramref name="base64Signature"/> is base64(HMAC-SHA256(secret, body)).</summary>
    public static bool VerifyHmacSha256Base64(ReadOnlySpan<byte> body, string? secret, string? base64Signature)
    {
        if (string.IsNullOrEmpty(secret) || string.IsNullOrEmpty(base64Signature))
        {
            return false;
        }

        Span<byte> given = stackalloc byte[64];
        if (!Convert.TryFromBase64String(base64Signature.Trim(), given, out var written) || written != HMACSHA256.HashSizeInBytes)
        {
            return false;
        }

        Span<byte> expected = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body, expected);
        return CryptographicOperations.FixedTimeEquals(expected, given[..written]);
    }

    /// <summary>True when <paramref name="hexSignature"/> is hex(HMAC-SHA256(secret, message)), either case.</summary>
    public static bool VerifyHmacSha256Hex(ReadOnlySpan<byte> message, string? secret, string? hexSignature)
    {
        if (string.IsNullOrEmpty(secret) || hexSignature is not { Length: HMACSHA256.HashSizeInBytes * 2 })
        {
            return false;
        }

        byte[] given;
        try
        {
            given = Convert.FromHexString(hexSignature);
        }
        catch (FormatException)
        {
            return false;
        }

        Span<byte> expected = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), message, expected);
        return CryptographicOperations.FixedTimeEquals(expected, given);
    }

    public static string HmacSha256Base64(ReadOnlySpan<byte> body, string secret) =>
        Convert.ToBase64String(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body));

    public static string HmacSha256Hex(ReadOnlySpan<byte> message, string secret) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), message));
}

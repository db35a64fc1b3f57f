using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Hub.Connectors.Http;
using Microsoft.Extensions.Options;
using Newtonsoft.Json.Linq;

namespace Hub.Connectors.Shopify;

/// <summary>
/// Shopify OAuth for a public app: shop-domain validation, authorize redirect with a state nonce, callback HMAC
/// (hex, sorted query) with a timestamp window, code exchange for an expiring offline token (<c>expiring=1</c>),
/// and the refresh grant, which also replaces the refresh token.
/// https://shopify.dev/docs/apps/build/authentication-authorization/get-access-tokens/authorization-code-grant ,
/// https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/offline-access-tokens
/// </summary>
public sealed partial class ShopifyAuth(IShopifyOAuthApi api, IOptions<ShopifyOptions> options, TimeProvider clock)
{
    private ShopifyOptions Options => options.Value;

    /// <summary>Normalises a shop given as a domain, a URL or an admin.shopify.com/store/{handle} link.</summary>
    /// <exception cref="ConnectorValidationException">Not a Shopify shop domain.</exception>
    public static string NormalizeShop(string? input)
    {
        var value = (input ?? string.Empty).Trim().ToLowerInvariant();
        if (value.StartsWith("https://", StringComparison.Ordinal))
        {
            value = value["https://".Length..];
        }

        value = value.TrimEnd('/');
        var admin = AdminStoreLink().Match(value);
        if (admin.Success)
        {
            value = admin.Groups[1].Value + ".myshopify.com";
        }

        if (!ShopDomain().IsMatch(value))
        {
            throw new ConnectorValidationException($"'{input}' is not a Shopify shop domain; expected something like your-shop.myshopify.com.");
        }

        return value;
    }

    public string AdminBase(string shop) => Options.AdminBaseUrl.Replace("{shop}", shop, StringComparison.Ordinal).TrimEnd('/');

    public OAuthStart BeginInstall(OAuthBegin request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var shop = NormalizeShop(request.Account);
        var clientId = Options.ClientId ?? throw new ConnectorValidationException("The Shopify app has no client id (Hub:Connectors:Shopify:ClientId).");
        if (string.IsNullOrEmpty(request.State))
        {
            throw new ArgumentException("A state nonce is required.", nameof(request));
        }

        // No grant_options[]=per-user: an offline token, for background syncs.
        var url = $"{AdminBase(shop)}/admin/oauth/authorize?client_id={Uri.EscapeDataString(clientId)}&scope={Uri.EscapeDataString(Options.Scopes)}" +
                  $"&redirect_uri={Uri.EscapeDataString(request.RedirectUri.ToString())}&state={Uri.EscapeDataString(request.State)}";
        return new OAuthStart(new Uri(url), shop);
    }

    public async Task<OAuthGrant> CompleteInstallAsync(OAuthCallback callback, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(callback);
        var q = callback.Query;
        string Get(string key) => q.TryGetValue(key, out var v) && !string.IsNullOrEmpty(v) ? v : throw new ConnectorValidationException($"The Shopify callback has no '{key}'.");
        var shop = NormalizeShop(Get("shop"));
        callback.VerifyState("Shopify");

        if (!VerifyCallbackHmac(q, Options.ClientSecret) && !VerifyCallbackHmac(q, Options.PreviousClientSecret))
        {
            throw new ConnectorValidationException("The Shopify callback's signature is wrong; it did not come from Shopify.");
        }

        if (!long.TryParse(Get("timestamp"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var ts) ||
            (clock.GetUtcNow() - DateTimeOffset.FromUnixTimeSeconds(ts)).Duration() > Options.CallbackMaxAge)
        {
            throw new ConnectorValidationException("The Shopify callback is too old; start the install again.");
        }

        var body = new JObject
        {
            ["client_id"] = Options.ClientId,
            ["client_secret"] = Options.ClientSecret,
            ["code"] = Get("code"),
            ["expiring"] = 1,
        };
        var secrets = await ExchangeAsync(shop, body, cancellationToken).ConfigureAwait(false);
        return new OAuthGrant(shop, secrets, new JObject { ["shop"] = shop });
    }

    /// <summary>Exchanges the refresh token for a new access token (and a new refresh token).</summary>
    public Task<JObject> RefreshAsync(string shop, JObject secrets, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(secrets);
        var refreshToken = secrets.Value<string>("refreshToken") ?? throw new ConnectorValidationException("The Shopify access token expired and there is no refresh token; reconnect the store.");
        var body = new JObject
        {
            ["client_id"] = secrets.Value<string>("clientId") ?? Options.ClientId,
            ["client_secret"] = secrets.Value<string>("clientSecret") ?? Options.ClientSecret,
            ["grant_type"] = "refresh_token",
            ["refresh_token"] = refreshToken,
        };
        return ExchangeAsync(shop, body, cancellationToken, secrets);
    }

    /// <summary>Hex HMAC-SHA256 over the callback's other parameters, sorted and joined as <c>k=v&amp;…</c>.</summary>
    public static bool VerifyCallbackHmac(IReadOnlyDictionary<string, string> query, string? secret)
    {
        ArgumentNullException.ThrowIfNull(query);
        if (string.IsNullOrEmpty(secret) || !query.TryGetValue("hmac", out var hmac))
        {
            return false;
        }

        return WebhookSignature.VerifyHmacSha256Hex(Encoding.UTF8.GetBytes(CallbackMessage(query)), secret, hmac);
    }

    /// <summary>The signed message: every parameter but <c>hmac</c> and <c>signature</c>, sorted by key.</summary>
    public static string CallbackMessage(IReadOnlyDictionary<string, string> query)
    {
        ArgumentNullException.ThrowIfNull(query);
        return string.Join('&', query
            .Where(p => p.Key is not "hmac" and not "signature")
            .OrderBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => $"{Escape(p.Key).Replace("=", "%3D", StringComparison.Ordinal)}={Escape(p.Value)}"));

        static string Escape(string s) => s.Replace("%", "%25", StringComparison.Ordinal).Replace("&", "%26", StringComparison.Ordinal);
    }

    private async Task<JObject> ExchangeAsync(string shop, JObject body, CancellationToken ct, JObject? previous = null)
    {
        Refit.IApiResponse<JObject> response;
        try
        {
            response = await api.PostAccessTokenAsync(AdminBase(shop), body, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ConnectorHttp.IsTransport(ex))
        {
            throw new ConnectorTransientException($"Shopify's token endpoint could not be reached: {ex.Message}", inner: ex);
        }

        using (response)
        {
            var json = response.Content;
            if (!response.IsSuccessStatusCode || json?.Value<string>("access_token") is not { } token)
            {
                var detail = (ConnectorHttp.ParseOrNull(response.ErrorContent()) ?? json) is { } e
                    ? e.Value<string>("error_description") ?? e.Value<string>("error") ?? e["errors"]?.ToString()
                    : null;
                var message = $"Shopify refused the token request ({response.Status()}): {detail ?? "no reason given"}.";
                throw response.StatusCode is HttpStatusCode.TooManyRequests || response.Status() >= 500
                    ? new ConnectorTransientException(message)
                    : new ConnectorValidationException(message);
            }

            var now = clock.GetUtcNow();
            var secrets = previous is null ? [] : (JObject)previous.DeepClone();
            secrets["accessToken"] = token;
            secrets["scope"] = json.Value<string>("scope") ?? previous?.Value<string>("scope");
            secrets.Remove("expiresAt");
            if (json.Value<long?>("expires_in") is { } expiresIn)
            {
                secrets["expiresAt"] = now.AddSeconds(expiresIn).ToString("O", CultureInfo.InvariantCulture);
            }

            if (json.Value<string>("refresh_token") is { } refresh)
            {
                secrets["refreshToken"] = refresh;
                if (json.Value<long?>("refresh_token_expires_in") is { } refreshIn)
                {
                    secrets["refreshTokenExpiresAt"] = now.AddSeconds(refreshIn).ToString("O", CultureInfo.InvariantCulture);
                }
            }

            return secrets;
        }
    }


    [GeneratedRegex(@"^[a-z0-9][a-z0-9\-_]*\.myshopify\.com$")]
    private static partial Regex ShopDomain();

    [GeneratedRegex(@"^admin\.shopify\.com/store/([a-z0-9][a-z0-9\-_]*)$")]
    private static partial Regex AdminStoreLink();
}

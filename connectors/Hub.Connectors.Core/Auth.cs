using Newtonsoft.Json.Linq;

namespace Hub.Connectors;

/// <summary>
/// A platform the merchant connects through an OAuth install (Shopify, Zoho, Youzan, HubSpot). The setup page
/// calls <see cref="BeginInstall"/>, redirects the browser, and hands the callback to <see cref="CompleteInstallAsync"/>.
/// </summary>
public interface IOAuthInstaller
{
    /// <summary>Validates the account identifier (Shopify shop domain) and builds the platform's authorize URL.</summary>
    /// <exception cref="ConnectorValidationException">The account identifier is malformed.</exception>
    OAuthStart BeginInstall(OAuthBegin request);

    /// <summary>
    /// Verifies the callback (signature, timestamp, state) and exchanges the code for tokens. Returns the secrets to
    /// store encrypted and the settings to keep on the connection.
    /// </summary>
    /// <exception cref="ConnectorValidationException">The callback is forged, stale, or the platform refused the code.</exception>
    Task<OAuthGrant> CompleteInstallAsync(OAuthCallback callback, CancellationToken cancellationToken);
}

/// <param name="Account">The merchant's account on the platform (Shopify: <c>shop.myshopify.com</c>).</param>
/// <param name="RedirectUri">The Hub's callback URL.</param>
/// <param name="State">A fresh nonce the caller keeps (signed cookie) and compares on the callback.</param>
public sealed record OAuthBegin(string Account, Uri RedirectUri, string State);

/// <param name="AuthorizeUrl">Where to send the browser.</param>
/// <param name="Account">The account identifier, normalised.</param>
public sealed record OAuthStart(Uri AuthorizeUrl, string Account);

/// <param name="Query">The callback's query parameters, as received.</param>
/// <param name="ExpectedState">The nonce issued by <see cref="IOAuthInstaller.BeginInstall"/>.</param>
/// <param name="RedirectUri">The same callback URL sent at the start (some platforms require it again).</param>
public sealed record OAuthCallback(IReadOnlyDictionary<string, string> Query, string ExpectedState, Uri RedirectUri)
{
    /// <summary>
    /// Checks the callback's <c>state</c> against the nonce issued at the start, in constant time.
    /// </summary>
    /// <exception cref="ConnectorValidationException">The state is missing or is not this install's.</exception>
    public void VerifyState(string platform)
    {
        if (!Query.TryGetValue("state", out var state) ||
            !System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(System.Text.Encoding.UTF8.GetBytes(state), System.Text.Encoding.UTF8.GetBytes(ExpectedState)))
        {
            throw new ConnectorValidationException($"The {platform} callback's state does not match this install; start the install again.");
        }
    }
}

/// <param name="Account">The account the tokens are for.</param>
/// <param name="Secrets">Tokens to store encrypted (access, refresh, expiry, granted scopes).</param>
/// <param name="Settings">Non-secret settings for the connection (shop domain, API domain).</param>
public sealed record OAuthGrant(string Account, JObject Secrets, JObject Settings);

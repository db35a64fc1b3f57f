using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Hub.Connectors.Shopify;
using Microsoft.AspNetCore.WebUtilities;
using Hub.Connectors.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Newtonsoft.Json.Linq;

namespace Hub.Connectors.Tests.Shopify;

public sealed class ShopifyAuthTests : ShopifyTestBase
{
    private static readonly Uri Callback = new("https://hub.example.com/setup/oauth/shopify/callback");

    [Theory]
    [InlineData("acme.myshopify.com", "acme.myshopify.com")]
    [InlineData("https://Acme-Store.myshopify.com/", "acme-store.myshopify.com")]
    [InlineData("admin.shopify.com/store/acme", "acme.myshopify.com")]
    public void NormalizeShop_AcceptedForms(string input, string expected) => Assert.Equal(expected, ShopifyAuth.NormalizeShop(input));

    [Theory]
    [InlineData("acme.example.com")]
    [InlineData("acme.myshopify.com.evil.io")]
    [InlineData("-acme.myshopify.com")]
    [InlineData("")]
    [InlineData("acme.myshopify.com/admin?x=1")]
    public void NormalizeShop_RejectsWhatIsNotAShop(string input) => Assert.Throws<ConnectorValidationException>(() => ShopifyAuth.NormalizeShop(input));

    [Fact]
    public void CallbackHmac_MatchesTheReferenceVector()
    {
        var query = new Dictionary<string, string>
        {
            ["code"] = "0907a61c0c8d55e99db179b68161bc00",
            ["host"] = "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvc29tZS1zaG9w",
            ["shop"] = "some-shop.myshopify.com",
            ["state"] = "0.6784241404160823",
            ["timestamp"] = "1337178173",
        };
        query["hmac"] = "9fe3d5ea81959305fd96bd3d2d44e878654e753bc8e455b5369c15a009412163";

        Assert.True(ShopifyAuth.VerifyCallbackHmac(query, "hush"));
        Assert.False(ShopifyAuth.VerifyCallbackHmac(query, "other"));
        query["shop"] = "other-shop.myshopify.com";
        Assert.False(ShopifyAuth.VerifyCallbackHmac(query, "hush"));
    }

    [Fact]
    public async Task Install_AuthorizeCallbackExchange_GivesAWorkingExpiringToken()
    {
        Seed(orders: 3);
        var installer = Services.GetRequiredKeyedService<IOAuthInstaller>("shopify");

        var start = installer.BeginInstall(new OAuthBegin("https://acme.myshopify.com", Callback, "nonce-123"));
        var query = await FollowAuthorizeAsync(start.AuthorizeUrl);
        var grant = await installer.CompleteInstallAsync(new OAuthCallback(query, "nonce-123", Callback), CancellationToken.None);

        Assert.Equal("acme.myshopify.com", grant.Account);
        Assert.StartsWith("shpat_", grant.Secrets.Value<string>("accessToken"), StringComparison.Ordinal);
        Assert.NotNull(grant.Secrets.Value<string>("refreshToken"));
        Assert.Contains("read_all_orders", grant.Secrets.Value<string>("scope"), StringComparison.Ordinal);
        var expires = DateTimeOffset.Parse(grant.Secrets.Value<string>("expiresAt")!, CultureInfo.InvariantCulture);
        Assert.InRange(expires, DateTimeOffset.UtcNow.AddMinutes(55), DateTimeOffset.UtcNow.AddMinutes(61));
        var connection = new ConnectionContext("t", "c", "shopify", new JObject { ["shop"] = grant.Settings["shop"], ["secrets"] = grant.Secrets });
        await Connector.TestConnectionAsync(connection, CancellationToken.None);
    }

    [Fact]
    public async Task Install_StateMismatch_IsRefused()
    {
        var installer = Services.Shopify();
        var query = await FollowAuthorizeAsync(installer.BeginInstall(new OAuthBegin("acme.myshopify.com", Callback, "nonce-a")).AuthorizeUrl);

        var ex = await Assert.ThrowsAsync<ConnectorValidationException>(() => installer.CompleteInstallAsync(new OAuthCallback(query, "nonce-b", Callback), CancellationToken.None));
        Assert.Contains("state", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Install_TamperedCallback_IsRefused()
    {
        var installer = Services.Shopify();
        var query = new Dictionary<string, string>(await FollowAuthorizeAsync(installer.BeginInstall(new OAuthBegin("acme.myshopify.com", Callback, "n")).AuthorizeUrl));
        query["shop"] = "other.myshopify.com";

        var ex = await Assert.ThrowsAsync<ConnectorValidationException>(() => installer.CompleteInstallAsync(new OAuthCallback(query, "n", Callback), CancellationToken.None));
        Assert.Contains("signature", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Install_StaleCallback_IsRefused()
    {
        var installer = Services.Shopify();
        var query = new Dictionary<string, string>
        {
            ["code"] = "abc",
            ["shop"] = "acme.myshopify.com",
            ["state"] = "n",
            ["timestamp"] = DateTimeOffset.UtcNow.AddMinutes(-10).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture),
        };
        // Signed correctly, computed here from the documented algorithm: hex HMAC-SHA256 over the sorted query.
        var message = string.Join("&", query.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}"));
        query["hmac"] = Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(Sandbox.ClientSecret), Encoding.UTF8.GetBytes(message)));

        var ex = await Assert.ThrowsAsync<ConnectorValidationException>(() => installer.CompleteInstallAsync(new OAuthCallback(query, "n", Callback), CancellationToken.None));
        Assert.Contains("too old", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Install_CodeUsedTwice_SecondIsRefusedWithShopifysWords()
    {
        var installer = Services.Shopify();
        var query = await FollowAuthorizeAsync(installer.BeginInstall(new OAuthBegin("acme.myshopify.com", Callback, "n")).AuthorizeUrl);
        await installer.CompleteInstallAsync(new OAuthCallback(query, "n", Callback), CancellationToken.None);

        var ex = await Assert.ThrowsAsync<ConnectorValidationException>(() => installer.CompleteInstallAsync(new OAuthCallback(query, "n", Callback), CancellationToken.None));
        Assert.Contains("already used", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>Plays the merchant's browser: opens the authorize URL and reads the callback query from the redirect.</summary>
    private static async Task<IReadOnlyDictionary<string, string>> FollowAuthorizeAsync(Uri authorize)
    {
        using var browser = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });
        using var response = await browser.GetAsync(authorize);
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        var location = response.Headers.Location!;
        Assert.StartsWith(Callback.ToString(), location.ToString(), StringComparison.Ordinal);
        return QueryHelpers.ParseQuery(location.Query).ToDictionary(p => p.Key, p => p.Value.ToString());
    }
}

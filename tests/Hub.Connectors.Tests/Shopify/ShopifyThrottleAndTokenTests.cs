using System.Globalization;
using Newtonsoft.Json.Linq;

namespace Hub.Connectors.Tests.Shopify;

public sealed class ShopifyThrottleAndTokenTests : ShopifyTestBase
{
    protected override IDictionary<string, string?> Overrides => new Dictionary<string, string?> { ["Hub:Connectors:Shopify:ThrottleWaitBudget"] = "00:00:05" };

    private Task<PullPage> PullFirstPageAsync(ConnectionContext? connection = null) =>
        Connector.PullAsync(new PullRequest(connection ?? Connection(), "orders", null, DateTimeOffset.UtcNow.AddDays(-29), DateTimeOffset.UtcNow.AddMinutes(1)), CancellationToken.None);

    [Theory]
    [InlineData(200)]
    [InlineData(429)]
    public async Task Throttled_WaitsForTheBucketAndSucceeds(int throttledStatus)
    {
        Seed(orders: 30);
        Shop.RestoreRate = 1000;
        Shop.ThrottledStatus = throttledStatus;
        Shop.DrainBucket();

        var page = await PullFirstPageAsync();

        Assert.NotEmpty(page.Records);
        var calls = GraphQLCalls();
        Assert.True(calls.Count >= 2, "the first call is throttled and asked again");
        Assert.Equal(200, calls[^1].Status);
    }

    [Fact]
    public async Task Throttled_SecondPageWaitsBeforeAskingInsteadOfBeingThrottled()
    {
        Seed(orders: 60);
        Shop.RestoreRate = 1000;

        await WindowReaderPagesAsync(3);

        // The limiter read throttleStatus from each answer and waited before a query that would not fit.
        Assert.All(GraphQLCalls(), c => Assert.Equal(200, c.Status));
    }

    private async Task WindowReaderPagesAsync(int pages)
    {
        string? cursor = null;
        for (var i = 0; i < pages; i++)
        {
            var page = await Connector.PullAsync(new PullRequest(Connection(), "orders", cursor, DateTimeOffset.UtcNow.AddDays(-29), DateTimeOffset.UtcNow.AddMinutes(1)), CancellationToken.None);
            cursor = page.NextCursor;
        }
    }

    [Fact]
    public async Task ThrottledLongerThanTheBudget_ThrowsTransientWithTheWait()
    {
        Seed(orders: 5);
        Shop.RestoreRate = 10;
        Shop.DrainBucket();

        var ex = await Assert.ThrowsAsync<ConnectorTransientException>(() => PullFirstPageAsync());

        Assert.NotNull(ex.RetryAfter);
        Assert.True(ex.RetryAfter > TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task ExpiredAccessToken_IsRefreshedOnceAndThePullSucceeds()
    {
        Seed(orders: 5);
        var (access, refresh) = Sandbox.IssueExpiringToken(Shop.Domain);
        JObject? saved = null;
        var secrets = new JObject { ["accessToken"] = access, ["refreshToken"] = refresh, ["expiresAt"] = DateTimeOffset.UtcNow.AddMinutes(50).ToString("O", CultureInfo.InvariantCulture) };
        var connection = Connection(secrets, (s, _) => { saved = s; return Task.CompletedTask; });
        Sandbox.ExpireAccessTokens();

        var page = await PullFirstPageAsync(connection);

        Assert.Equal(5, page.Records.Count);
        Assert.NotNull(saved);
        Assert.NotEqual(access, saved!.Value<string>("accessToken"));
        Assert.NotEqual(refresh, saved.Value<string>("refreshToken"));
        Assert.Equal([401, 200], GraphQLCalls().Select(c => c.Status));
        Assert.Single(Sandbox.Requests, r => r.Path.EndsWith("/oauth/access_token", StringComparison.Ordinal));
    }

    [Fact]
    public async Task TokenAboutToExpire_IsRefreshedBeforeTheCall()
    {
        Seed(orders: 2);
        var (access, refresh) = Sandbox.IssueExpiringToken(Shop.Domain);
        var secrets = new JObject { ["accessToken"] = access, ["refreshToken"] = refresh, ["expiresAt"] = DateTimeOffset.UtcNow.AddMinutes(2).ToString("O", CultureInfo.InvariantCulture) };
        var connection = Connection(secrets);

        await PullFirstPageAsync(connection);

        var log = Sandbox.Requests;
        Assert.EndsWith("/oauth/access_token", log[0].Path, StringComparison.Ordinal);
        Assert.Equal(200, log[1].Status);
        Assert.NotEqual(access, connection.Secrets.Value<string>("accessToken"));
    }

    [Fact]
    public async Task RefreshTokenAlreadyUsed_ThrowsValidationToReconnect()
    {
        Seed(orders: 2);
        var (access, refresh) = Sandbox.IssueExpiringToken(Shop.Domain);
        var secrets = new JObject { ["accessToken"] = access, ["refreshToken"] = refresh, ["expiresAt"] = DateTimeOffset.UtcNow.AddMinutes(1).ToString("O", CultureInfo.InvariantCulture) };
        await PullFirstPageAsync(Connection((JObject)secrets.DeepClone())); // rotates the refresh token

        var ex = await Assert.ThrowsAsync<ConnectorValidationException>(() => PullFirstPageAsync(Connection(secrets)));

        Assert.Contains("invalid", ex.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task ExpiredTokenWithoutRefreshToken_ThrowsValidation()
    {
        Seed(orders: 2);
        var (access, _) = Sandbox.IssueExpiringToken(Shop.Domain);
        Sandbox.ExpireAccessTokens();

        var ex = await Assert.ThrowsAsync<ConnectorValidationException>(() => PullFirstPageAsync(Connection(new JObject { ["accessToken"] = access })));

        Assert.Contains("reconnect", ex.Message, StringComparison.OrdinalIgnoreCase);
    }
}

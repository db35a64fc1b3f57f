using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Hub.Connectors.Tests.Support;
using Hub.Connectors.Youzan;
using Hub.Mappings;
using Hub.Sandbox.Common;
using Hub.Sandbox.Youzan;
using Microsoft.Extensions.DependencyInjection;
using Newtonsoft.Json.Linq;

namespace Hub.Connectors.Tests.Youzan;

public sealed class YouzanConnectorTests : IAsyncLifetime
{
    private readonly YouzanSandbox _sandbox = new();
    private ServiceProvider _services = null!;
    private IStoreConnector _connector = null!;

    public async Task InitializeAsync()
    {
        await _sandbox.StartAsync();
        _services = YouzanFixture.Services(_sandbox);
        _connector = _services.Store("youzan");
    }

    public async Task DisposeAsync()
    {
        await _services.DisposeAsync();
        await _sandbox.DisposeAsync();
    }

    private static string Tid(JObject r) => r["full_order_info"]!["order_info"]!.Value<string>("tid")!;

    [Fact]
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Security", "CA5351", Justification = "The documented algorithm, computed independently.")]
    public void PushSign_MatchesTheReferenceVector_ComputedFromTheDocumentedAlgorithm()
    {
        const string body = """{"client_id":"c0ffee1234","id":"E20240101000000000000001","kdt_id":123,"type":"trade_TradeCreate","msg":"%7B%22tid%22%3A%22E2024%22%7D","version":1700000000,"test":false}""";
        var independent = Convert.ToHexStringLower(MD5.HashData(Encoding.UTF8.GetBytes("c0ffee1234" + body + "s3cret")));

        Assert.Equal("0a4638e1605411df760e8dfeaa627d44", independent);
        Assert.Equal(independent, YouzanPush.Sign("c0ffee1234", Encoding.UTF8.GetBytes(body), "s3cret"));
        var connection = new ConnectionContext("t", "c", "youzan", new JObject { ["kdtId"] = "123", ["secrets"] = new JObject { ["clientId"] = "c0ffee1234", ["clientSecret"] = "s3cret" } });
        var batch = _connector.ParseWebhook(new WebhookRequest(connection, Encoding.UTF8.GetBytes(body), new Dictionary<string, string> { ["Event-Sign"] = independent }));
        Assert.Equal("E2024", batch.Events.Single().Records[0].Value<string>("tid"));
    }

    [Fact]
    public async Task Pushes_FromTheSandbox_AreVerifiedDedupedOrderedByVersionAndAnsweredSuccess()
    {
        await using var receiver = await WebhookReceiver.StartAsync(_connector, YouzanFixture.Connection(_sandbox));
        var msg = new JObject { ["tid"] = "E1", ["status"] = "WAIT_SELLER_SEND_GOODS" };

        Assert.Equal([200], await _sandbox.PushAsync(receiver.Url, "trade_TradeBuyerPay", msg, version: 1700000200, msgId: "m-2"));
        Assert.Equal([200], await _sandbox.PushAsync(receiver.Url, "trade_TradeCreate", msg, version: 1700000100, msgId: "m-1"));
        Assert.Equal([200], await _sandbox.PushAsync(receiver.Url, "trade_TradeBuyerPay", msg, version: 1700000200, msgId: "m-2"));
        Assert.Contains("success", await _sandbox.ProbeAsync(receiver.Url), StringComparison.Ordinal);

        var events = receiver.Accepted.Where(b => !b.IsPing).Select(b => b.Events.Single()).ToList();
        Assert.Equal(events[0].EventId, events[2].EventId);
        Assert.True(events[0].OccurredAt > events[1].OccurredAt);
        Assert.All(events, e => Assert.Equal("orders", e.Stream));
    }

    [Fact]
    public async Task Push_WrongSecret_Is401_AndYouzanKeepsRetrying()
    {
        await using var receiver = await WebhookReceiver.StartAsync(_connector, YouzanFixture.Connection(_sandbox));

        var statuses = await _sandbox.PushAsync(receiver.Url, "trade_TradeCreate", new JObject { ["tid"] = "E9" }, 1700000000, secret: "not-the-secret");

        Assert.Equal([401, 401, 401, 401], statuses);
        Assert.Empty(receiver.Accepted);
    }

    [Fact]
    public async Task Token_IsFetchedOnceAndShared_ThenRefreshedOnceAfter4202()
    {
        _sandbox.Seed(SandboxPeople.Generate(10), customers: 5, orders: 10, days: 2);
        JObject? saved = null;
        var connection = YouzanFixture.Connection(_sandbox, save: (s, _) => { saved = s; return Task.CompletedTask; });

        await WindowReader.ReadAsync(_connector, connection, "orders", DateTimeOffset.UtcNow.AddDays(-3), DateTimeOffset.UtcNow);
        Assert.Single(_sandbox.Requests, r => r.Path == "/auth/token");
        _sandbox.ExpireTokens();
        var read = await WindowReader.ReadAsync(_connector, connection, "orders", DateTimeOffset.UtcNow.AddDays(-3), DateTimeOffset.UtcNow);

        Assert.Equal(10, read.Records.Count);
        Assert.Equal(2, _sandbox.Requests.Count(r => r.Path == "/auth/token"));
        Assert.NotNull(saved!.Value<string>("expiresAt"));
    }

    [Fact]
    public async Task BusyDay_WindowsNarrowUntilEachFitsOnePage_NothingLostEvenWhenOrdersChangeMidRead()
    {
        var people = SandboxPeople.Generate(40);
        _sandbox.Seed(people, customers: 0, orders: 0);
        var start = DateTimeOffset.UtcNow.AddHours(-3);
        for (var i = 0; i < 400; i++)
        {
            _sandbox.AddOrdersAt(start.AddSeconds(i * 20), 1, people[i % 40]);
        }

        var read = await WindowReader.ReadAsync(_connector, YouzanFixture.Connection(_sandbox), "orders", start.AddMinutes(-1), DateTimeOffset.UtcNow, afterPage: page =>
        {
            if (page == 2)
            {
                foreach (var o in _sandbox.Orders.Take(15).ToList())
                {
                    _sandbox.UpdateOrder(o.Tid, x => x.Status = "TRADE_CLOSED");
                }
            }

            return Task.CompletedTask;
        });

        var seen = read.Records.Select(Tid).ToHashSet();
        Assert.All(_sandbox.Orders.Skip(15), o => Assert.Contains(o.Tid, seen));
        Assert.Equal(read.Records.Count, seen.Count); // narrowed windows hand each trade on once
        Assert.All(_sandbox.Requests.Where(r => r.Operation == "youzan.trades.sold.get"), r => Assert.Equal(200, r.Status));
    }

    [Fact]
    public async Task FlashSale_MoreThanAPageInOneSecond_IsPagedThroughWithoutLoss()
    {
        var buyer = SandboxPeople.Generate(1)[0];
        var at = DateTimeOffset.UtcNow.AddMinutes(-30);
        _sandbox.AddOrdersAt(at, 230, buyer);

        var read = await WindowReader.ReadAsync(_connector, YouzanFixture.Connection(_sandbox), "orders", at.AddMinutes(-5), DateTimeOffset.UtcNow);

        Assert.Equal(230, read.Records.Select(Tid).Distinct().Count());
    }

    [Fact]
    public async Task EncryptedPii_IsDecryptedWhereAllowed()
    {
        _sandbox.Seed(SandboxPeople.Generate(10), customers: 5, orders: 5, days: 2);

        var read = await WindowReader.ReadAsync(_connector, YouzanFixture.Connection(_sandbox), "orders", DateTimeOffset.UtcNow.AddDays(-3), DateTimeOffset.UtcNow);

        Assert.All(read.Records, r => Assert.StartsWith("1390000", r["full_order_info"]!["buyer_info"]!.Value<string>("buyer_phone"), StringComparison.Ordinal));
        Assert.Empty(read.Warnings);
    }

    [Fact]
    public async Task EncryptedPii_NotDecryptable_StaysEncryptedWithAWarningAndNeverJoinsProfiles()
    {
        _sandbox.DecryptAllowed = false;
        var at = DateTimeOffset.UtcNow.AddMinutes(-10);
        at = new DateTimeOffset(at.UtcTicks - (at.UtcTicks % TimeSpan.TicksPerSecond), TimeSpan.Zero);
        foreach (var (tid, openId) in new[] { ("E900001", "yzA"), ("E900002", "yzB") })
        {
            // Two different buyers whose (encrypted) phone is the same ciphertext.
            _sandbox.Orders.Add(new YouzanOrder { Tid = tid, Created = at, Updated = at, YzOpenId = openId, Phone = "13900001111", Name = "张三", Payment = 10, Lines = [("S", "T", 1, 10m)] });
        }

        var read = await WindowReader.ReadAsync(_connector, YouzanFixture.Connection(_sandbox), "orders", DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow);

        Assert.Contains(read.Warnings, w => w.Contains("encrypted", StringComparison.Ordinal));
        Assert.All(read.Records, r => Assert.EndsWith("$1$", r["full_order_info"]!["buyer_info"]!.Value<string>("buyer_phone"), StringComparison.Ordinal));
        Assert.Single(read.Records.Select(r => r["full_order_info"]!["buyer_info"]!.Value<string>("buyer_phone")).Distinct());
        var rule = RepoRules.Defaults.Source("youzan", "order");
        var orders = read.Records.Select(r => rule.MapOrder(r, "yz-1", rule.Context(DateTimeOffset.UtcNow)).Value!).ToList();
        var profiles = new ProfileEngine(RepoRules.Defaults).Build([], orders, DateTimeOffset.UtcNow).Profiles;
        Assert.Equal(2, profiles.Count); // the same ciphertext never merges two buyers
    }

    [Fact]
    public async Task Customers_AreReadByCreationWindowFiftyAtATime()
    {
        _sandbox.Seed(SandboxPeople.Generate(120), customers: 120, orders: 0, days: 5);

        var read = await WindowReader.ReadAsync(_connector, YouzanFixture.Connection(_sandbox), "customers", DateTimeOffset.UtcNow.AddDays(-30), DateTimeOffset.UtcNow);

        Assert.Equal(120, read.Records.Select(r => r.Value<string>("yz_open_id")).Distinct().Count());
        Assert.Equal(3, read.Pages);
        var rule = RepoRules.Defaults.Source("youzan", "member");
        Assert.All(read.Records, r => Assert.True(rule.MapMember(r, "yz-1", rule.Context(DateTimeOffset.UtcNow)).IsValid));
    }

    [Fact]
    public async Task AppSecretWrong_IsAValidationErrorWithYouzansCode()
    {
        var ex = await Assert.ThrowsAsync<ConnectorValidationException>(() => _connector.TestConnectionAsync(YouzanFixture.Connection(_sandbox, secret: "nope"), CancellationToken.None));

        Assert.Equal("1000", ex.PlatformCode);
    }

    [Fact]
    public async Task ToolAppInstall_CodeIsExchangedOnceForATokenNamingTheShop()
    {
        await using var services = YouzanFixture.Services(_sandbox, new Dictionary<string, string?> { ["Hub:Connectors:Youzan:ClientId"] = _sandbox.ClientId, ["Hub:Connectors:Youzan:ClientSecret"] = _sandbox.ClientSecret });
        var installer = services.GetRequiredKeyedService<IOAuthInstaller>("youzan");
        var callback = new Uri("https://hub.example.com/setup/oauth/youzan/callback");
        using var browser = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });
        using var redirect = await browser.GetAsync(installer.BeginInstall(new OAuthBegin("", callback, "s1")).AuthorizeUrl);
        var query = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(redirect.Headers.Location!.Query).ToDictionary(p => p.Key, p => p.Value.ToString());

        var grant = await installer.CompleteInstallAsync(new OAuthCallback(query, "s1", callback), CancellationToken.None);
        var reused = await Assert.ThrowsAsync<ConnectorValidationException>(() => installer.CompleteInstallAsync(new OAuthCallback(query, "s1", callback), CancellationToken.None));

        Assert.Equal(_sandbox.KdtId, grant.Settings.Value<string>("kdtId"));
        Assert.NotNull(grant.Secrets.Value<string>("refreshToken"));
        Assert.Equal("1005", reused.PlatformCode);
        var connection = new ConnectionContext("t", "c", "youzan", new JObject { ["kdtId"] = grant.Settings["kdtId"], ["secrets"] = grant.Secrets });
        await services.Store("youzan").TestConnectionAsync(connection, CancellationToken.None);
        _sandbox.ExpireTokens();
        await services.Store("youzan").TestConnectionAsync(connection, CancellationToken.None); // 4202 → refresh_token grant
        Assert.NotEqual(grant.Secrets.Value<string>("accessToken"), connection.Secrets.Value<string>("accessToken"));
    }

    [Fact]
    public void Push_ForAnotherShop_IsUnauthorized()
    {
        var body = Encoding.UTF8.GetBytes($$"""{"client_id":"{{_sandbox.ClientId}}","kdt_id":999,"type":"trade_TradeCreate","msg":"%7B%7D","msg_id":"x","version":1}""");
        var request = new WebhookRequest(YouzanFixture.Connection(_sandbox), body, new Dictionary<string, string> { ["Event-Sign"] = YouzanPush.Sign(_sandbox.ClientId, body, _sandbox.ClientSecret) });

        Assert.Throws<WebhookUnauthorizedException>(() => _connector.ParseWebhook(request));
    }
}

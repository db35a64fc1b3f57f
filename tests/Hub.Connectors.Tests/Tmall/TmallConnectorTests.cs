using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Hub.Connectors.Tests.Support;
using Hub.Connectors.Tmall;
using Hub.Mappings;
using Hub.Sandbox.Common;
using Hub.Sandbox.Tmall;
using Microsoft.Extensions.DependencyInjection;
using Newtonsoft.Json.Linq;

namespace Hub.Connectors.Tests.Tmall;

public sealed class TmallConnectorTests : IAsyncLifetime
{
    private readonly TmallSandbox _sandbox = new();
    private ServiceProvider _services = null!;
    private IStoreConnector _connector = null!;

    public async Task InitializeAsync()
    {
        await _sandbox.StartAsync();
        _services = TmallFixture.Services(_sandbox);
        _connector = _services.Store("tmall");
    }

    public async Task DisposeAsync()
    {
        await _services.DisposeAsync();
        await _sandbox.DisposeAsync();
    }

    [Theory]
    [InlineData("md5", "C729A3F663B3C56FE63A7B972BA1D5CC")]
    [InlineData("hmac", "7C298AD80AA30B2977D7F2D92DE7F488")]
    [InlineData("hmac-sha256", "DA02B4D7E09A8D15D7A969C16BF85FD42E68EFC8BB317511D2790A9BA709E145")]
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Security", "CA5351", Justification = "TOP's documented sign methods, computed independently.")]
    public void Sign_MatchesTheReferenceVectors_ComputedFromTheDocumentedAlgorithm(string method, string expected)
    {
        var p = new Dictionary<string, string>
        {
            ["method"] = "taobao.trades.sold.increment.get", ["app_key"] = "12345678", ["session"] = "test", ["timestamp"] = "2024-01-01 12:00:00",
            ["format"] = "json", ["v"] = "2.0", ["fields"] = "tid,modified", ["start_modified"] = "2024-01-01 00:00:00",
            ["end_modified"] = "2024-01-01 01:00:00", ["page_size"] = "100", ["use_has_next"] = "true", ["sign_method"] = method,
        };
        // Independently: sorted keys, k1v1k2v2…, then the method's hash, upper-case hex.
        var s = string.Concat(p.OrderBy(x => x.Key, StringComparer.Ordinal).Select(x => x.Key + x.Value));
        var data = Encoding.UTF8.GetBytes(s);
        var key = Encoding.UTF8.GetBytes("helloworld");
        var independent = Convert.ToHexString(method switch
        {
            "md5" => MD5.HashData(Encoding.UTF8.GetBytes("helloworld" + s + "helloworld")),
            "hmac" => HMACMD5.HashData(key, data),
            _ => HMACSHA256.HashData(key, data),
        });

        Assert.Equal(expected, independent);
        Assert.Equal(expected, TopSigner.Sign(p, "helloworld", method));
    }

    [Fact]
    public async Task ShortBan_IsSleptThroughAndThePullSucceeds()
    {
        _sandbox.Seed(SandboxPeople.Generate(10), trades: 5, days: 1);
        _sandbox.BanNext(2);

        var read = await WindowReader.ReadAsync(_connector, TmallFixture.Connection(_sandbox), "orders", DateTimeOffset.UtcNow.AddDays(-2), DateTimeOffset.UtcNow);

        Assert.Equal(5, read.Records.Count); // windows do not overlap: no trade twice
        var log = _sandbox.Requests;
        Assert.True(log[1].At - log[0].At >= TimeSpan.FromSeconds(2.9), "waited the ban plus a second");
    }

    [Fact]
    public async Task LongBan_IsHandedToTheRuntimeWithItsWait()
    {
        _sandbox.BanNext(3600);

        var ex = await Assert.ThrowsAsync<ConnectorTransientException>(() => _connector.PullAsync(new PullRequest(TmallFixture.Connection(_sandbox), "orders", null, DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow), CancellationToken.None));

        Assert.Equal(TimeSpan.FromSeconds(3601), ex.RetryAfter);
        Assert.Equal("accesscontrol.limited-by-app-access-count", ex.PlatformCode);
    }

    [Fact]
    public async Task ExpiredSession_IsAValidationErrorAskingToReauthorise()
    {
        var ex = await Assert.ThrowsAsync<ConnectorValidationException>(() => _connector.TestConnectionAsync(TmallFixture.Connection(_sandbox, session: "6100stale"), CancellationToken.None));

        Assert.Equal("27", ex.PlatformCode);
        Assert.Contains("authorise the app again", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BusyShop_WindowsNarrowUntilOnePage_AndFullInfoAddsTheRulesFields()
    {
        _sandbox.Seed(SandboxPeople.Generate(30), trades: 260, days: 1);

        var read = await WindowReader.ReadAsync(_connector, TmallFixture.Connection(_sandbox), "orders", DateTimeOffset.UtcNow.AddDays(-1).AddHours(-1), DateTimeOffset.UtcNow);

        Assert.Equal(260, read.Records.Count);
        Assert.Equal(260, read.Records.Select(r => r.Value<long>("tid")).Distinct().Count());
        Assert.All(read.Records, r => Assert.NotNull(r["orders"]?["order"]));
        Assert.DoesNotContain(read.Records, r => r["buyer_nick"] is not null || r["receiver_mobile"] is not null); // masked data is not even asked for
        Assert.Equal(260, _sandbox.Requests.Count(r => r.Operation == "taobao.trade.fullinfo.get"));
    }

    [Fact]
    public async Task SameBuyerInDifferentWeeks_OaidChangesButOneProfile_OtherBuyersStayApart()
    {
        var people = SandboxPeople.Generate(3);
        _sandbox.Seed(people, trades: 40, days: 28);

        var read = await WindowReader.ReadAsync(_connector, TmallFixture.Connection(_sandbox), "orders", DateTimeOffset.UtcNow.AddDays(-29), DateTimeOffset.UtcNow);

        var rule = RepoRules.Defaults.Source("tmall", "order");
        var orders = read.Records.Select(r => rule.MapOrder(r, "tm-1", rule.Context(DateTimeOffset.UtcNow)).Value!).ToList();
        var buyers = read.Records.Select(r => r.Value<string>("ouid")).Distinct().Count();
        Assert.True(read.Records.Select(r => r.Value<string>("oaid")).Distinct().Count() > buyers, "OAIDs change weekly");
        Assert.Equal(buyers, new ProfileEngine(RepoRules.Defaults).Build([], orders, DateTimeOffset.UtcNow).Profiles.Count);
    }

    [Fact]
    public async Task Members_AreReadByModifiedWindowAndMapped()
    {
        _sandbox.Seed(SandboxPeople.Generate(250), trades: 0, days: 1);

        var read = await WindowReader.ReadAsync(_connector, TmallFixture.Connection(_sandbox), "customers", DateTimeOffset.UtcNow.AddDays(-25), DateTimeOffset.UtcNow);

        Assert.Equal(250, read.Records.Select(r => r.Value<string>("ouid")).Distinct().Count());
        var rule = RepoRules.Defaults.Source("tmall", "member");
        Assert.All(read.Records, r => Assert.True(rule.MapMember(r, "tm-1", rule.Context(DateTimeOffset.UtcNow)).IsValid));
    }
}

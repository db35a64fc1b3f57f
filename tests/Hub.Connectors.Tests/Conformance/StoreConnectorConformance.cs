using System.Text;
using Hub.Connectors.Tests.Support;
using Hub.Mappings.Model;
using Hub.Sandbox.Common;
using Newtonsoft.Json.Linq;

namespace Hub.Connectors.Tests.Conformance;

/// <summary>
/// What every store connector must do, run against its sandbox through the real Refit + resilience stack
/// (STYLE.md §5.5): auth failures are typed; paging ends; an interrupted read resumes from its cursor; an incremental
/// read from the bookmark misses nothing updated during the previous read; 429 waits the Retry-After; 5xx and hung
/// requests are retried; the verifier refuses tampered, unsigned and wrongly signed deliveries; malformed bodies
/// are typed validation errors; and the shipped source rules map every record the connector returns.
/// </summary>
public abstract class StoreConnectorConformance : IAsyncLifetime
{
    protected const int OrderCount = 130;

    /// <summary>The platform id (rule folder and connector id).</summary>
    protected abstract string Platform { get; }

    protected abstract SandboxServer Server { get; }

    protected IStoreConnector Connector { get; set; } = null!;

    protected ConnectionContext Connection { get; set; } = null!;

    /// <summary>Starts the sandbox with <see cref="OrderCount"/> orders updated in the past, and connects.</summary>
    public abstract Task InitializeAsync();

    public abstract Task DisposeAsync();

    /// <summary>The connection with a wrong secret.</summary>
    protected abstract ConnectionContext WithWrongCredentials();

    /// <summary>Every order's id and updated time as the platform holds them now.</summary>
    protected abstract IReadOnlyDictionary<string, DateTimeOffset> Truth();

    /// <summary>Edits one order on the platform (its updated time moves to now) and returns its id.</summary>
    protected abstract string TouchOrder(int index);

    protected abstract string IdOf(JObject record);

    protected abstract DateTimeOffset UpdatedOf(JObject record);

    /// <summary>A delivery of <paramref name="body"/> for an order topic, signed with <paramref name="secret"/> (null: the right one; "": unsigned).</summary>
    protected abstract WebhookRequest OrderWebhook(byte[] body, string? secret = null);

    protected virtual DateTimeOffset Now => DateTimeOffset.UtcNow;

    [Fact]
    public async Task TestConnection_WrongCredentials_ThrowsValidationWithPlatformWords()
    {
        var ex = await Assert.ThrowsAsync<ConnectorValidationException>(() => Connector.TestConnectionAsync(WithWrongCredentials(), CancellationToken.None));
        Assert.False(string.IsNullOrWhiteSpace(ex.Message));
    }

    [Fact]
    public async Task TestConnection_RightCredentials_Succeeds() =>
        await Connector.TestConnectionAsync(Connection, CancellationToken.None);

    [Fact]
    public async Task Pull_WrongCredentials_ThrowsValidationNotTransient()
    {
        var ex = await Assert.ThrowsAsync<ConnectorValidationException>(() => Connector.PullAsync(new PullRequest(WithWrongCredentials(), "orders", null, Now.AddDays(-7), Now), CancellationToken.None));
        Assert.IsNotType<ConnectorTransientException>(ex);
    }

    [Fact]
    public async Task Pull_UnknownStream_ThrowsValidation() =>
        await Assert.ThrowsAsync<ConnectorValidationException>(() => Connector.PullAsync(new PullRequest(Connection, "refunds", null, Now.AddDays(-7), Now), CancellationToken.None));

    [Fact]
    public async Task Pull_WholeWindow_PagesToTheEndAndReturnsEveryOrder()
    {
        var read = await WindowReader.ReadAsync(Connector, Connection, "orders", Now.AddDays(-29), Now);

        Assert.True(read.Pages > 1, "the window should need several pages");
        var truth = Truth();
        Assert.Equal(truth.Keys.Order(), read.Records.Select(IdOf).Distinct().Order());
    }

    [Fact]
    public async Task Pull_InterruptedRead_ResumesFromCursorWithoutLoss()
    {
        var start = Now.AddDays(-29);
        var end = Now;
        var first = await WindowReader.ReadAsync(Connector, Connection, "orders", start, end, maxPages: 1);
        Assert.NotNull(first.Cursor);

        var rest = await WindowReader.ReadAsync(Connector, Connection, "orders", start, end, cursor: first.Cursor);

        Assert.Equal(Truth().Keys.Order(), first.Records.Concat(rest.Records).Select(IdOf).Distinct().Order());
    }

    [Fact]
    public async Task Pull_RecordUpdatedDuringRead_IsReadByTheNextIncrementalRead()
    {
        var syncStart = Now;
        var touched = new List<string>();
        var first = await WindowReader.ReadAsync(Connector, Connection, "orders", syncStart.AddDays(-29), syncStart, afterPage: async page =>
        {
            if (page == 1)
            {
                touched.Add(TouchOrder(0));
                touched.Add(TouchOrder(OrderCount - 1));
            }

            await Task.CompletedTask;
        });
        Assert.NotNull(first.Bookmark);
        Assert.True(first.Bookmark <= syncStart, "the bookmark never passes the moment the read began");

        await Task.Delay(1100); // platforms keep times to the second
        var second = await WindowReader.ReadAsync(Connector, Connection, "orders", first.Bookmark!.Value, Now);

        var latest = first.Records.Concat(second.Records)
            .GroupBy(IdOf)
            .ToDictionary(g => g.Key, g => g.Max(UpdatedOf));
        foreach (var (id, updated) in Truth())
        {
            Assert.True(latest.TryGetValue(id, out var seen), $"order {id} was never read");
            Assert.True(seen.ToUnixTimeSeconds() == updated.ToUnixTimeSeconds(), $"order {id}: read version {seen:O}, platform has {updated:O}");
        }

        Assert.All(touched, id => Assert.Contains(second.Records, r => IdOf(r) == id));
    }

    [Fact]
    public async Task Pull_429WithRetryAfter_WaitsThatLongThenSucceeds()
    {
        Server.ClearRequests();
        Server.FailNext(429, TimeSpan.FromSeconds(1));

        var page = await FirstRecordsAsync();

        Assert.NotEmpty(page.Records);
        var log = Server.Requests;
        Assert.Equal(429, log[0].Fault); // some platforms answer their limit inside HTTP 200
        Assert.Equal(200, log[1].Status);
        Assert.True(log[1].At - log[0].At >= TimeSpan.FromSeconds(0.95), $"retried after {(log[1].At - log[0].At).TotalMilliseconds} ms, before the Retry-After");
    }

    [Fact]
    public async Task Pull_ServerErrorsAndAHungRequest_AreRetried()
    {
        Server.ClearRequests();
        Server.FailNext(500, times: 1).FailNextTimeout(times: 1);

        var page = await FirstRecordsAsync();

        Assert.NotEmpty(page.Records);
        Assert.Equal([500, 0, 200], Server.Requests.Take(3).Select(r => r.Status));
    }

    [Fact]
    public async Task Pull_PlatformDownThroughEveryRetry_ThrowsTransient()
    {
        Server.FailNext(503, times: 20);

        await Assert.ThrowsAsync<ConnectorTransientException>(() => Connector.PullAsync(new PullRequest(Connection, "orders", null, Now.AddDays(-29), Now), CancellationToken.None));
    }

    [Fact]
    public async Task Pull_Records_MapThroughTheShippedSourceRules()
    {
        var read = await WindowReader.ReadAsync(Connector, Connection, "orders", Now.AddDays(-29), Now);
        var rule = RepoRules.Defaults.Source(Platform, "order");
        var ctx = rule.Context(Now);

        foreach (var record in read.Records)
        {
            var mapped = rule.MapOrder(record, Connection.ConnectionId, ctx);
            Assert.True(mapped.IsValid, string.Join("; ", mapped.Issues.Select(i => $"{i.Field}: {i.Message}")));
            Assert.Equal(IdOf(record), mapped.Value!.Source.VendorId);
            Assert.True(mapped.Value.Total > 0);
            Assert.NotEqual(OrderStatus.Unknown, mapped.Value.Status);
        }
    }

    /// <summary>A connector without webhooks (Tmall: TMC only) must refuse every delivery, typed.</summary>
    private bool RefusesWebhooks(byte[] body)
    {
        if (Connector.Info.WebhookTopics.Count > 0)
        {
            return false;
        }

        Assert.ThrowsAny<ConnectorValidationException>(() => Connector.ParseWebhook(OrderWebhook(body)));
        return true;
    }

    [Fact]
    public void Webhook_Signed_ParsesIntoAnEventWithADedupeKey()
    {
        var body = Encoding.UTF8.GetBytes(SampleOrderJson());
        if (RefusesWebhooks(body))
        {
            return;
        }

        var batch = Connector.ParseWebhook(OrderWebhook(body));

        var evt = Assert.Single(batch.Events);
        Assert.Equal("orders", evt.Stream);
        Assert.Equal(WebhookEventKind.Upsert, evt.Kind);
        Assert.False(string.IsNullOrEmpty(evt.EventId));
        Assert.Equal(Connector.ParseWebhook(OrderWebhook(body)).Events[0].EventId, evt.EventId);
    }

    [Fact]
    public void Webhook_TamperedBody_IsUnauthorized()
    {
        if (RefusesWebhooks(Encoding.UTF8.GetBytes(SampleOrderJson())))
        {
            return;
        }

        var request = OrderWebhook(Encoding.UTF8.GetBytes(SampleOrderJson()));
        var tampered = Encoding.UTF8.GetBytes(SampleOrderJson().Replace("1", "2", StringComparison.Ordinal));

        Assert.Throws<WebhookUnauthorizedException>(() => Connector.ParseWebhook(new WebhookRequest(request.Connection, tampered, request.Headers)));
    }

    [Fact]
    public void Webhook_WrongSecret_IsUnauthorized()
    {
        if (!RefusesWebhooks(Encoding.UTF8.GetBytes(SampleOrderJson())))
        {
            Assert.Throws<WebhookUnauthorizedException>(() => Connector.ParseWebhook(OrderWebhook(Encoding.UTF8.GetBytes(SampleOrderJson()), "not-the-secret")));
        }
    }

    [Fact]
    public void Webhook_Unsigned_IsUnauthorized()
    {
        if (!RefusesWebhooks(Encoding.UTF8.GetBytes(SampleOrderJson())))
        {
            Assert.Throws<WebhookUnauthorizedException>(() => Connector.ParseWebhook(OrderWebhook(Encoding.UTF8.GetBytes(SampleOrderJson()), "")));
        }
    }

    [Theory]
    [InlineData("{not json")]
    [InlineData("[1,2,3]")]
    [InlineData("{\"note\":\"no id\"}")]
    public void Webhook_MalformedButSigned_IsATypedValidationError(string body)
    {
        if (RefusesWebhooks(Encoding.UTF8.GetBytes(body)))
        {
            return;
        }

        var ex = Assert.ThrowsAny<ConnectorValidationException>(() => Connector.ParseWebhook(OrderWebhook(Encoding.UTF8.GetBytes(body))));
        Assert.IsNotType<WebhookUnauthorizedException>(ex);
    }

    /// <summary>Follows the cursor to the first page with records (a windowed connector may start with empty windows).</summary>
    private async Task<PullPage> FirstRecordsAsync()
    {
        string? cursor = null;
        for (var i = 0; i < 60; i++)
        {
            var page = await Connector.PullAsync(new PullRequest(Connection, "orders", cursor, Now.AddDays(-29), Now), CancellationToken.None);
            if (page.Records.Count > 0 || !page.HasMore)
            {
                return page;
            }

            cursor = page.NextCursor;
        }

        throw new InvalidOperationException("No page with records within 60 pages.");
    }

    /// <summary>A minimal order body in the platform's webhook shape.</summary>
    protected abstract string SampleOrderJson();
}

using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using Hub.Connectors.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using Refit;

namespace Hub.Connectors.Shopify;

/// <summary>
/// Shopify store connector on the GraphQL Admin API (REST is legacy for public apps since 2024-10).
/// Incremental pages: <c>orders</c>/<c>customers</c> sorted by UPDATED_AT with <c>updated_at:&gt;=start AND
/// updated_at:&lt;=end</c> and cursor paging; page sizes are computed so a query's requested cost stays under 1000.
/// A long window (the historical backfill) runs as a bulk operation whose JSONL result is read page by page with
/// HTTP range requests. Throttling is waited out from <c>extensions.cost.throttleStatus</c>, never failed.
/// </summary>
public sealed class ShopifyConnector(
    IShopifyApi api,
    ShopifyAuth auth,
    ShopifyCostLimiter limiter,
    IHttpClientFactory httpClients,
    IOptions<ShopifyOptions> options,
    TimeProvider clock,
    ILogger<ShopifyConnector> logger) : IStoreConnector, IOAuthInstaller
{
    public const string Id = "shopify";
    public const string BulkDownloadClient = "shopify-bulk";

    private static readonly TimeSpan MinimumWait = TimeSpan.FromMilliseconds(5);

    private static readonly ConcurrentDictionary<string, SemaphoreSlim> RefreshLocks = new(StringComparer.Ordinal);

    public ConnectorInfo Info { get; } = new(
        Id,
        "Shopify",
        ConnectorKind.Store,
        "oauth2",
        [
            new StreamInfo("orders", "updated_at", TimeSpan.FromMinutes(15)),
            new StreamInfo("customers", "updated_at", TimeSpan.FromMinutes(15)),
        ],
        "https://shopify.dev/docs/api/admin-graphql")
    {
        WebhookTopics = [.. ShopifyWebhooks.Topics.Keys],
        Scopes = ["read_orders", "read_customers", "read_all_orders"],
        RateLimit = "GraphQL cost bucket per app and shop: 1000-point query cap, restored at 100 points/s (Standard) to 2000/s (Enterprise).",
    };

    private ShopifyOptions Options => options.Value;

    public OAuthStart BeginInstall(OAuthBegin request) => auth.BeginInstall(request);

    public Task<OAuthGrant> CompleteInstallAsync(OAuthCallback callback, CancellationToken cancellationToken) => auth.CompleteInstallAsync(callback, cancellationToken);

    public async Task TestConnectionAsync(ConnectionContext connection, CancellationToken cancellationToken)
    {
        var session = new Session(connection, ShopOf(connection));
        var result = await QueryAsync(session, ShopifyQueries.Shop, null, 1, cancellationToken).ConfigureAwait(false);
        if (result.Data?["shop"]?.Type != JTokenType.Object)
        {
            throw new ConnectorValidationException("Shopify answered without the shop; check the store's access.");
        }
    }

    public WebhookBatch ParseWebhook(WebhookRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var secrets = request.Connection.Secrets;
        return ShopifyWebhooks.Parse(request, ShopOf(request.Connection), [secrets.Value<string>("clientSecret") ?? Options.ClientSecret, Options.PreviousClientSecret]);
    }

    public async Task<PullPage> PullAsync(PullRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Stream is not ("orders" or "customers"))
        {
            throw new ConnectorValidationException($"Shopify has no stream '{request.Stream}'.");
        }

        var session = new Session(request.Connection, ShopOf(request.Connection));
        var cursor = ShopifyCursor.Parse(request.Cursor);
        if (cursor is null && request.WindowEnd - request.WindowStart > Options.BulkWhenWindowLongerThan)
        {
            cursor = await StartBulkAsync(session, request, tries: 1, cancellationToken).ConfigureAwait(false);
            if (cursor.BulkId is null)
            {
                return Finish(session, new PullPage([], cursor.Serialize(), true, null), request);
            }
        }

        var page = cursor?.BulkId is not null || cursor?.Mode == ShopifyCursor.BulkMode
            ? await PullBulkAsync(session, request, cursor!, cancellationToken).ConfigureAwait(false)
            : await PullPageAsync(session, request, cursor?.After, cancellationToken).ConfigureAwait(false);
        return Finish(session, page, request);
    }

    private PullPage Finish(Session session, PullPage page, PullRequest request)
    {
        var warnings = new List<string>(session.Warnings);
        if (request.Stream == "orders" && request.WindowStart < clock.GetUtcNow().AddDays(-60) &&
            session.Connection.Secrets.Value<string>("scope") is { } scope && !scope.Split(',').Contains("read_all_orders"))
        {
            warnings.Add("Shopify shows only the last 60 days of orders to this app: approve the read_all_orders scope to sync older orders.");
        }

        return warnings.Count == 0 ? page : page with { Warnings = warnings.Distinct().ToList() };
    }

    private async Task<PullPage> PullPageAsync(Session session, PullRequest request, string? after, CancellationToken ct)
    {
        var search = Search(request.WindowStart, request.WindowEnd);
        var vars = new JObject { ["query"] = search, ["after"] = after };
        string document;
        int cost;
        if (request.Stream == "orders")
        {
            var first = ShopifyQueries.PageSize(f => ShopifyQueries.OrdersCost(f, Options.LinesPerOrder), Options.MaxQueryCost);
            vars["first"] = first;
            vars["lines"] = Options.LinesPerOrder;
            document = ShopifyQueries.Orders;
            cost = ShopifyQueries.OrdersCost(first, Options.LinesPerOrder);
        }
        else
        {
            var first = ShopifyQueries.PageSize(ShopifyQueries.CustomersCost, Options.MaxQueryCost);
            vars["first"] = first;
            document = ShopifyQueries.Customers;
            cost = ShopifyQueries.CustomersCost(first);
        }

        var result = await QueryAsync(session, document, vars, cost, ct).ConfigureAwait(false);
        var connection = result.Data?[request.Stream] as JObject
            ?? throw new ConnectorValidationException($"Shopify's answer has no '{request.Stream}' connection.");
        var nodes = (connection["nodes"] as JArray ?? []).OfType<JObject>().ToList();
        if (request.Stream == "orders")
        {
            foreach (var order in nodes)
            {
                await CompleteLinesAsync(session, order, ct).ConfigureAwait(false);
            }
        }

        var hasNext = connection["pageInfo"]?.Value<bool?>("hasNextPage") == true;
        var end = connection["pageInfo"]?.Value<string>("endCursor");
        return new PullPage(nodes, hasNext ? new ShopifyCursor { Mode = ShopifyCursor.PageMode, After = end }.Serialize() : null, hasNext, MaxUpdated(nodes));
    }

    /// <summary>Reads the rest of an order's lines when it has more than one page of them.</summary>
    private async Task CompleteLinesAsync(Session session, JObject order, CancellationToken ct)
    {
        var lines = order["lineItems"] as JObject;
        var pageInfo = lines?["pageInfo"] as JObject;
        var all = lines?["nodes"] as JArray ?? [];
        var after = pageInfo?.Value<string>("endCursor");
        var more = pageInfo?.Value<bool?>("hasNextPage") == true;
        while (more)
        {
            var vars = new JObject { ["id"] = order.Value<string>("id"), ["after"] = after };
            var result = await QueryAsync(session, ShopifyQueries.OrderLines, vars, ShopifyQueries.OrderLinesCost, ct).ConfigureAwait(false);
            var next = result.Data?["node"]?["lineItems"] as JObject ?? throw new ConnectorValidationException($"Shopify returned no lines for order {order.Value<string>("id")}.");
            foreach (var line in next["nodes"] as JArray ?? [])
            {
                all.Add(line);
            }

            more = next["pageInfo"]?.Value<bool?>("hasNextPage") == true;
            after = next["pageInfo"]?.Value<string>("endCursor");
        }

        if (lines is not null)
        {
            lines.Remove("pageInfo");
            lines["nodes"] = all;
        }
    }

    private async Task<ShopifyCursor> StartBulkAsync(Session session, PullRequest request, int tries, CancellationToken ct)
    {
        var document = ShopifyQueries.BulkDocument(request.Stream, Search(request.WindowStart, request.WindowEnd));
        var deadline = clock.GetUtcNow() + Options.BulkPollBudget;
        while (true)
        {
            var result = await QueryAsync(session, ShopifyQueries.RunBulk, new JObject { ["query"] = document }, 10, ct).ConfigureAwait(false);
            // A JSON null (not a C# null) when Shopify answers without the mutation's payload.
            var run = result.Data?["bulkOperationRunQuery"] as JObject;
            var errors = run?["userErrors"] as JArray ?? [];
            if (run is null)
            {
                throw new ConnectorTransientException("Shopify answered the bulk export request without its result; it is asked again.");
            }

            if (errors.Count == 0 && (run["bulkOperation"] as JObject)?.Value<string>("id") is { } id)
            {
                logger.LogInformation("Started Shopify bulk operation {Operation} for {Stream} of connection {Connection}", id, request.Stream, session.Connection.ConnectionId);
                return new ShopifyCursor { Mode = ShopifyCursor.BulkMode, BulkId = id, Offset = 0, Tries = tries };
            }

            var busy = errors.Any(e => e.Value<string>("code") == "OPERATION_IN_PROGRESS");
            if (!busy)
            {
                throw new ConnectorValidationException("Shopify refused the bulk export: " + string.Join("; ", errors.Select(e => e.Value<string>("message"))));
            }

            // Another bulk query of this app is running on the shop (one at a time before 2026-01, five since).
            if (clock.GetUtcNow() + Options.BulkPollInterval > deadline)
            {
                session.Warnings.Add("Waiting for another bulk operation on the shop to finish.");
                return new ShopifyCursor { Mode = ShopifyCursor.BulkMode, Tries = tries };
            }

            await Task.Delay(Options.BulkPollInterval, clock, ct).ConfigureAwait(false);
        }
    }

    private async Task<PullPage> PullBulkAsync(Session session, PullRequest request, ShopifyCursor cursor, CancellationToken ct)
    {
        if (cursor.BulkId is null)
        {
            cursor = await StartBulkAsync(session, request, cursor.Tries, ct).ConfigureAwait(false);
            if (cursor.BulkId is null)
            {
                return new PullPage([], cursor.Serialize(), true, null);
            }
        }

        var deadline = clock.GetUtcNow() + Options.BulkPollBudget;
        JToken op;
        while (true)
        {
            var result = await QueryAsync(session, ShopifyQueries.BulkStatus, new JObject { ["id"] = cursor.BulkId }, 1, ct).ConfigureAwait(false);
            op = result.Data?["node"] ?? throw new ConnectorValidationException($"Shopify does not know bulk operation {cursor.BulkId}.");
            var status = op.Value<string>("status");
            if (status is "COMPLETED")
            {
                break;
            }

            if (status is "FAILED" or "CANCELED" or "CANCELING" or "EXPIRED")
            {
                if (cursor.Tries >= 3)
                {
                    throw new ConnectorValidationException($"Shopify's bulk export ended {status} ({op.Value<string>("errorCode") ?? "no error code"}) three times.");
                }

                session.Warnings.Add($"Shopify's bulk export ended {status} ({op.Value<string>("errorCode") ?? "no error code"}); starting it again.");
                return new PullPage([], new ShopifyCursor { Mode = ShopifyCursor.BulkMode, Tries = cursor.Tries + 1 }.Serialize(), true, null);
            }

            if (clock.GetUtcNow() + Options.BulkPollInterval > deadline)
            {
                // Still running: hand back an empty page; the next message polls again.
                return new PullPage([], cursor.Serialize(), true, null);
            }

            await Task.Delay(Options.BulkPollInterval, clock, ct).ConfigureAwait(false);
        }

        if (op.Value<string>("url") is not { Length: > 0 } url)
        {
            return new PullPage([], null, false, null); // nothing matched the window
        }

        var (records, nextOffset) = await ReadJsonlAsync(new Uri(url), cursor.Offset, Options.BulkPageSize, ct).ConfigureAwait(false);
        var more = nextOffset is not null;
        return new PullPage(records, more ? (cursor with { Offset = nextOffset!.Value }).Serialize() : null, more, MaxUpdated(records));
    }

    /// <summary>
    /// Reads up to <paramref name="max"/> top-level records from byte <paramref name="offset"/> of a bulk result.
    /// Child lines (<c>__parentId</c>) follow their parent and are folded back into it as <c>lineItems.nodes</c>,
    /// so the record has the same shape as a paged one. Returns the offset of the next top-level line, or null at the end.
    /// </summary>
    private async Task<(List<JObject> Records, long? Next)> ReadJsonlAsync(Uri url, long offset, int max, CancellationToken ct)
    {
        var client = httpClients.CreateClient(BulkDownloadClient);
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(offset, null);
        HttpResponseMessage response;
        try
        {
            response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HttpRequestException or Polly.Timeout.TimeoutRejectedException or Polly.CircuitBreaker.BrokenCircuitException)
        {
            throw new ConnectorTransientException($"Shopify's bulk result could not be downloaded: {ex.Message}", inner: ex);
        }

        using (response)
        {
            if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
            {
                return ([], null);
            }

            if (!response.IsSuccessStatusCode)
            {
                // Result URLs expire after 7 days: a 403/404 there means the export must run again.
                throw new ConnectorTransientException($"Shopify's bulk result answered {(int)response.StatusCode}.");
            }

            await using var stream = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
            var reader = new JsonlReader(stream, response.StatusCode == HttpStatusCode.PartialContent ? 0 : offset);
            await reader.SkipAsync(ct).ConfigureAwait(false);
            var records = new List<JObject>();
            var position = offset;
            JObject? parent = null;
            while (await reader.ReadLineAsync(ct).ConfigureAwait(false) is { } line)
            {
                var obj = Parse(line.Text);
                if (obj.Value<string>("__parentId") is { } parentId)
                {
                    obj.Remove("__parentId");
                    if (parent is not null && parent.Value<string>("id") == parentId)
                    {
                        var lineItems = parent["lineItems"] as JObject ?? (JObject)(parent["lineItems"] = new JObject { ["nodes"] = new JArray() });
                        ((JArray)lineItems["nodes"]!).Add(obj);
                    }

                    position += line.Bytes;
                    continue;
                }

                if (records.Count == max)
                {
                    return (records, position);
                }

                parent = obj;
                if (obj["lineItems"] is null && obj.Value<string>("id")?.Contains("/Order/", StringComparison.Ordinal) == true)
                {
                    obj["lineItems"] = new JObject { ["nodes"] = new JArray() };
                }

                records.Add(obj);
                position += line.Bytes;
            }

            return (records, null);
        }
    }

    private static JObject Parse(string line)
    {
        try
        {
            using var reader = new JsonTextReader(new StringReader(line)) { DateParseHandling = DateParseHandling.None, FloatParseHandling = FloatParseHandling.Decimal };
            return JObject.Load(reader);
        }
        catch (JsonException ex)
        {
            throw new ConnectorTransientException($"A line of Shopify's bulk result is not JSON: {ex.Message}", inner: ex);
        }
    }

    /// <summary>
    /// Sends one GraphQL document: waits for the cost bucket, refreshes an expiring token, waits out THROTTLED
    /// answers (200 or 429), and turns every other failure into a typed error.
    /// </summary>
    private async Task<GraphQLResult> QueryAsync(Session session, string document, JObject? variables, int cost, CancellationToken ct)
    {
        var deadline = clock.GetUtcNow() + Options.ThrottleWaitBudget;
        var refreshed = false;
        while (true)
        {
            // Re-check after each wait: timers round down below a millisecond, and a fast shop refills in less.
            for (var wait = limiter.WaitFor(session.Shop, cost); wait > TimeSpan.Zero; wait = limiter.WaitFor(session.Shop, cost))
            {
                if (clock.GetUtcNow() + wait > deadline)
                {
                    throw new ConnectorTransientException("Shopify's cost bucket is empty.", wait);
                }

                await Task.Delay(wait < MinimumWait ? MinimumWait : wait, clock, ct).ConfigureAwait(false);
            }

            var token = await AccessTokenAsync(session, force: false, ct).ConfigureAwait(false);
            IApiResponse<JObject> response;
            try
            {
                response = await api.PostGraphQLAsync(auth.AdminBase(session.Shop), ApiVersion(session), token, new ShopifyGraphQLRequest(document, variables), ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (ConnectorHttp.IsTransport(ex))
            {
                throw new ConnectorTransientException($"Shopify could not be reached: {ex.Message}", inner: ex);
            }

            using (response)
            {
                if (response.StatusCode == HttpStatusCode.Unauthorized && !refreshed && session.Connection.Secrets.Value<string>("refreshToken") is not null)
                {
                    refreshed = true;
                    await AccessTokenAsync(session, force: true, ct).ConfigureAwait(false);
                    continue;
                }

                var body = response.Json();
                var throttled = body is not null && Codes(body).Contains("THROTTLED");
                if (!response.IsSuccessStatusCode && !throttled)
                {
                    throw Failure(response, body);
                }

                if (body?["extensions"]?["cost"] is JObject costInfo)
                {
                    var status = costInfo["throttleStatus"];
                    limiter.Update(
                        session.Shop,
                        status?.Value<double?>("maximumAvailable") ?? Options.MaxQueryCost,
                        status?.Value<double?>("currentlyAvailable") ?? 0,
                        status?.Value<double?>("restoreRate") ?? 50);
                }

                if (response.Header("X-Shopify-API-Version") is { } served && served != ApiVersion(session))
                {
                    session.Warnings.Add($"Shopify served API version {served} instead of {ApiVersion(session)}; the configured version is no longer supported.");
                }

                if (throttled)
                {
                    // Never a failure: wait for the bucket to hold this query's cost, then ask again.
                    var again = limiter.WaitFor(session.Shop, cost);
                    again = again < TimeSpan.FromMilliseconds(250) ? TimeSpan.FromMilliseconds(250) : again;
                    if (clock.GetUtcNow() + again > deadline)
                    {
                        throw new ConnectorTransientException("Shopify kept throttling the sync.", again);
                    }

                    logger.LogDebug("Shopify throttled {Shop}; waiting {Wait}", session.Shop, again);
                    await Task.Delay(again, clock, ct).ConfigureAwait(false);
                    continue;
                }

                return Interpret(session, body ?? throw new ConnectorTransientException("Shopify answered with an empty body."));
            }
        }
    }

    private static GraphQLResult Interpret(Session session, JObject body)
    {
        var data = body["data"] as JObject;
        var errors = body["errors"] as JArray;
        if (errors is { Count: > 0 })
        {
            var codes = Codes(body);
            var messages = string.Join("; ", errors.Select(e => e.Value<string>("message")));
            if (codes.Contains("MAX_COST_EXCEEDED"))
            {
                throw new ConnectorValidationException($"Shopify refused the query as too costly: {messages}");
            }

            var noData = data is null || data.Properties().All(p => p.Value.Type == JTokenType.Null);
            if (noData)
            {
                throw codes.Contains("ACCESS_DENIED")
                    ? new ConnectorValidationException($"Shopify denied access: {messages}")
                    : new ConnectorException($"Shopify answered with errors: {messages}");
            }

            // Partial data. Protected customer data not approved for the app comes back null with ACCESS_DENIED: the
            // rest of the record is usable, and the merchant is told why names and emails are missing.
            session.Warnings.Add(codes.Count > 0 && codes.All(c => c == "ACCESS_DENIED")
                ? $"Shopify withheld protected customer data (name, email, phone, address) from this app: {messages}"
                : $"Shopify answered with errors: {messages}");
        }

        return new GraphQLResult(data);
    }

    private static HashSet<string> Codes(JObject body) =>
        (body["errors"] as JArray ?? []).Select(e => e["extensions"]?.Value<string>("code")).OfType<string>().ToHashSet(StringComparer.Ordinal);

    private static ConnectorException Failure(IApiResponse response, JObject? body)
    {
        var detail = body?["errors"] switch
        {
            JArray a => string.Join("; ", a.Select(e => e.Type == JTokenType.Object ? e.Value<string>("message") : e.ToString())),
            JValue v => v.ToString(CultureInfo.InvariantCulture),
            _ => response.ReasonPhrase,
        };
        var status = response.Status();
        var message = $"Shopify answered {status}: {detail}";
        return response.StatusCode switch
        {
            HttpStatusCode.Unauthorized => new ConnectorValidationException($"Shopify rejected the access token ({detail}); reconnect the store."),
            HttpStatusCode.PaymentRequired => new ConnectorValidationException($"The shop is frozen for an unpaid bill ({detail})."),
            HttpStatusCode.Forbidden => new ConnectorValidationException($"The app lacks a scope this read needs ({detail})."),
            HttpStatusCode.NotFound => new ConnectorValidationException($"Shopify does not know this shop or API version ({detail})."),
            HttpStatusCode.Locked => new ConnectorValidationException($"The shop is locked ({detail})."),
            HttpStatusCode.TooManyRequests => new ConnectorTransientException(message, ConnectorHttp.RetryAfterOf(response, TimeSpan.FromMinutes(1))),
            _ when status >= 500 || status == 408 => new ConnectorTransientException(message),
            _ => new ConnectorValidationException(message),
        };
    }

    private async Task<string> AccessTokenAsync(Session session, bool force, CancellationToken ct)
    {
        var secrets = session.Connection.Secrets;
        var token = secrets.Value<string>("accessToken");
        if (string.IsNullOrEmpty(token))
        {
            throw new ConnectorValidationException("The Shopify connection has no access token; connect the store first.");
        }

        if (!force && !ExpiresSoon(secrets))
        {
            return token;
        }

        if (secrets.Value<string>("refreshToken") is null)
        {
            if (force)
            {
                throw new ConnectorValidationException("Shopify rejected the access token and there is no refresh token; reconnect the store.");
            }

            return token;
        }

        // One refresh at a time per connection in this process: Shopify replaces the refresh token on every use.
        var gate = RefreshLocks.GetOrAdd($"{session.Connection.TenantId}/{session.Connection.ConnectionId}", _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var current = session.Connection.Secrets;
            if (!force && !ExpiresSoon(current))
            {
                return current.Value<string>("accessToken")!;
            }

            var renewed = await auth.RefreshAsync(session.Shop, current, ct).ConfigureAwait(false);
            await session.Connection.UpdateSecretsAsync(renewed, ct).ConfigureAwait(false);
            logger.LogInformation("Refreshed the Shopify access token of connection {Connection}", session.Connection.ConnectionId);
            return renewed.Value<string>("accessToken")!;
        }
        finally
        {
            gate.Release();
        }
    }

    // A token without an expiry (a custom app's or private app's token) never expires.
    private bool ExpiresSoon(JObject secrets) =>
        secrets.Value<string>("expiresAt") is not null && ConnectorHttp.ExpiresWithin(secrets, "expiresAt", clock, Options.RefreshBeforeExpiry);

    private string ApiVersion(Session session) => session.Connection.Settings.Value<string>("apiVersion") ?? Options.ApiVersion;

    private static string ShopOf(ConnectionContext connection) => ShopifyAuth.NormalizeShop(connection.Settings.Value<string>("shop"));

    private static string Search(DateTimeOffset start, DateTimeOffset end) =>
        $"updated_at:>='{start.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)}' AND updated_at:<='{end.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)}'";

    private static DateTimeOffset? MaxUpdated(IEnumerable<JObject> records)
    {
        DateTimeOffset? max = null;
        foreach (var r in records)
        {
            if (r.Value<string>("updatedAt") is { } s && DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var at) && (max is null || at > max))
            {
                max = at;
            }
        }

        return max;
    }


    private sealed record GraphQLResult(JObject? Data);

    private sealed class Session(ConnectionContext connection, string shop)
    {
        public ConnectionContext Connection { get; } = connection;
        public string Shop { get; } = shop;
        public List<string> Warnings { get; } = [];
    }
}

/// <summary>The opaque cursor of a Shopify read: a GraphQL page cursor, or a bulk operation and a byte offset in its result.</summary>
internal sealed record ShopifyCursor
{
    public const string PageMode = "page";
    public const string BulkMode = "bulk";

    [JsonProperty("m")] public string Mode { get; init; } = PageMode;
    [JsonProperty("after", NullValueHandling = NullValueHandling.Ignore)] public string? After { get; init; }
    [JsonProperty("bulk", NullValueHandling = NullValueHandling.Ignore)] public string? BulkId { get; init; }
    [JsonProperty("off")] public long Offset { get; init; }
    [JsonProperty("tries")] public int Tries { get; init; } = 1;

    public string Serialize() => JsonConvert.SerializeObject(this);

    public static ShopifyCursor? Parse(string? cursor)
    {
        if (string.IsNullOrEmpty(cursor))
        {
            return null;
        }

        try
        {
            return JsonConvert.DeserializeObject<ShopifyCursor>(cursor) ?? throw new ConnectorValidationException("Empty Shopify cursor.");
        }
        catch (JsonException ex)
        {
            throw new ConnectorValidationException($"The Shopify cursor '{cursor}' is not one this connector wrote.", ex);
        }
    }
}

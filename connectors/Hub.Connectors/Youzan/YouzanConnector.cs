using System.Collections.Concurrent;
using System.Globalization;
using System.Text.RegularExpressions;
using Hub.Connectors.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using Refit;

namespace Hub.Connectors.Youzan;

/// <summary>
/// 有赞 Youzan store connector. Orders come from <c>youzan.trades.sold.get</c> 4.0.4 by update-time windows of at most a
/// day, and each window is narrowed until it fits in one page of 100. Rows move between pages while a shop is busy,
/// and page-number paging would skip one; a single-page window cannot. Members come from
/// <c>youzan.scrm.customer.list</c> by creation windows (it has no update filter; changes arrive as SCRM_CUSTOMER_EVENT
/// pushes). Errors inside HTTP 200 bodies are typed: token errors refresh once, flow limits are waited out. Encrypted
/// PII (<c>$…$1$</c>) is decrypted where the shop allows; otherwise it stays encrypted and never joins profiles.
/// </summary>
public sealed partial class YouzanConnector(IYouzanApi api, IOptions<YouzanOptions> options, TimeProvider clock, ILogger<YouzanConnector> logger) : IStoreConnector, IOAuthInstaller
{
    public const string Id = "youzan";
    public const int TradesPageSize = 100;
    public const int CustomersPageSize = 50;
    private static readonly ConcurrentDictionary<string, SemaphoreSlim> TokenLocks = new(StringComparer.Ordinal);

    public ConnectorInfo Info { get; } = new(
        Id,
        "有赞 Youzan",
        ConnectorKind.Store,
        "app-key",
        [
            new StreamInfo("orders", "update_time", TimeSpan.FromMinutes(15), TimeSpan.FromDays(1)),
            new StreamInfo("customers", "created_at", TimeSpan.FromHours(6), TimeSpan.FromDays(30)),
        ],
        "https://doc.youzanyun.com/")
    {
        WebhookTopics = ["trade_TradeCreate", "trade_TradePaid", "trade_TradeBuyerPay", "trade_TradeSellerShip", "trade_TradeSuccess", "trade_TradeClose", "SCRM_CUSTOMER_EVENT"],
        RateLimit = "By the shop's package (e.g. 20 QPS); flow limits answer 4101 or 500100004 inside HTTP 200.",
    };

    private YouzanOptions Options => options.Value;

    public async Task TestConnectionAsync(ConnectionContext connection, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        await CallAsync(connection, "youzan.trades.sold.get", "4.0.4", TradesQuery(now.AddMinutes(-5), now, 1, 1), new List<string>(), cancellationToken).ConfigureAwait(false);
    }

    public WebhookBatch ParseWebhook(WebhookRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var secrets = request.Connection.Secrets;
        return YouzanPush.Parse(request, secrets.Value<string>("clientId"), secrets.Value<string>("clientSecret"), KdtId(request.Connection));
    }

    public async Task<PullPage> PullAsync(PullRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var warnings = new List<string>();
        var page = request.Stream switch
        {
            "orders" => await PullTradesAsync(request, warnings, cancellationToken).ConfigureAwait(false),
            "customers" => await PullCustomersAsync(request, warnings, cancellationToken).ConfigureAwait(false),
            _ => throw new ConnectorValidationException($"Youzan has no stream '{request.Stream}'."),
        };
        if (Options.Decrypt && page.Records.Count > 0)
        {
            await DecryptAsync(request.Connection, page.Records, warnings, cancellationToken).ConfigureAwait(false);
        }

        return warnings.Count == 0 ? page : page with { Warnings = warnings.Distinct().ToList() };
    }

    /// <summary>
    /// One window [s, s + w] per call: if it holds more than a page, the records are kept (reads are idempotent) and the
    /// window shrinks in proportion for the next call; when it fits, the next window starts where it ended.
    /// </summary>
    private async Task<PullPage> PullTradesAsync(PullRequest request, List<string> warnings, CancellationToken ct)
    {
        var cursor = TimeWindowCursor.Parse(request.Cursor, "Youzan");
        var start = cursor?.Start ?? request.WindowStart;
        var width = cursor?.Width ?? Min(Options.MaxWindow, request.WindowEnd - start);
        var end = Min(Floor(start) + width, request.WindowEnd);
        start = Floor(start);
        var pageNo = cursor?.Page ?? 1;
        var json = await CallAsync(request.Connection, "youzan.trades.sold.get", "4.0.4", TradesQuery(start, end, pageNo, TradesPageSize), warnings, ct).ConfigureAwait(false);
        var data = json["data"] as JObject ?? [];
        var records = (data["full_order_info_list"] as JArray ?? []).OfType<JObject>().ToList();
        var total = data.Value<int?>("total_results") ?? data["paginator"]?.Value<int?>("total_count") ?? records.Count;
        var max = BeijingTime.Max(records, r => r["full_order_info"]?["order_info"]?.Value<string>("update_time") ?? r["full_order_info"]?["order_info"]?.Value<string>("created"));
        TimeWindowCursor? next;
        if (total > TradesPageSize && end - start > TimeSpan.FromSeconds(1) && cursor?.Page is null)
        {
            // Too many for one page: narrow the window so it fits, with a margin for orders still arriving. This page's
            // rows are dropped: the narrower windows read them again, and a trade is handed on once.
            var narrower = TimeSpan.FromSeconds(Math.Max(1, (end - start).TotalSeconds * TradesPageSize * 0.8 / total));
            return new PullPage([], new TimeWindowCursor { Start = start, Width = narrower }.Serialize(), true, null);
        }
        else if (total > pageNo * TradesPageSize)
        {
            // More than a page within one second: page through it (re-reads are harmless, writes key on tid).
            next = new TimeWindowCursor { Start = start, Width = end - start, Page = pageNo + 1 };
        }
        else
        {
            // Both bounds are inclusive and times have one-second resolution: the next window starts a second later.
            var grown = Min(Options.MaxWindow, TimeSpan.FromSeconds((end - start).TotalSeconds * 2));
            next = end >= request.WindowEnd ? null : new TimeWindowCursor { Start = end.AddSeconds(1), Width = grown };
        }

        return new PullPage(records, next?.Serialize(), next is not null, max);
    }

    private async Task<PullPage> PullCustomersAsync(PullRequest request, List<string> warnings, CancellationToken ct)
    {
        var cursor = TimeWindowCursor.Parse(request.Cursor, "Youzan");
        var pageNo = cursor?.Page ?? 1;
        var body = new JObject
        {
            ["created_at_start"] = request.WindowStart.ToUnixTimeSeconds(),
            ["created_at_end"] = request.WindowEnd.ToUnixTimeSeconds(),
            ["page_no"] = pageNo,
            ["page_size"] = CustomersPageSize,
        };
        var json = await CallAsync(request.Connection, "youzan.scrm.customer.list", "1.0.0", body, warnings, ct).ConfigureAwait(false);
        var data = json["data"] as JObject ?? [];
        var records = (data["record_list"] as JArray ?? []).OfType<JObject>().ToList();
        var total = data.Value<int?>("total") ?? records.Count;
        if (total > 10_000)
        {
            warnings.Add($"Youzan lists at most 10,000 customers per query and this window holds {total}; the rest arrive through SCRM_CUSTOMER_EVENT pushes or a narrower backfill window.");
        }

        var more = records.Count == CustomersPageSize && pageNo * CustomersPageSize < Math.Min(total, 10_000);
        DateTimeOffset? max = null;
        foreach (var r in records)
        {
            if (Epoch(r["created_at"]) is { } at && (max is null || at > max))
            {
                max = at;
            }
        }

        return new PullPage(records, more ? new TimeWindowCursor { Page = pageNo + 1 }.Serialize() : null, more, max);
    }

    private static JObject TradesQuery(DateTimeOffset start, DateTimeOffset end, int pageNo, int pageSize) => new()
    {
        ["start_update"] = Local(start),
        ["end_update"] = Local(end),
        ["page_no"] = pageNo,
        ["page_size"] = pageSize,
    };

    /// <summary>
    /// Replaces encrypted values (<c>$…$1$</c>) with their plain text through youzan.cloud.secret.decrypt.batch, when
    /// the shop's authorisation allows it; otherwise they stay encrypted (the identity rules never match them).
    /// </summary>
    private async Task DecryptAsync(ConnectionContext connection, IReadOnlyList<JObject> records, List<string> warnings, CancellationToken ct)
    {
        var cipherValues = records.SelectMany(r => r.Descendants().OfType<JValue>()).Where(v => v.Type == JTokenType.String && Encrypted().IsMatch((string)v.Value!)).ToList();
        if (cipherValues.Count == 0)
        {
            return;
        }

        var plain = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var chunk in cipherValues.Select(v => (string)v.Value!).Distinct().Chunk(100))
        {
            try
            {
                var json = await CallAsync(connection, "youzan.cloud.secret.decrypt.batch", "1.0.0", new JObject { ["sources"] = new JArray(chunk) }, warnings, ct).ConfigureAwait(false);
                foreach (var (cipher, value) in json["data"] as JObject ?? [])
                {
                    if (value?.Type == JTokenType.String)
                    {
                        plain[cipher] = value.ToString();
                    }
                }
            }
            catch (ConnectorValidationException ex)
            {
                warnings.Add($"Youzan would not decrypt customer data for this shop ({ex.PlatformCode}); names and phones stay encrypted and are not used to join profiles.");
                return;
            }
        }

        foreach (var v in cipherValues)
        {
            if (plain.TryGetValue((string)v.Value!, out var text))
            {
                v.Value = text;
            }
        }
    }

    /// <summary>
    /// One API call with a live token. Gateway errors (<c>gw_err_resp</c>) and business errors (<c>success:false</c>)
    /// arrive inside HTTP 200: 4201/4202/4203 refresh the token once, 4101 and 500100004 are waited out.
    /// </summary>
    private async Task<JObject> CallAsync(ConnectionContext connection, string name, string version, JObject body, List<string> warnings, CancellationToken ct)
    {
        var deadline = clock.GetUtcNow() + Options.ThrottleWaitBudget;
        var refreshed = false;
        for (var attempt = 1; ; attempt++)
        {
            var token = await TokenAsync(connection, force: false, ct).ConfigureAwait(false);
            var json = await ConnectorHttp.ReadJsonAsync(() => api.CallAsync(Options.ApiBaseUrl, name, version, token, body, ct), "Youzan").ConfigureAwait(false);

            var (code, message) = Error(json);
            if (code is null)
            {
                return json;
            }

            if (code is "4201" or "4202" or "4203" && !refreshed)
            {
                refreshed = true;
                await TokenAsync(connection, force: true, ct).ConfigureAwait(false);
                continue;
            }

            if (code is "4101" or "500100004" or "123000042")
            {
                var wait = TimeSpan.FromSeconds(Math.Min(48, 3 * Math.Pow(2, attempt - 1))); // Youzan's advice: 3, 6, 12, 24, 48 s
                if (clock.GetUtcNow() + wait > deadline)
                {
                    throw new ConnectorTransientException($"Youzan kept limiting the calls ({code}: {message}).", wait) { PlatformCode = code };
                }

                logger.LogInformation("Youzan flow limit {Code}; waiting {Wait}", code, wait);
                await Task.Delay(wait, clock, ct).ConfigureAwait(false);
                continue;
            }

            throw code switch
            {
                "4201" or "4202" or "4203" => new ConnectorValidationException($"Youzan refused the access token ({code}: {message}); re-authorise the app for this shop.") { PlatformCode = code },
                "4204" => new ConnectorValidationException($"Youzan says the app lacks the capability for {name} ({message}); subscribe the API pack.") { PlatformCode = code },
                "4007" => new ConnectorValidationException($"Youzan refused the request ({message}); check the server's IP is on the app's whitelist.") { PlatformCode = code },
                "4001" or "4004" or "4005" or "106000001" or "106000003" => new ConnectorValidationException($"Youzan refused {name} ({code}: {message}).") { PlatformCode = code },
                _ when code.StartsWith('5') && code.Length <= 4 => new ConnectorTransientException($"Youzan failed {name} ({code}: {message}).") { PlatformCode = code },
                _ => new ConnectorException($"Youzan refused {name} ({code}: {message}).") { PlatformCode = code },
            };
        }
    }

    private static (string? Code, string? Message) Error(JObject json)
    {
        if (json["gw_err_resp"] is JObject gw)
        {
            return (gw.Value<string>("err_code") ?? "gateway", gw.Value<string>("err_msg"));
        }

        if (json.Value<bool?>("success") == false)
        {
            return (json.Value<string>("code") ?? "unknown", json.Value<string>("message"));
        }

        return (null, null);
    }

    /// <summary>The cached access token, or a new one through silent authorisation (single-flight per connection).</summary>
    private async Task<string> TokenAsync(ConnectionContext connection, bool force, CancellationToken ct)
    {
        var secrets = connection.Secrets;
        if (!force && secrets.Value<string>("accessToken") is { Length: > 0 } cached && !ConnectorHttp.ExpiresWithin(secrets, "expiresAt", clock, Options.RefreshBeforeExpiry))
        {
            return cached;
        }

        var gate = TokenLocks.GetOrAdd($"{connection.TenantId}/{connection.ConnectionId}", _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var current = connection.Secrets;
            if (current.Value<string>("accessToken") is { Length: > 0 } fresh && fresh != secrets.Value<string>("accessToken") && !ConnectorHttp.ExpiresWithin(current, "expiresAt", clock, Options.RefreshBeforeExpiry))
            {
                return fresh;
            }

            var body = current.Value<string>("refreshToken") is { Length: > 0 } refresh
                ? new JObject { ["client_id"] = current.Value<string>("clientId"), ["client_secret"] = current.Value<string>("clientSecret"), ["authorize_type"] = "refresh_token", ["refresh_token"] = refresh }
                : new JObject { ["client_id"] = current.Value<string>("clientId"), ["client_secret"] = current.Value<string>("clientSecret"), ["authorize_type"] = "silent", ["grant_id"] = KdtId(connection), ["refresh"] = force };
            var json = await ConnectorHttp.ReadJsonAsync(() => api.TokenAsync(Options.ApiBaseUrl, body, ct), "Youzan's token endpoint").ConfigureAwait(false);

            if (json.Value<bool?>("success") != true || json["data"]?.Value<string>("access_token") is not { } token)
            {
                var code = json.Value<string>("code");
                throw new ConnectorValidationException($"Youzan refused the app's credentials ({code}: {json.Value<string>("message")}).") { PlatformCode = code };
            }

            var renewed = (JObject)current.DeepClone();
            renewed["accessToken"] = token;
            renewed["expiresAt"] = (Epoch(json["data"]!["expires"]) ?? clock.GetUtcNow().AddDays(7)).ToString("O", CultureInfo.InvariantCulture);
            if (json["data"]!.Value<string>("refresh_token") is { Length: > 0 } newRefresh)
            {
                renewed["refreshToken"] = newRefresh;
            }

            await connection.UpdateSecretsAsync(renewed, ct).ConfigureAwait(false);
            return token;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>
    /// Tool apps (工具型): the merchant authorises at Youzan, which sends a code (valid two minutes, single use) to the
    /// callback; self-use apps need no install, only the shop's kdt_id and silent authorisation.
    /// </summary>
    public OAuthStart BeginInstall(OAuthBegin request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var clientId = Options.ClientId ?? throw new ConnectorValidationException("The Youzan tool app has no client id (Hub:Connectors:Youzan:ClientId).");
        var url = $"{Options.ApiBaseUrl.TrimEnd('/')}/auth/authorize?response_type=code&client_id={Uri.EscapeDataString(clientId)}" +
                  $"&redirect_uri={Uri.EscapeDataString(request.RedirectUri.ToString())}&state={Uri.EscapeDataString(request.State)}";
        return new OAuthStart(new Uri(url), request.Account);
    }

    public async Task<OAuthGrant> CompleteInstallAsync(OAuthCallback callback, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(callback);
        callback.VerifyState("Youzan");

        var code = callback.Query.GetValueOrDefault("code") ?? throw new ConnectorValidationException("The Youzan callback has no code.");
        var json = await ConnectorHttp.ReadJsonAsync(() => api.TokenAsync(Options.ApiBaseUrl, new JObject
        {
            ["client_id"] = Options.ClientId,
            ["client_secret"] = Options.ClientSecret,
            ["authorize_type"] = "authorization_code",
            ["code"] = code,
            ["redirect_uri"] = callback.RedirectUri.ToString(),
        }, cancellationToken), "Youzan's token endpoint").ConfigureAwait(false);
        if (json.Value<bool?>("success") != true || json["data"] is not JObject data || data.Value<string>("access_token") is null)
        {
            throw new ConnectorValidationException($"Youzan refused the authorisation code ({json.Value<string>("code")}: {json.Value<string>("message")}).") { PlatformCode = json.Value<string>("code") };
        }

        var kdtId = data.Value<string>("authority_id") ?? throw new ConnectorValidationException("Youzan's token answer names no shop (authority_id).");
        var secrets = new JObject
        {
            ["clientId"] = Options.ClientId,
            ["clientSecret"] = Options.ClientSecret,
            ["accessToken"] = data.Value<string>("access_token"),
            ["refreshToken"] = data.Value<string>("refresh_token"),
            ["expiresAt"] = (Epoch(data["expires"]) ?? clock.GetUtcNow().AddDays(7)).ToString("O", CultureInfo.InvariantCulture),
        };
        return new OAuthGrant(kdtId, secrets, new JObject { ["kdtId"] = kdtId });
    }

    private static string KdtId(ConnectionContext connection) =>
        connection.Settings.Value<string>("kdtId") is { Length: > 0 } id ? id : throw new ConnectorValidationException("The Youzan connection needs the shop's kdt_id.");

    internal static string Local(DateTimeOffset at) => BeijingTime.Format(at);

    /// <summary>Epoch seconds or milliseconds (Youzan's documents disagree; both are accepted).</summary>
    internal static DateTimeOffset? Epoch(JToken? token) =>
        token?.Type is JTokenType.Integer or JTokenType.Float or JTokenType.String && long.TryParse(token.ToString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v)
            ? (v > 100_000_000_000 ? DateTimeOffset.FromUnixTimeMilliseconds(v) : DateTimeOffset.FromUnixTimeSeconds(v))
            : null;


    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static DateTimeOffset Floor(DateTimeOffset at) => BeijingTime.Floor(at);

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    [GeneratedRegex(@"^\$[A-Za-z0-9+/=]+\$\d+\$$")]
    private static partial Regex Encrypted();
}

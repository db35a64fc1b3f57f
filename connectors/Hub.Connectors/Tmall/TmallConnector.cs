using System.Globalization;
using System.Text.RegularExpressions;
using Hub.Connectors.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using Refit;

namespace Hub.Connectors.Tmall;

/// <summary>
/// Tmall/Taobao store connector on the TOP gateway. Orders: <c>taobao.trades.sold.increment.get</c> by modified
/// windows of at most a day, narrowed until a window fits one page of 100 (<c>use_has_next</c>, newest first: rows
/// move while a shop is busy, and a single page cannot skip one), then <c>taobao.trade.fullinfo.get</c> per trade
/// for the fields the rules read. Members: <c>taobao.crm.members.increment.get.privy</c> by modified window. Buyer
/// identity is <c>buyer_open_uid</c>/<c>ouid</c>/<c>omid</c>; nicks and receivers are masked and OAID changes weekly,
/// so none of those ever joins profiles. Errors come as <c>error_response</c> in HTTP 200: a flow-control ban
/// (code 7, "This ban will last for N more seconds") is waited out or handed back with its wait.
/// </summary>
public sealed partial class TmallConnector(ITmallApi api, IOptions<TmallOptions> options, TimeProvider clock, ILogger<TmallConnector> logger) : IStoreConnector
{
    public const string Id = "tmall";
    public const int PageSize = 100;

    public ConnectorInfo Info { get; } = new(
        Id,
        "天猫/淘宝 Tmall/Taobao",
        ConnectorKind.Store,
        "app-key",
        [
            new StreamInfo("orders", "modified", TimeSpan.FromMinutes(15), TimeSpan.FromDays(1)),
            new StreamInfo("customers", "modified", TimeSpan.FromHours(6), TimeSpan.FromDays(1)),
        ],
        "https://open.taobao.com/api.htm?docId=128&docType=2")
    {
        Scopes = ["交易 (trade)", "CRM 会员 (crm privy)"],
        RateLimit = "Per app and API by the app's tier; over it, code 7 bans the app for N seconds (accesscontrol.limited-by-*).",
    };

    private TmallOptions Options => options.Value;

    public async Task TestConnectionAsync(ConnectionContext connection, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        await CallAsync(connection, "taobao.trades.sold.increment.get", new Dictionary<string, string>
        {
            ["fields"] = "tid",
            ["start_modified"] = Local(now.AddMinutes(-5)),
            ["end_modified"] = Local(now),
            ["page_no"] = "1",
            ["page_size"] = "1",
            ["use_has_next"] = "true",
        }, cancellationToken).ConfigureAwait(false);
    }

    public async Task<PullPage> PullAsync(PullRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Stream is not ("orders" or "customers"))
        {
            throw new ConnectorValidationException($"Tmall has no stream '{request.Stream}'.");
        }

        var cursor = TimeWindowCursor.Parse(request.Cursor, "Tmall");
        var start = Floor(cursor?.Start ?? request.WindowStart);
        var width = cursor?.Width ?? Min(Options.MaxWindow, request.WindowEnd - start);
        var end = Min(start + width, request.WindowEnd);
        var page = cursor?.Page ?? 1;
        var (records, hasNext) = request.Stream == "orders"
            ? await TradeSummariesAsync(request.Connection, start, end, page, cancellationToken).ConfigureAwait(false)
            : await MembersAsync(request.Connection, start, end, page, cancellationToken).ConfigureAwait(false);
        TimeWindowCursor? next;
        if (hasNext && end - start > TimeSpan.FromSeconds(1) && cursor?.Page is null)
        {
            // More than a page: narrow the window before asking for any detail, so no trade's details are fetched twice.
            next = new TimeWindowCursor { Start = start, Width = TimeSpan.FromSeconds(Math.Max(1, (end - start).TotalSeconds / 4)) };
            return new PullPage([], next.Serialize(), true, null);
        }
        else if (hasNext)
        {
            next = new TimeWindowCursor { Start = start, Width = end - start, Page = page + 1 }; // more than a page in one second
        }
        else
        {
            // Both bounds are inclusive at one-second resolution: the next window starts a second later, so no trade repeats.
            next = end >= request.WindowEnd ? null : new TimeWindowCursor { Start = end.AddSeconds(1), Width = Min(Options.MaxWindow, TimeSpan.FromSeconds((end - start).TotalSeconds * 2)) };
        }

        if (request.Stream == "orders")
        {
            records = await FullInfoAsync(request.Connection, records, cancellationToken).ConfigureAwait(false);
        }

        var result = new PullPage(records, next?.Serialize(), next is not null, BeijingTime.Max(records, r => r.Value<string>("modified")));
        return request.Stream == "orders" && request.WindowStart < clock.GetUtcNow().AddDays(-90)
            ? result with { Warnings = ["TOP keeps only the last 3 months of trades: older orders of this window cannot be read."] }
            : result;
    }

    private async Task<(List<JObject>, bool)> TradeSummariesAsync(ConnectionContext connection, DateTimeOffset start, DateTimeOffset end, int page, CancellationToken ct)
    {
        var json = await CallAsync(connection, "taobao.trades.sold.increment.get", new Dictionary<string, string>
        {
            ["fields"] = "tid,modified",
            ["start_modified"] = Local(start),
            ["end_modified"] = Local(end),
            ["page_no"] = page.ToString(CultureInfo.InvariantCulture),
            ["page_size"] = PageSize.ToString(CultureInfo.InvariantCulture),
            ["use_has_next"] = "true",
        }, ct).ConfigureAwait(false);
        var body = json["trades_sold_increment_get_response"] ?? throw new ConnectorException("TOP answered without trades_sold_increment_get_response.");
        var summaries = (body["trades"]?["trade"] as JArray ?? []).OfType<JObject>().ToList();
        return (summaries, body.Value<bool?>("has_next") == true);
    }

    /// <summary>The summary carries only tid and modified: one <c>taobao.trade.fullinfo.get</c> per trade for the rest.</summary>
    private async Task<List<JObject>> FullInfoAsync(ConnectionContext connection, List<JObject> summaries, CancellationToken ct)
    {
        var trades = new List<JObject>(summaries.Count);
        foreach (var tid in summaries.Select(s => s.Value<string>("tid")).Where(t => t is not null).Distinct())
        {
            var full = await CallAsync(connection, "taobao.trade.fullinfo.get", new Dictionary<string, string> { ["tid"] = tid!, ["fields"] = Options.TradeFields }, ct).ConfigureAwait(false);
            if (full["trade_fullinfo_get_response"]?["trade"] is JObject trade)
            {
                trades.Add(trade);
            }
        }

        return trades;
    }

    private async Task<(List<JObject>, bool)> MembersAsync(ConnectionContext connection, DateTimeOffset start, DateTimeOffset end, int page, CancellationToken ct)
    {
        var json = await CallAsync(connection, "taobao.crm.members.increment.get.privy", new Dictionary<string, string>
        {
            ["start_modify"] = Local(start),
            ["end_modify"] = Local(end),
            ["current_page"] = page.ToString(CultureInfo.InvariantCulture),
            ["page_size"] = PageSize.ToString(CultureInfo.InvariantCulture),
        }, ct).ConfigureAwait(false);
        var body = json["crm_members_increment_get_privy_response"] ?? throw new ConnectorException("TOP answered without crm_members_increment_get_privy_response.");
        var members = (body["members"]?["basic_member"] as JArray ?? []).OfType<JObject>().ToList();
        var total = body.Value<int?>("total_result") ?? members.Count;
        return (members, page * PageSize < total);
    }

    /// <summary>One signed call; a ban (code 7) within the budget is slept through and the call asked again.</summary>
    private async Task<JObject> CallAsync(ConnectionContext connection, string method, Dictionary<string, string> parameters, CancellationToken ct)
    {
        var secrets = connection.Secrets;
        var appKey = secrets.Value<string>("appKey");
        var appSecret = secrets.Value<string>("appSecret");
        var session = secrets.Value<string>("session");
        if (string.IsNullOrEmpty(appKey) || string.IsNullOrEmpty(appSecret) || string.IsNullOrEmpty(session))
        {
            throw new ConnectorValidationException("The Tmall connection needs the app key, app secret and the seller's session.");
        }

        var deadline = clock.GetUtcNow() + Options.BanWaitBudget;
        while (true)
        {
            var form = new Dictionary<string, string>(parameters)
            {
                ["method"] = method,
                ["app_key"] = appKey,
                ["session"] = session,
                ["timestamp"] = Local(clock.GetUtcNow()),
                ["v"] = "2.0",
                ["format"] = "json",
                ["sign_method"] = Options.SignMethod,
            };
            form["sign"] = TopSigner.Sign(form, appSecret, Options.SignMethod);
            var json = await ConnectorHttp.ReadJsonAsync(() => api.CallAsync(Options.GatewayUrl, form, ct), "The TOP gateway").ConfigureAwait(false);

            if (json["error_response"] is not JObject error)
            {
                return json;
            }

            var code = error.Value<string>("code") ?? "";
            var subCode = error.Value<string>("sub_code");
            var message = $"TOP {method} failed: {code} {error.Value<string>("msg")}{(subCode is null ? "" : $" ({subCode}: {error.Value<string>("sub_msg")})")}";
            if (code == "7")
            {
                var ban = BanSeconds().Match(error.Value<string>("sub_msg") ?? "") is { Success: true } m
                    ? TimeSpan.FromSeconds(int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) + 1)
                    : TimeSpan.FromSeconds(10);
                if (clock.GetUtcNow() + ban > deadline)
                {
                    throw new ConnectorTransientException(message, ban) { PlatformCode = subCode ?? code };
                }

                logger.LogInformation("TOP banned the app for {Ban} ({SubCode}); waiting", ban, subCode);
                await Task.Delay(ban, clock, ct).ConfigureAwait(false);
                continue;
            }

            throw code switch
            {
                "25" => new ConnectorValidationException(message + ". The app secret is wrong.") { PlatformCode = code },
                "26" or "27" => new ConnectorValidationException(message + ". The seller's session expired or was revoked: authorise the app again.") { PlatformCode = code },
                "28" or "29" => new ConnectorValidationException(message + ". The app key is wrong.") { PlatformCode = code },
                "11" => new ConnectorValidationException(message + ". The app lacks the permission pack for this API.") { PlatformCode = code },
                "15" when subCode?.StartsWith("isp.", StringComparison.Ordinal) == true => new ConnectorTransientException(message) { PlatformCode = subCode },
                _ => new ConnectorValidationException(message) { PlatformCode = subCode ?? code },
            };
        }
    }

    internal static string Local(DateTimeOffset at) => BeijingTime.Format(at);


    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static DateTimeOffset Floor(DateTimeOffset at) => BeijingTime.Floor(at);

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    [GeneratedRegex(@"last for (\d+) more seconds")]
    private static partial Regex BanSeconds();
}

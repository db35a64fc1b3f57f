using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Bogus;
using Hub.Sandbox.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Hub.Sandbox.Tmall;

public sealed class TmallTrade
{
    public long Tid { get; init; }
    public string Status { get; set; } = "TRADE_FINISHED";
    public DateTimeOffset Created { get; init; }
    public DateTimeOffset Modified { get; set; }
    public string BuyerOpenUid { get; init; } = "";
    public string Ouid { get; init; } = "";
    public decimal Payment { get; init; }
    public List<(string Sku, string Title, int Num, decimal Price)> Lines { get; init; } = [];
}

/// <summary>
/// A TOP gateway stand-in for one seller: signed form calls to <c>/router/rest</c> (md5 / hmac / hmac-sha256 recomputed,
/// 25 on a wrong sign, 31 on a timestamp off by more than 10 minutes, 27 on a bad session, 29 on a bad app key, 22 on an
/// unknown method), <c>taobao.trades.sold.increment.get</c> (modified window ≤ 1 day, page_size ≤ 100, use_has_next,
/// newest first, the last 3 months only), <c>taobao.trade.fullinfo.get</c> with a field projection,
/// <c>taobao.crm.members.increment.get.privy</c>, masked nicks and receivers, weekly OAIDs, and flow-control bans
/// (code 7, "This ban will last for N more seconds"). Every error is an <c>error_response</c> in HTTP 200.
/// </summary>
public sealed class TmallSandbox(TimeProvider? clock = null) : SandboxServer(clock)
{
    private static readonly TimeSpan Beijing = TimeSpan.FromHours(8);
    private readonly object _gate = new();
    private int _banSeconds;

    public string AppKey { get; } = "12345678";
    public string AppSecret { get; } = Guid.NewGuid().ToString("N");
    public string Session { get; } = "6100" + Guid.NewGuid().ToString("N");
    public List<TmallTrade> Trades { get; } = [];
    public List<JObject> Members { get; } = [];

    /// <summary>The next call is refused with a ban of this many seconds.</summary>
    public void BanNext(int seconds) => _banSeconds = seconds;

    public void Seed(IReadOnlyList<SandboxPerson> people, int trades, int days = 30, int seed = 23)
    {
        var faker = new Faker("zh_CN") { Random = new Randomizer(seed) };
        var now = Seconds(Clock.GetUtcNow());
        lock (_gate)
        {
            for (var i = 0; i < trades; i++)
            {
                var p = people[faker.Random.Int(0, people.Count - 1)];
                var created = now.AddSeconds(-faker.Random.Int(120, days * 86400));
                var lines = Enumerable.Range(0, faker.Random.Int(1, 3)).Select(_ => ("TM-" + faker.Random.Int(100, 999).ToString(CultureInfo.InvariantCulture), faker.Commerce.ProductName(), faker.Random.Int(1, 2), Math.Round(faker.Random.Decimal(19, 599), 2))).ToList();
                var modified = created.AddMinutes(faker.Random.Int(0, 200));
                Trades.Add(new TmallTrade
                {
                    Tid = 3000000000000000 + i,
                    Created = created,
                    Modified = modified < now ? modified : now,
                    BuyerOpenUid = "AAH" + p.Index.ToString("D6", CultureInfo.InvariantCulture) + "openuid",
                    Ouid = "ouid" + p.Index.ToString("D6", CultureInfo.InvariantCulture),
                    Payment = lines.Sum(l => l.Item4 * l.Item3),
                    Lines = lines,
                });
            }

            foreach (var p in people)
            {
                Members.Add(new JObject
                {
                    ["ouid"] = "ouid" + p.Index.ToString("D6", CultureInfo.InvariantCulture),
                    ["grade"] = (p.Index % 4).ToString(CultureInfo.InvariantCulture),
                    ["grade_name"] = new[] { "普通会员", "高级会员", "VIP会员", "至尊VIP" }[p.Index % 4],
                    ["last_trade_time"] = Local(now.AddDays(-(p.Index % 20))),
                    ["modified"] = Local(now.AddDays(-(p.Index % 20))),
                    ["buyer_nick"] = p.LastName + "**",
                });
            }
        }
    }

    public TmallTrade UpdateTrade(long tid, Action<TmallTrade> change)
    {
        lock (_gate)
        {
            var t = Trades.Single(x => x.Tid == tid);
            change(t);
            var now = Seconds(Clock.GetUtcNow());
            t.Modified = now > t.Modified ? now : t.Modified.AddSeconds(1);
            return t;
        }
    }

    protected override void Map(WebApplication app) => app.MapPost("/router/rest", RestAsync);

    protected override Task WriteFaultAsync(HttpContext context, int status) => status == 429
        ? Error(context, "7", "App Call Limited", "accesscontrol.limited-by-app-access-count", "This ban will last for 1 more seconds")
        : context.Response.WriteAsync("<html><body>502 Bad Gateway</body></html>", context.RequestAborted);

    [System.Diagnostics.CodeAnalysis.SuppressMessage("Security", "CA5351", Justification = "TOP's md5 and hmac sign methods, recomputed as the gateway does.")]
    private async Task RestAsync(HttpContext context)
    {
        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        var p = form.ToDictionary(f => f.Key, f => f.Value.ToString(), StringComparer.Ordinal);
        var method = p.GetValueOrDefault("method") ?? "";
        context.Items[OperationKey] = method;
        if (p.GetValueOrDefault("app_key") != AppKey)
        {
            await Error(context, "29", "Invalid app Key");
            return;
        }

        var signMethod = p.GetValueOrDefault("sign_method") ?? "md5";
        var text = new StringBuilder();
        foreach (var (k, v) in p.Where(x => x.Key != "sign" && x.Value.Length > 0).OrderBy(x => x.Key, StringComparer.Ordinal))
        {
            text.Append(k).Append(v);
        }

        var bytes = Encoding.UTF8.GetBytes(text.ToString());
        var secret = Encoding.UTF8.GetBytes(AppSecret);
        var expected = Convert.ToHexString(signMethod switch
        {
            "hmac" => HMACMD5.HashData(secret, bytes),
            "hmac-sha256" => HMACSHA256.HashData(secret, bytes),
            _ => MD5.HashData([.. secret, .. bytes, .. secret]),
        });
        if (!string.Equals(expected, p.GetValueOrDefault("sign"), StringComparison.Ordinal))
        {
            await Error(context, "25", "Invalid signature");
            return;
        }

        if (!DateTime.TryParseExact(p.GetValueOrDefault("timestamp"), "yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture, DateTimeStyles.None, out var ts) ||
            (new DateTimeOffset(ts, Beijing) - Clock.GetUtcNow()).Duration() > TimeSpan.FromMinutes(10))
        {
            await Error(context, "31", "Invalid timestamp");
            return;
        }

        if (p.GetValueOrDefault("session") != Session)
        {
            await Error(context, "27", "Invalid session", "sessionkey-not-generated-by-server", "RealSession don't belong app and user !");
            return;
        }

        if (Interlocked.Exchange(ref _banSeconds, 0) is var ban and > 0)
        {
            await Error(context, "7", "App Call Limited", "accesscontrol.limited-by-app-access-count", $"This ban will last for {ban} more seconds");
            return;
        }

        switch (method)
        {
            case "taobao.trades.sold.increment.get":
                await IncrementAsync(context, p);
                break;
            case "taobao.trade.fullinfo.get":
                await FullInfoAsync(context, p);
                break;
            case "taobao.crm.members.increment.get.privy":
                await MembersAsync(context, p);
                break;
            default:
                await Error(context, "22", "Invalid method");
                break;
        }
    }

    private async Task IncrementAsync(HttpContext context, Dictionary<string, string> p)
    {
        if (!TryLocal(p.GetValueOrDefault("start_modified"), out var start) || !TryLocal(p.GetValueOrDefault("end_modified"), out var end))
        {
            await Error(context, "40", "Missing required arguments:start_modified,end_modified");
            return;
        }

        if (end - start > TimeSpan.FromDays(1) || end < start)
        {
            await Error(context, "15", "Remote service error", "isv.invalid-parameter:start_modified-end_modified", "开始和结束时间不能超过一天");
            return;
        }

        var pageSize = int.TryParse(p.GetValueOrDefault("page_size"), out var ps) ? ps : 40;
        var pageNo = int.TryParse(p.GetValueOrDefault("page_no"), out var pn) ? pn : 1;
        if (pageSize is < 1 or > 100)
        {
            await Error(context, "41", "Invalid arguments:page_size");
            return;
        }

        var horizon = Clock.GetUtcNow().AddDays(-90);
        List<TmallTrade> rows;
        lock (_gate)
        {
            rows = [.. Trades.Where(t => t.Modified >= start && t.Modified <= end && t.Modified >= horizon).OrderByDescending(t => t.Modified).ThenByDescending(t => t.Tid)];
        }

        var slice = rows.Skip((pageNo - 1) * pageSize).Take(pageSize).Select(t => new JObject { ["tid"] = t.Tid, ["modified"] = Local(t.Modified), ["status"] = t.Status, ["buyer_open_uid"] = t.BuyerOpenUid, ["oaid"] = Oaid(t) });
        var response = new JObject { ["trades"] = new JObject { ["trade"] = new JArray(slice) }, ["request_id"] = Guid.NewGuid().ToString("N")[..12] };
        if (p.GetValueOrDefault("use_has_next") == "true")
        {
            response["has_next"] = pageNo * pageSize < rows.Count;
        }
        else
        {
            response["total_results"] = rows.Count;
        }

        await Write(context, new JObject { ["trades_sold_increment_get_response"] = response });
    }

    private async Task FullInfoAsync(HttpContext context, Dictionary<string, string> p)
    {
        TmallTrade? trade;
        lock (_gate)
        {
            trade = long.TryParse(p.GetValueOrDefault("tid"), out var tid) ? Trades.FirstOrDefault(t => t.Tid == tid) : null;
        }

        if (trade is null)
        {
            await Error(context, "15", "Remote service error", "isv.trade-not-exist", "交易不存在");
            return;
        }

        var full = new JObject
        {
            ["tid"] = trade.Tid,
            ["status"] = trade.Status,
            ["created"] = Local(trade.Created),
            ["modified"] = Local(trade.Modified),
            ["pay_time"] = Local(trade.Created),
            ["payment"] = trade.Payment.ToString("0.00", CultureInfo.InvariantCulture),
            ["total_fee"] = trade.Payment.ToString("0.00", CultureInfo.InvariantCulture),
            ["buyer_open_uid"] = trade.BuyerOpenUid,
            ["ouid"] = trade.Ouid,
            ["oaid"] = Oaid(trade),
            ["buyer_nick"] = "t**" + trade.Ouid[^1],
            ["receiver_name"] = "*" + "先生",
            ["receiver_mobile"] = "*******" + trade.Ouid[^4..],
            ["orders"] = new JObject { ["order"] = new JArray(trade.Lines.Select(l => new JObject { ["outer_sku_id"] = l.Sku, ["title"] = l.Title, ["num"] = l.Num, ["price"] = l.Price.ToString("0.00", CultureInfo.InvariantCulture) })) },
        };
        var fields = (p.GetValueOrDefault("fields") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal);
        var projected = new JObject();
        foreach (var prop in full.Properties())
        {
            if (prop.Name == "orders")
            {
                var orderFields = fields.Where(f => f.StartsWith("orders.", StringComparison.Ordinal)).Select(f => f[7..]).ToHashSet(StringComparer.Ordinal);
                if (orderFields.Count > 0 || fields.Contains("orders"))
                {
                    projected["orders"] = new JObject { ["order"] = new JArray(((JArray)full["orders"]!["order"]!).Select(o => new JObject(((JObject)o).Properties().Where(x => fields.Contains("orders") || orderFields.Contains(x.Name))))) };
                }
            }
            else if (fields.Contains(prop.Name))
            {
                projected[prop.Name] = prop.Value;
            }
        }

        await Write(context, new JObject { ["trade_fullinfo_get_response"] = new JObject { ["trade"] = projected } });
    }

    private async Task MembersAsync(HttpContext context, Dictionary<string, string> p)
    {
        if (!TryLocal(p.GetValueOrDefault("start_modify"), out var start) || !TryLocal(p.GetValueOrDefault("end_modify"), out var end))
        {
            await Error(context, "40", "Missing required arguments:start_modify,end_modify");
            return;
        }

        var pageSize = int.TryParse(p.GetValueOrDefault("page_size"), out var ps) ? ps : 100;
        var page = int.TryParse(p.GetValueOrDefault("current_page"), out var cp) ? cp : 1;
        if (pageSize > 100)
        {
            await Error(context, "41", "Invalid arguments:page_size");
            return;
        }

        List<JObject> rows;
        lock (_gate)
        {
            rows = [.. Members.Where(m => TryLocal(m.Value<string>("modified"), out var at) && at >= start && at <= end)];
        }

        await Write(context, new JObject
        {
            ["crm_members_increment_get_privy_response"] = new JObject
            {
                ["members"] = new JObject { ["basic_member"] = new JArray(rows.Skip((page - 1) * pageSize).Take(pageSize)) },
                ["total_result"] = rows.Count,
            },
        });
    }

    /// <summary>OAID depends on the receiver and the week: the same buyer gets a new one every week.</summary>
    private static string Oaid(TmallTrade t) => "1" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(t.Ouid + ISOWeek.GetWeekOfYear(t.Created.UtcDateTime))))[..24];

    private static bool TryLocal(string? text, out DateTimeOffset at)
    {
        var ok = DateTime.TryParseExact(text, "yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture, DateTimeStyles.None, out var local);
        at = ok ? new DateTimeOffset(local, Beijing) : default;
        return ok;
    }

    private static string Local(DateTimeOffset at) => at.ToOffset(Beijing).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    private static DateTimeOffset Seconds(DateTimeOffset at) => new(at.UtcTicks - (at.UtcTicks % TimeSpan.TicksPerSecond), TimeSpan.Zero);

    private static Task Error(HttpContext context, string code, string msg, string? subCode = null, string? subMsg = null)
    {
        var error = new JObject { ["code"] = int.Parse(code, CultureInfo.InvariantCulture), ["msg"] = msg, ["request_id"] = Guid.NewGuid().ToString("N")[..12] };
        if (subCode is not null)
        {
            error["sub_code"] = subCode;
            error["sub_msg"] = subMsg;
        }

        return Write(context, new JObject { ["error_response"] = error });
    }

    private static Task Write(HttpContext context, JObject body)
    {
        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/json;charset=UTF-8";
        return context.Response.WriteAsync(body.ToString(Formatting.None), context.RequestAborted);
    }
}

using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Bogus;
using Hub.Sandbox.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Hub.Sandbox.Youzan;

public sealed class YouzanOrder
{
    public string Tid { get; init; } = "";
    public string Status { get; set; } = "TRADE_SUCCESS";
    public DateTimeOffset Created { get; init; }
    public DateTimeOffset Updated { get; set; }
    public string YzOpenId { get; init; } = "";
    public string Phone { get; init; } = "";
    public string Name { get; init; } = "";
    public decimal Payment { get; init; }
    public List<(string Sku, string Title, int Num, decimal Price)> Lines { get; init; } = [];
}

public sealed class YouzanCustomer
{
    public string YzOpenId { get; init; } = "";
    public string Mobile { get; init; } = "";
    public string Name { get; init; } = "";
    public DateTimeOffset Created { get; init; }
}

/// <summary>
/// A 有赞云 stand-in for one shop: <c>/auth/token</c> (JSON only, silent authorisation, <c>expires</c> in epoch ms),
/// <c>/api/{name}/{version}</c> with gateway errors inside HTTP 200 (4005 before 4201/4202/4203, 4007, 4204, 4101),
/// <c>youzan.trades.sold.get</c> 4.0.4 (paired Beijing times, page limits, window errors, newest first so rows move
/// between pages while orders change), <c>youzan.scrm.customer.list</c> (50 per page, 10,000 reachable),
/// encrypted PII (<c>$…$1$</c>) with the decrypt API, and signed pushes with retries until "success".
/// </summary>
public sealed class YouzanSandbox(TimeProvider? clock = null) : SandboxServer(clock)
{
    private static readonly TimeSpan Beijing = TimeSpan.FromHours(8);
    private readonly object _gate = new();
    private readonly ConcurrentDictionary<string, DateTimeOffset> _tokens = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, DateTimeOffset> _codes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _refreshTokens = new(StringComparer.Ordinal);
    private string? _current;
    private long _nextTid = 2026112300000001;

    public string KdtId { get; } = "42583152";
    public string ClientId { get; } = "c0ffee" + Guid.NewGuid().ToString("N")[..8];
    public string ClientSecret { get; } = Guid.NewGuid().ToString("N");

    public List<YouzanOrder> Orders { get; } = [];
    public List<YouzanCustomer> Customers { get; } = [];

    /// <summary>Receiver names and phones come encrypted (<c>$…$1$</c>), as they do for most shops.</summary>
    public bool EncryptPii { get; set; } = true;

    /// <summary>Whether this shop's authorisation lets the app decrypt (else 4204).</summary>
    public bool DecryptAllowed { get; set; } = true;

    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromDays(7);

    public void ExpireTokens()
    {
        foreach (var k in _tokens.Keys)
        {
            _tokens[k] = Clock.GetUtcNow().AddSeconds(-1);
        }
    }

    public void Seed(IReadOnlyList<SandboxPerson> people, int customers, int orders, int days = 30, int seed = 17)
    {
        var faker = new Faker("zh_CN") { Random = new Randomizer(seed) };
        var now = Seconds(Clock.GetUtcNow());
        lock (_gate)
        {
            foreach (var p in people.Take(customers))
            {
                Customers.Add(new YouzanCustomer { YzOpenId = OpenId(p), Mobile = Mobile(p), Name = p.LastName + p.FirstName, Created = now.AddDays(-days - 10).AddMinutes(p.Index) });
            }

            for (var i = 0; i < orders; i++)
            {
                var p = people[faker.Random.Int(0, people.Count - 1)];
                var created = now.AddSeconds(-faker.Random.Int(120, days * 86400));
                var lines = Enumerable.Range(0, faker.Random.Int(1, 3)).Select(_ => ("YZ-" + faker.Random.Int(100, 999).ToString(CultureInfo.InvariantCulture), faker.Commerce.ProductName(), faker.Random.Int(1, 3), Math.Round(faker.Random.Decimal(9, 399), 2))).ToList();
                var updated = created.AddMinutes(faker.Random.Int(0, 300));
                Orders.Add(new YouzanOrder
                {
                    Tid = "E" + Interlocked.Increment(ref _nextTid).ToString(CultureInfo.InvariantCulture),
                    Created = created,
                    Updated = updated < now ? updated : now,
                    YzOpenId = OpenId(p),
                    Phone = Mobile(p),
                    Name = p.LastName + p.FirstName,
                    Payment = lines.Sum(l => l.Item4 * l.Item3),
                    Lines = lines,
                });
            }
        }
    }

    /// <summary>Adds orders all updated in the same second (a flash sale).</summary>
    public void AddOrdersAt(DateTimeOffset at, int count, SandboxPerson buyer)
    {
        lock (_gate)
        {
            for (var i = 0; i < count; i++)
            {
                Orders.Add(new YouzanOrder { Tid = "E" + Interlocked.Increment(ref _nextTid).ToString(CultureInfo.InvariantCulture), Created = Seconds(at), Updated = Seconds(at), YzOpenId = OpenId(buyer), Phone = Mobile(buyer), Name = buyer.LastName + buyer.FirstName, Payment = 10, Lines = [("S", "Thing", 1, 10m)] });
            }
        }
    }

    public YouzanOrder UpdateOrder(string tid, Action<YouzanOrder> change)
    {
        lock (_gate)
        {
            var o = Orders.Single(x => x.Tid == tid);
            change(o);
            var now = Seconds(Clock.GetUtcNow());
            o.Updated = now > o.Updated ? now : o.Updated.AddSeconds(1);
            return o;
        }
    }

    public static string OpenId(SandboxPerson p) => "yz" + p.Index.ToString("D6", CultureInfo.InvariantCulture) + "openid";

    public static string Mobile(SandboxPerson p) => "1390000" + (p.Index % 10000).ToString("D4", CultureInfo.InvariantCulture);

    /// <summary>What the shop's data looks like encrypted: deterministic per value, as Youzan's per-shop keys are.</summary>
    public string Encrypt(string plain) => "$" + Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(KdtId + plain))[..12]) + "$1$";

    protected override void Map(WebApplication app)
    {
        app.MapPost("/auth/token", TokenAsync);
        app.MapGet("/auth/authorize", (HttpRequest request) =>
        {
            // The merchant approves at once; Youzan sends a code that lives two minutes and works once.
            if (request.Query["client_id"] != ClientId)
            {
                return Results.BadRequest("unknown client_id");
            }

            var code = Guid.NewGuid().ToString("N");
            _codes[code] = Clock.GetUtcNow().AddMinutes(2);
            var redirect = request.Query["redirect_uri"].ToString();
            return Results.Redirect($"{redirect}{(redirect.Contains('?', StringComparison.Ordinal) ? "&" : "?")}code={code}&state={Uri.EscapeDataString(request.Query["state"].ToString())}");
        });
        app.MapPost("/api/{api}/{version}", ApiAsync);
    }

    protected override Task WriteFaultAsync(HttpContext context, int status) => status == 429
        ? Write(context, new JObject { ["gw_err_resp"] = new JObject { ["trace_id"] = Trace(), ["err_code"] = 4101, ["err_msg"] = "请求过于频繁" } })
        : context.Response.WriteAsync("<html><body>502 Bad Gateway</body></html>", context.RequestAborted);

    private async Task TokenAsync(HttpContext context)
    {
        if (context.Request.ContentType?.StartsWith("application/json", StringComparison.OrdinalIgnoreCase) != true)
        {
            await Write(context, new JObject { ["success"] = false, ["code"] = 1000, ["message"] = "Content type '" + context.Request.ContentType + "' not supported" });
            return;
        }

        var body = await BodyAsync(context);
        if (body?.Value<string>("client_id") != ClientId || body.Value<string>("client_secret") != ClientSecret)
        {
            await Write(context, new JObject { ["success"] = false, ["code"] = 1000, ["message"] = "应用信息或密钥错误 (app info or secret wrong)" });
            return;
        }

        if (body.Value<string>("authorize_type") is "authorization_code" or "refresh_token")
        {
            var granted = body.Value<string>("authorize_type") == "refresh_token"
                ? _refreshTokens.ContainsKey(body.Value<string>("refresh_token") ?? "")
                : _codes.TryRemove(body.Value<string>("code") ?? "", out var validUntil) && validUntil > Clock.GetUtcNow();
            if (!granted)
            {
                await Write(context, new JObject { ["success"] = false, ["code"] = body.Value<string>("authorize_type") == "refresh_token" ? 1004 : 1005, ["message"] = "code 或 refresh_token 无效或已过期 (invalid, used or expired)" });
                return;
            }

            var refresh = Guid.NewGuid().ToString("N");
            _refreshTokens[refresh] = true;
            _current = Guid.NewGuid().ToString("N");
            _tokens[_current] = Clock.GetUtcNow() + TokenLifetime;
            await Write(context, new JObject
            {
                ["success"] = true,
                ["code"] = 200,
                ["data"] = new JObject { ["access_token"] = _current, ["expires"] = _tokens[_current].ToUnixTimeMilliseconds(), ["scope"] = "trade user", ["authority_id"] = KdtId, ["refresh_token"] = refresh },
                ["message"] = null,
            });
            return;
        }

        if (body.Value<string>("authorize_type") != "silent")
        {
            await Write(context, new JObject { ["success"] = false, ["code"] = 1105, ["message"] = "应用类型错误 (wrong app type for this grant)" });
            return;
        }

        if (body.Value<string>("grant_id") != KdtId)
        {
            await Write(context, new JObject { ["success"] = false, ["code"] = 1103, ["message"] = "grant_id 缺失或无效 (grant missing)" });
            return;
        }

        var now = Clock.GetUtcNow();
        if (body.Value<bool?>("refresh") == true || _current is null || _tokens[_current] <= now)
        {
            _current = Guid.NewGuid().ToString("N");
            _tokens[_current] = now + TokenLifetime;
        }

        await Write(context, new JObject
        {
            ["success"] = true,
            ["code"] = 200,
            ["data"] = new JObject { ["access_token"] = _current, ["expires"] = _tokens[_current].ToUnixTimeMilliseconds(), ["scope"] = "trade user", ["authority_id"] = KdtId },
            ["message"] = null,
        });
    }

    private async Task ApiAsync(HttpContext context, string api, string version)
    {
        var known = (api, version) switch
        {
            ("youzan.trades.sold.get", "4.0.4") or ("youzan.scrm.customer.list", "1.0.0") or ("youzan.cloud.secret.decrypt.batch", "1.0.0") => true,
            _ => false,
        };
        if (!known)
        {
            await Gateway(context, 4005, "API 或版本不存在 (unknown API or version)");
            return;
        }

        if (context.Request.ContentType?.StartsWith("application/json", StringComparison.OrdinalIgnoreCase) != true)
        {
            await Gateway(context, 4007, "请求方式或 Content-Type 错误");
            return;
        }

        var token = context.Request.Query["access_token"].ToString();
        if (string.IsNullOrEmpty(token))
        {
            await Gateway(context, 4201, "非法的请求凭证");
            return;
        }

        if (!_tokens.TryGetValue(token, out var expires))
        {
            await Gateway(context, 4203, "Token 不存在");
            return;
        }

        if (expires <= Clock.GetUtcNow())
        {
            await Gateway(context, 4202, "Token 已过期");
            return;
        }

        context.Items[OperationKey] = api;
        var body = await BodyAsync(context) ?? [];
        switch (api)
        {
            case "youzan.trades.sold.get":
                await TradesAsync(context, body);
                break;
            case "youzan.scrm.customer.list":
                await CustomersAsync(context, body);
                break;
            default:
                if (!DecryptAllowed)
                {
                    await Gateway(context, 4204, "无权限 (no permission for decryption)");
                    return;
                }

                var map = new JObject();
                lock (_gate)
                {
                    var plainByCipher = Orders.SelectMany(o => new[] { o.Phone, o.Name }).Concat(Customers.SelectMany(c => new[] { c.Mobile, c.Name })).Distinct().ToDictionary(Encrypt, p => p);
                    foreach (var s in body["sources"] as JArray ?? [])
                    {
                        if (plainByCipher.TryGetValue(s.ToString(), out var plain))
                        {
                            map[s.ToString()] = plain;
                        }
                    }
                }

                await Ok(context, map);
                break;
        }
    }

    private async Task TradesAsync(HttpContext context, JObject body)
    {
        var pageSize = body.Value<int?>("page_size") ?? 20;
        var pageNo = body.Value<int?>("page_no") ?? 1;
        if (pageSize > 100)
        {
            await Business(context, 5000, "每页最多显示100条数据");
            return;
        }

        if (pageNo > 100)
        {
            await Business(context, 5000, "页码不能超过100");
            return;
        }

        DateTimeOffset? start = null, end = null;
        if (body["start_update"] is not null && body["end_update"] is not null)
        {
            if (!TryLocal(body.Value<string>("start_update"), out var s) || !TryLocal(body.Value<string>("end_update"), out var e))
            {
                await Business(context, 5001, "参数类型错误: start_update/end_update 需为 yyyy-MM-dd HH:mm:ss");
                return;
            }

            if (e - s > TimeSpan.FromDays(366))
            {
                await Business(context, 106000001, "每次可搜索一年订单记录,请重新选择起止时间");
                return;
            }

            if (e > Clock.GetUtcNow().AddDays(7))
            {
                await Business(context, 106000003, "结束时间不能晚于当前时间 7 天");
                return;
            }

            (start, end) = (s, e);
        }

        List<YouzanOrder> rows;
        lock (_gate)
        {
            rows = [.. Orders.Where(o => (start is null || o.Updated >= start) && (end is null || o.Updated <= end)).OrderByDescending(o => o.Updated).ThenByDescending(o => o.Tid, StringComparer.Ordinal)];
        }

        var page = rows.Skip((pageNo - 1) * pageSize).Take(pageSize).Select(Json).ToList();
        await Ok(context, new JObject { ["full_order_info_list"] = new JArray(page), ["total_results"] = rows.Count });
    }

    private async Task CustomersAsync(HttpContext context, JObject body)
    {
        var pageSize = body.Value<int?>("page_size") ?? 20;
        var pageNo = body.Value<int?>("page_no") ?? 1;
        if (pageSize > 50 || pageNo > 500)
        {
            await Business(context, 5000, "page_size 不能超过 50, page_no 不能超过 500");
            return;
        }

        if (pageNo * pageSize > 10_000)
        {
            await Business(context, 142710032, "最多只能查询 10000 条数据");
            return;
        }

        DateTimeOffset? From(JToken? t) => t is null ? null : long.Parse(t.ToString(), CultureInfo.InvariantCulture) is var v && v > 100_000_000_000 ? DateTimeOffset.FromUnixTimeMilliseconds(v) : DateTimeOffset.FromUnixTimeSeconds(long.Parse(t.ToString(), CultureInfo.InvariantCulture));
        var start = From(body["created_at_start"]);
        var end = From(body["created_at_end"]);
        List<YouzanCustomer> rows;
        lock (_gate)
        {
            rows = [.. Customers.Where(c => (start is null || c.Created >= start) && (end is null || c.Created <= end)).OrderByDescending(c => c.Created)];
        }

        var list = rows.Skip((pageNo - 1) * pageSize).Take(pageSize).Select(c => new JObject
        {
            ["yz_open_id"] = c.YzOpenId,
            ["mobile"] = EncryptPii ? Encrypt(c.Mobile) : c.Mobile,
            ["name"] = EncryptPii ? Encrypt(c.Name) : c.Name,
            ["show_name"] = c.Name[..1] + "**",
            ["is_member"] = 1,
            ["created_at"] = c.Created.ToUnixTimeSeconds(),
        });
        await Ok(context, new JObject { ["total"] = rows.Count, ["page_no"] = pageNo, ["page_size"] = pageSize, ["record_list"] = new JArray(list) });
    }

    /// <summary>An order as youzan.trades.sold.get returns it: one full_order_info, Beijing times, yuan strings.</summary>
    public JObject Json(YouzanOrder o) => new()
    {
        ["full_order_info"] = new JObject
        {
            ["order_info"] = new JObject { ["tid"] = o.Tid, ["status"] = o.Status, ["created"] = Local(o.Created), ["update_time"] = Local(o.Updated), ["pay_time"] = Local(o.Created) },
            ["buyer_info"] = new JObject { ["yz_open_id"] = o.YzOpenId, ["buyer_phone"] = EncryptPii ? Encrypt(o.Phone) : o.Phone },
            ["address_info"] = new JObject { ["receiver_name"] = EncryptPii ? Encrypt(o.Name) : o.Name, ["receiver_tel"] = EncryptPii ? Encrypt(o.Phone) : o.Phone, ["delivery_province"] = "上海市" },
            ["pay_info"] = new JObject { ["payment"] = o.Payment.ToString("0.00", CultureInfo.InvariantCulture), ["total_fee"] = o.Payment.ToString("0.00", CultureInfo.InvariantCulture) },
            ["orders"] = new JArray(o.Lines.Select(l => new JObject { ["outer_sku_id"] = l.Sku, ["title"] = l.Title, ["num"] = l.Num, ["price"] = l.Price.ToString("0.00", CultureInfo.InvariantCulture) })),
        },
    };

    /// <summary>
    /// Pushes a message as Youzan does: the envelope with URL-encoded <c>msg</c>, <c>Event-Sign</c> = md5(client_id + body +
    /// client_secret), retried (compressed schedule) until the reply carries "success"; <c>sendCount</c> counts tries.
    /// </summary>
    public async Task<IReadOnlyList<int>> PushAsync(Uri target, string type, JObject msg, long version, string? msgId = null, int attempts = 4, string? secret = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(msg);
        msgId ??= Guid.NewGuid().ToString();
        var statuses = new List<int>();
        for (var send = 0; send < attempts; send++)
        {
            var body = new JObject
            {
                ["client_id"] = ClientId,
                ["kdt_id"] = long.Parse(KdtId, CultureInfo.InvariantCulture),
                ["kdt_name"] = "Sandbox 有赞店",
                ["id"] = msg.Value<string>("tid") ?? msg.Value<string>("yz_open_id") ?? msgId,
                ["type"] = type,
                ["status"] = msg.Value<string>("status"),
                ["msg"] = WebUtility.UrlEncode(msg.ToString(Formatting.None)),
                ["msg_id"] = msgId,
                ["version"] = version,
                ["sendCount"] = send,
                ["test"] = false,
                ["mode"] = 1,
            };
            var raw = Encoding.UTF8.GetBytes(body.ToString(Formatting.None));
            var (status, text) = await PostAsync(target, raw, type, secret, cancellationToken);
            statuses.Add(status);
            if (text.Contains("success", StringComparison.Ordinal))
            {
                break;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(20), Clock, cancellationToken);
        }

        return statuses;
    }

    /// <summary>The health probe Youzan sends: <c>{"test":true}</c>, unsigned.</summary>
    public async Task<string> ProbeAsync(Uri target, CancellationToken cancellationToken = default) =>
        (await PostAsync(target, Encoding.UTF8.GetBytes("""{"test":true}"""), null, null, cancellationToken, sign: false)).Text;

    [System.Diagnostics.CodeAnalysis.SuppressMessage("Security", "CA5351", Justification = "Youzan signs pushes with MD5.")]
    private async Task<(int Status, string Text)> PostAsync(Uri target, byte[] raw, string? type, string? secret, CancellationToken ct, bool sign = true)
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        using var request = new HttpRequestMessage(HttpMethod.Post, target) { Content = new ByteArrayContent(raw) };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        if (sign)
        {
            request.Headers.Add("Event-Sign", Convert.ToHexStringLower(MD5.HashData([.. Encoding.UTF8.GetBytes(ClientId), .. raw, .. Encoding.UTF8.GetBytes(secret ?? ClientSecret)])));
            request.Headers.Add("Event-Type", type);
            request.Headers.Add("Client-Id", ClientId);
        }

        try
        {
            using var response = await client.SendAsync(request, ct);
            return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(ct));
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return (0, "");
        }
    }

    private static bool TryLocal(string? text, out DateTimeOffset at)
    {
        var ok = DateTime.TryParseExact(text, "yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture, DateTimeStyles.None, out var local);
        at = ok ? new DateTimeOffset(local, Beijing) : default;
        return ok;
    }

    private static string Local(DateTimeOffset at) => at.ToOffset(Beijing).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    private static DateTimeOffset Seconds(DateTimeOffset at) => new(at.UtcTicks - (at.UtcTicks % TimeSpan.TicksPerSecond), TimeSpan.Zero);

    private static string Trace() => "yz7-" + Guid.NewGuid().ToString("N")[..16];

    private static Task Ok(HttpContext context, JObject data) =>
        Write(context, new JObject { ["trace_id"] = Trace(), ["code"] = 200, ["success"] = true, ["message"] = "successful", ["data"] = data });

    private static Task Business(HttpContext context, long code, string message) =>
        Write(context, new JObject { ["trace_id"] = Trace(), ["code"] = code, ["success"] = false, ["message"] = message });

    private static Task Gateway(HttpContext context, int code, string message) =>
        Write(context, new JObject { ["gw_err_resp"] = new JObject { ["trace_id"] = Trace(), ["err_code"] = code, ["err_msg"] = message } });

    private static async Task<JObject?> BodyAsync(HttpContext context)
    {
        try
        {
            return JObject.Parse(await new StreamReader(context.Request.Body).ReadToEndAsync(context.RequestAborted));
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static Task Write(HttpContext context, JObject body)
    {
        context.Response.StatusCode = 200; // Youzan answers errors inside HTTP 200
        context.Response.ContentType = "application/json;charset=UTF-8";
        return context.Response.WriteAsync(body.ToString(Formatting.None), context.RequestAborted);
    }
}

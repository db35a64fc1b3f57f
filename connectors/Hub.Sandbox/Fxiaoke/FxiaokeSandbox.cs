using System.Collections.Concurrent;
using System.Globalization;
using Hub.Sandbox.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Hub.Sandbox.Fxiaoke;

/// <summary>
/// A 纷享销客 Open API stand-in for one enterprise: every answer HTTP 200 with <c>errorCode</c> (unknown paths 10006);
/// the corpAccessToken endpoint (same token while valid, 20006/20015 for wrong credentials, at most ten calls a
/// minute); CRM calls checked for token (20016), corpId (20017) and currentOpenUserId (20012); ContactObj and
/// AccountObj create / update / query / describe (each object its own fields and records; an unknown object 10001)
/// with no uniqueness by default (an opt-in 查重 rule), select options and email checks;
/// 100 calls per 20 s per interface (30004), a daily quota (30002), a tenant without quota (30003); and a
/// "commit then time out" switch that proves a client's retry does not create a duplicate.
/// </summary>
public sealed class FxiaokeSandbox(TimeProvider? clock = null) : SandboxServer(clock)
{
    /// <summary>Code the sandbox answers for an update of a record that does not exist.</summary>
    public const int NotFoundCode = 201112004;

    /// <summary>Code the sandbox answers for a field that fails validation (the platform's code varies by rule).</summary>
    public const int ValidationCode = 320001401;

    private readonly object _gate = new();
    private readonly Dictionary<string, Dictionary<string, JObject>> _objects = new(StringComparer.Ordinal)
    {
        ["ContactObj"] = new(StringComparer.Ordinal),
        ["AccountObj"] = new(StringComparer.Ordinal),
    };
    private readonly ConcurrentDictionary<string, Queue<DateTimeOffset>> _calls = new(StringComparer.Ordinal);
    private readonly Queue<DateTimeOffset> _tokenCalls = new();
    private string? _token;
    private DateTimeOffset _tokenExpires;
    private long _daily;
    private int _ids;

    public string AppId { get; } = "FSAID_" + Guid.NewGuid().ToString("N")[..10];
    public string AppSecret { get; } = Guid.NewGuid().ToString("N");
    public string PermanentCode { get; } = Guid.NewGuid().ToString("N").ToUpperInvariant();
    public string CorpId { get; } = "FSCID_SANDBOX";
    public string AdminOpenUserId { get; } = "FSUID_ADMIN";

    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromSeconds(7200);

    public int CallsPerWindow { get; set; } = 100;

    public TimeSpan Window { get; set; } = TimeSpan.FromSeconds(20);

    public long DailyQuota { get; set; } = 100_000;

    /// <summary>The tenant bought no Open API quota (30003).</summary>
    public bool NoQuota { get; set; }

    /// <summary>A 查重 rule on this field: creating a second record with the same value fails.</summary>
    public string? DuplicateRuleField { get; set; }

    /// <summary>The next create commits and then hangs until the client gives up, as a lost answer does.</summary>
    public int CommitThenTimeoutCreates { get; set; }

    /// <summary>ContactObj fields (api_name → describe entry).</summary>
    public Dictionary<string, JObject> Fields => ObjectFields["ContactObj"];

    /// <summary>Each object's fields (api_name → describe entry), as an enterprise's 对象管理 defines them.</summary>
    public Dictionary<string, Dictionary<string, JObject>> ObjectFields { get; } = new(StringComparer.Ordinal)
    {
        ["ContactObj"] = DefaultFields("ContactObj"),
        ["AccountObj"] = DefaultFields("AccountObj"),
    };

    /// <summary>ContactObj records.</summary>
    public IReadOnlyList<JObject> Records => RecordsOf("ContactObj");

    public IReadOnlyList<JObject> RecordsOf(string objectApiName)
    {
        lock (_gate)
        {
            return [.. _objects[objectApiName].Values.Select(r => (JObject)r.DeepClone())];
        }
    }

    /// <summary>Invalidates the current token (as its 7200 s passing would).</summary>
    public void ExpireToken() => _tokenExpires = Clock.GetUtcNow().AddSeconds(-1);

    public void Delete(string id)
    {
        lock (_gate)
        {
            foreach (var records in _objects.Values)
            {
                records.Remove(id);
            }
        }
    }

    protected override void Map(WebApplication app)
    {
        app.MapPost("/cgi/corpAccessToken/get/V2", TokenAsync);
        app.MapPost("/cgi/crm/v2/data/create", c => Guarded(c, "create", CreateAsync));
        app.MapPost("/cgi/crm/v2/data/update", c => Guarded(c, "update", UpdateAsync));
        app.MapPost("/cgi/crm/v2/data/query", c => Guarded(c, "query", QueryAsync));
        app.MapPost("/cgi/crm/v2/object/describe", c => Guarded(c, "describe", DescribeAsync));
        app.MapFallback(c => Error(c, 10006, "path not found"));
    }

    protected override Task WriteFaultAsync(HttpContext context, int status) =>
        status == 429 ? Error(context, 30004, "调用频率超限 (call frequency exceeded)") : Error(context, -1, "系统繁忙 (system busy)");

    private async Task TokenAsync(HttpContext context)
    {
        var body = await BodyAsync(context);
        lock (_tokenCalls)
        {
            var now = Clock.GetUtcNow();
            while (_tokenCalls.Count > 0 && now - _tokenCalls.Peek() >= TimeSpan.FromMinutes(1))
            {
                _tokenCalls.Dequeue();
            }

            _tokenCalls.Enqueue(now);
            if (_tokenCalls.Count > 10)
            {
                context.Items["limited"] = true;
            }
        }

        if (context.Items.ContainsKey("limited"))
        {
            await Error(context, 30004, "token interface called too often");
            return;
        }

        if (body?.Value<string>("appId") != AppId || body.Value<string>("appSecret") != AppSecret)
        {
            await Error(context, 20006, "appId or appSecret is wrong");
            return;
        }

        if (body.Value<string>("permanentCode") != PermanentCode)
        {
            await Error(context, 20015, "permanentCode is wrong");
            return;
        }

        var now2 = Clock.GetUtcNow();
        if (_token is null || _tokenExpires <= now2)
        {
            _token = Guid.NewGuid().ToString("N").ToUpperInvariant();
            _tokenExpires = now2 + TokenLifetime;
        }

        await Ok(context, new JObject { ["corpAccessToken"] = _token, ["corpId"] = CorpId, ["expiresIn"] = (long)(_tokenExpires - now2).TotalSeconds });
    }

    private async Task Guarded(HttpContext context, string name, Func<HttpContext, JObject, Task> handler)
    {
        var body = await BodyAsync(context);
        if (body is null)
        {
            await Error(context, 10001, "request body is not JSON");
            return;
        }

        if (body.Value<string>("corpAccessToken") != _token || _tokenExpires <= Clock.GetUtcNow())
        {
            await Error(context, 20016, "corpAccessToken is invalid or expired");
            return;
        }

        if (body.Value<string>("corpId") != CorpId)
        {
            await Error(context, 20017, "corpId is wrong");
            return;
        }

        if (body.Value<string>("currentOpenUserId") != AdminOpenUserId)
        {
            await Error(context, 20012, "currentOpenUserId not found");
            return;
        }

        if (NoQuota)
        {
            await Error(context, 30003, "the enterprise has not bought Open API quota");
            return;
        }

        if (Interlocked.Increment(ref _daily) > DailyQuota)
        {
            await Error(context, 30002, "daily call quota exhausted; resets at 00:00");
            return;
        }

        var calls = _calls.GetOrAdd(name, _ => new Queue<DateTimeOffset>());
        lock (calls)
        {
            var now = Clock.GetUtcNow();
            while (calls.Count > 0 && now - calls.Peek() >= Window)
            {
                calls.Dequeue();
            }

            calls.Enqueue(now);
            if (calls.Count > CallsPerWindow)
            {
                context.Items["frequency"] = true;
            }
        }

        context.Items[OperationKey] = name;
        if (context.Items.ContainsKey("frequency"))
        {
            context.Items[OperationKey] = name + " 30004";
            await Error(context, 30004, "调用频率超限 (call frequency exceeded)");
            return;
        }

        await handler(context, body);
    }

    private async Task CreateAsync(HttpContext context, JObject body)
    {
        var data = body["data"] as JObject;
        var objectData = data?["object_data"] as JObject;
        var api = data?.Value<string>("dataObjectApiName");
        if (api is null || objectData is null)
        {
            await Error(context, 10001, "dataObjectApiName or object_data missing");
            return;
        }

        if (!_objects.TryGetValue(api, out var records))
        {
            await Error(context, 10001, $"object {api} does not exist");
            return;
        }

        if (Validate(api, objectData, creating: true) is { } problem)
        {
            await Error(context, ValidationCode, problem);
            return;
        }

        string id;
        lock (_gate)
        {
            if (DuplicateRuleField is { } rule && objectData[rule] is { } value && records.Values.Any(r => JToken.DeepEquals(r[rule], value)))
            {
                context.Items["duplicate"] = true;
                id = "";
            }
            else
            {
                id = $"{Clock.GetUtcNow().ToUnixTimeMilliseconds():x}{Interlocked.Increment(ref _ids):x6}";
                var record = (JObject)objectData.DeepClone();
                record["_id"] = id;
                record["create_time"] = Clock.GetUtcNow().ToUnixTimeMilliseconds() + _ids;
                records[id] = record;
            }
        }

        if (context.Items.ContainsKey("duplicate"))
        {
            await Error(context, ValidationCode, $"查重规则: a record with the same {DuplicateRuleField} exists");
            return;
        }

        if (CommitThenTimeoutCreates > 0)
        {
            CommitThenTimeoutCreates--;
            try
            {
                await Task.Delay(TimeSpan.FromMinutes(2), context.RequestAborted);
            }
            catch (OperationCanceledException)
            {
            }

            return;
        }

        await Ok(context, new JObject { ["dataId"] = id });
    }

    private async Task UpdateAsync(HttpContext context, JObject body)
    {
        var objectData = body["data"]?["object_data"] as JObject;
        var id = objectData?.Value<string>("_id");
        var api = objectData?.Value<string>("dataObjectApiName");
        if (objectData is null || id is null || api is null)
        {
            await Error(context, 10001, "object_data must carry _id and dataObjectApiName");
            return;
        }

        if (!_objects.TryGetValue(api, out var records))
        {
            await Error(context, 10001, $"object {api} does not exist");
            return;
        }

        if (Validate(api, objectData, creating: false) is { } problem)
        {
            await Error(context, ValidationCode, problem);
            return;
        }

        lock (_gate)
        {
            if (!records.TryGetValue(id, out var record))
            {
                context.Items["missing"] = true;
            }
            else
            {
                foreach (var (name, value) in objectData)
                {
                    if (name is not "dataObjectApiName")
                    {
                        record[name] = value?.DeepClone();
                    }
                }
            }
        }

        await (context.Items.ContainsKey("missing") ? Error(context, NotFoundCode, "数据不存在 (the record does not exist)") : Ok(context, []));
    }

    private async Task QueryAsync(HttpContext context, JObject body)
    {
        var info = body["data"]?["search_query_info"] as JObject ?? [];
        var api = body["data"]?.Value<string>("dataObjectApiName") ?? "";
        if (!_objects.TryGetValue(api, out var records))
        {
            await Error(context, 10001, $"object {api} does not exist");
            return;
        }

        var limit = info.Value<int?>("limit") ?? 20;
        var offset = info.Value<int?>("offset") ?? 0;
        if (limit is < 1 or > 1000)
        {
            await Error(context, 10001, "limit must be 1–1000");
            return;
        }

        if (offset > 10000)
        {
            await Error(context, 10013, "offset out of range 10000");
            return;
        }

        List<JObject> rows;
        lock (_gate)
        {
            IEnumerable<JObject> q = records.Values;
            foreach (var filter in (info["filters"] as JArray ?? []).OfType<JObject>())
            {
                var field = filter.Value<string>("field_name")!;
                var values = (filter["field_values"] as JArray ?? []).Select(v => v.ToString()).ToHashSet(StringComparer.Ordinal);
                q = filter.Value<string>("operator") switch
                {
                    "EQ" or "IN" => q.Where(r => r[field] is { } v && values.Contains(v.ToString())),
                    "N" or "NIN" => q.Where(r => r[field] is not { } v || !values.Contains(v.ToString())),
                    _ => q,
                };
            }

            rows = [.. q.OrderBy(r => r.Value<long>("create_time")).Select(r => (JObject)r.DeepClone())];
        }

        await Ok(context, new JObject
        {
            ["data"] = new JObject
            {
                ["total"] = body["data"]?.Value<bool?>("find_explicit_total_num") == true ? rows.Count : 0,
                ["offset"] = offset,
                ["limit"] = limit,
                ["dataList"] = new JArray(rows.Skip(offset).Take(limit)),
            },
        });
    }

    private Task DescribeAsync(HttpContext context, JObject body)
    {
        var api = body.Value<string>("apiName") ?? "";
        return ObjectFields.TryGetValue(api, out var fields)
            ? Ok(context, new JObject { ["data"] = new JObject { ["describe"] = new JObject { ["api_name"] = api, ["fields"] = new JObject(fields.Select(f => new JProperty(f.Key, f.Value))) } } })
            : Error(context, 10001, $"object {api} does not exist");
    }

    private string? Validate(string api, JObject data, bool creating)
    {
        var fields = ObjectFields[api];
        if (creating && string.IsNullOrWhiteSpace(data.Value<string>("name")))
        {
            return $"field name ({fields["name"].Value<string>("label")}) is required";
        }

        foreach (var (name, value) in data)
        {
            if (name is "_id" or "dataObjectApiName" || value is null || value.Type == JTokenType.Null)
            {
                continue;
            }

            if (!fields.TryGetValue(name, out var field))
            {
                return $"field {name} does not exist on {api}";
            }

            var type = field.Value<string>("type");
            if (type == "select_one" && !(field["options"] as JArray ?? []).Any(o => o.Value<string>("value") == value.ToString()))
            {
                return $"field {name}: option {value} does not exist";
            }

            if (type == "select_many")
            {
                var options = (field["options"] as JArray ?? []).Select(o => o.Value<string>("value")).ToHashSet(StringComparer.Ordinal);
                if (value is not JArray chosen || chosen.Any(v => !options.Contains(v.ToString())))
                {
                    return $"field {name}: every value must be one of its options";
                }
            }

            if (type == "email" && !value.ToString().Contains('@', StringComparison.Ordinal))
            {
                return $"field {name}: {value} is not an email address";
            }
        }

        return null;
    }

    private static Dictionary<string, JObject> DefaultFields(string api)
    {
        var account = api == "AccountObj";
        var fields = new Dictionary<string, JObject>(StringComparer.Ordinal);
        void Add(string api, string label, string type, bool required = false, params string[] options) => fields[api] = new JObject
        {
            ["api_name"] = api,
            ["label"] = label,
            ["type"] = type,
            ["is_required"] = required,
            ["is_readonly"] = false,
            ["define_type"] = api.EndsWith("__c", StringComparison.Ordinal) ? "custom" : "package",
            ["options"] = new JArray(options.Select(o => new JObject { ["label"] = o, ["value"] = o })),
        };
        Add("name", account ? "客户名称" : "姓名", "text", required: true);
        Add(account ? "tel" : "mobile", account ? "电话" : "手机", "phone_number");
        Add("email", "邮件", "email");
        Add("hub_profile_id__c", "Hub 客户编号", "text");
        Add("lifecycle_stage__c", "生命周期", "select_one", false, "new", "active", "sleeping", "churned", "prospect");
        Add("value_tier__c", "价值等级", "select_one", false, "high", "medium", "low", "none");
        Add("vip_level__c", "会员等级", "text");
        Add("rfm_tier__c", "RFM", "text");
        Add("total_spent__c", "累计消费", "currency");
        Add("order_count__c", "订单数", "number");
        Add("last_order_date__c", "最近下单", "date");
        Add("hub_tags__c", "Hub 标签", "select_many", false, "vip", "repeat_buyer", "churn_risk", "high_value", "VIP", "Churn risk");
        return fields;
    }

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

    private static Task Ok(HttpContext context, JObject body)
    {
        body["errorCode"] = 0;
        body["errorMessage"] = "OK";
        body["traceId"] = Guid.NewGuid().ToString("N");
        return Write(context, body);
    }

    private static Task Error(HttpContext context, int code, string message) =>
        Write(context, new JObject { ["errorCode"] = code, ["errorMessage"] = message, ["traceId"] = Guid.NewGuid().ToString("N") });

    private static Task Write(HttpContext context, JObject body)
    {
        context.Response.StatusCode = 200; // always: the outcome is errorCode
        context.Response.ContentType = "application/json;charset=UTF-8";
        return context.Response.WriteAsync(body.ToString(Formatting.None), context.RequestAborted);
    }
}

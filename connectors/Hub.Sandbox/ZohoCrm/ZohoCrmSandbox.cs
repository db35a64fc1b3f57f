using System.Collections.Concurrent;
using System.Globalization;
using System.IO.Compression;
using System.Text;
using CsvHelper;
using Hub.Sandbox.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Hub.Sandbox.ZohoCrm;

/// <summary>
/// A Zoho CRM stand-in with data centres: accounts servers at <c>{BaseUrl}/accounts/{dc}</c> and APIs at
/// <c>{BaseUrl}/api/{dc}</c>. The authorize step sends the user's own accounts server back (multi-DC); codes and
/// tokens belong to one DC; token errors come as HTTP 200 <c>{"error": …}</c>; a refresh token mints at most ten
/// access tokens per ten minutes. Contacts upsert (≤ 100, dedupe on <c>duplicate_check_fields</c>, <c>data[]</c> in
/// input order with 200/207/400, MANDATORY_NOT_FOUND, INVALID_DATA with supported_values or maximum_length,
/// DUPLICATE_DATA on a unique custom field), tags with the edition's caps, field metadata, a concurrency limit and
/// a rolling credit budget answering 429 TOO_MANY_REQUESTS without Retry-After.
/// </summary>
public sealed class ZohoCrmSandbox(TimeProvider? clock = null) : SandboxServer(clock)
{
    private readonly object _gate = new();
    private readonly Dictionary<string, JObject> _contacts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<string>> _tags = new(StringComparer.Ordinal);
    private readonly HashSet<string> _moduleTags = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, (string Dc, DateTimeOffset Expires)> _tokens = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _refreshTokens = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Queue<DateTimeOffset>> _mints = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (string Dc, DateTimeOffset Expires)> _codes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> _writtenAt = new(StringComparer.Ordinal);

    // field → value (case-insensitive) → contact ids: built on a field's first lookup, kept by every write after,
    // so a duplicate check costs what Zoho's own index costs instead of a scan of every contact
    private readonly Dictionary<string, Dictionary<string, HashSet<string>>> _lookups = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte[]> _files = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, BulkJob> _jobs = new(StringComparer.Ordinal);
    private long _nextId = 4150868000000376000;
    private int _inFlight;
    private long _creditsUsed;

    public const string OrgId = "20000000001";

    /// <summary>How long a written record stays invisible to search (Zoho indexes asynchronously).</summary>
    public TimeSpan SearchLag { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long a Bulk Write job runs before it completes.</summary>
    public TimeSpan BulkDuration { get; set; } = TimeSpan.FromMilliseconds(300);

    public string ClientId { get; set; } = "1000.SANDBOXZOHO";
    public string ClientSecret { get; set; } = "sandbox-zoho-secret";

    /// <summary>The data centre the merchant's org lives in: the authorize step names its accounts server.</summary>
    public string UserDataCentre { get; set; } = "eu";

    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Calls in flight at once before 429 (sub-concurrency of heavy calls: 10).</summary>
    public int ConcurrencyLimit { get; set; } = 10;

    /// <summary>Credits per rolling 24 h (Standard: 50,000 + 250 × users).</summary>
    public long CreditsPerDay { get; set; } = 100_000;

    /// <summary>Standard edition: 5 tags per record, 20 per module.</summary>
    public int TagsPerRecord { get; set; } = 5;

    public int TagsPerModule { get; set; } = 20;

    /// <summary>Contacts field metadata (api_name → field), editable by tests.</summary>
    public Dictionary<string, JObject> Fields { get; } = DefaultFields();

    public string AccountsServer(string dc) => $"{BaseUrl}/accounts/{dc}";

    public string ApiDomain(string dc) => $"{BaseUrl}/api/{dc}";

    public IReadOnlyList<JObject> Contacts
    {
        get
        {
            lock (_gate)
            {
                return [.. _contacts.Values.Select(c => (JObject)c.DeepClone())];
            }
        }
    }

    public IReadOnlySet<string> TagsOf(string id)
    {
        lock (_gate)
        {
            return _tags.TryGetValue(id, out var t) ? new HashSet<string>(t) : [];
        }
    }

    /// <summary>Issues a token pair in a DC, as a finished install would.</summary>
    public (string Access, string Refresh) IssueTokens(string dc)
    {
        var refresh = $"1000.{Guid.NewGuid():N}";
        _refreshTokens[refresh] = dc;
        return (Mint(dc, refresh), refresh);
    }

    public void ExpireAccessTokens()
    {
        foreach (var (k, v) in _tokens)
        {
            _tokens[k] = v with { Expires = Clock.GetUtcNow().AddSeconds(-1) };
        }
    }

    public void UseCredits(long credits) => Interlocked.Add(ref _creditsUsed, credits);

    protected override void Map(WebApplication app)
    {
        app.MapGet("/accounts/{dc}/oauth/v2/auth", Authorize);
        app.MapPost("/accounts/{dc}/oauth/v2/token", TokenAsync);
        app.MapPost("/api/{dc}/crm/v8/Contacts/upsert", (HttpContext c, string dc) => Guarded(c, dc, UpsertAsync));
        app.MapPut("/api/{dc}/crm/v8/Contacts", (HttpContext c, string dc) => Guarded(c, dc, UpdateAsync));
        app.MapPost("/api/{dc}/crm/v8/Contacts/{masterId}/actions/merge", (HttpContext c, string dc, string masterId) => Guarded(c, dc, ctx => MergeAsync(ctx, masterId)));
        app.MapPost("/api/{dc}/crm/v8/Contacts/actions/add_tags", (HttpContext c, string dc) => Guarded(c, dc, ctx => TagsAsync(ctx, add: true)));
        app.MapPost("/api/{dc}/crm/v8/Contacts/actions/remove_tags", (HttpContext c, string dc) => Guarded(c, dc, ctx => TagsAsync(ctx, add: false)));
        app.MapGet("/api/{dc}/crm/v8/settings/fields", (HttpContext c, string dc) => Guarded(c, dc, ctx => Write(ctx, 200, new JObject { ["fields"] = new JArray(Fields.Values) })));
        app.MapGet("/api/{dc}/crm/v8/org", (HttpContext c, string dc) => Guarded(c, dc, ctx => Write(ctx, 200, new JObject { ["org"] = new JArray(new JObject { ["id"] = OrgId, ["zgid"] = OrgId, ["company_name"] = "Sandbox Org" }) })));
        app.MapGet("/api/{dc}/crm/v8/Contacts/search", (HttpContext c, string dc) => Guarded(c, dc, SearchAsync));
        app.MapPost("/api/{dc}/crm/v8/upload", (HttpContext c, string dc) => Guarded(c, dc, UploadAsync));
        app.MapPost("/api/{dc}/crm/bulk/v8/write", (HttpContext c, string dc) => Guarded(c, dc, ctx => CreateJobAsync(ctx, dc)));
        app.MapGet("/api/{dc}/crm/bulk/v8/write/{id}", (HttpContext c, string dc, string id) => Guarded(c, dc, ctx => JobAsync(ctx, dc, id)));
        app.MapGet("/api/{dc}/crm/bulk/v8/write/{id}/result", (HttpContext c, string dc, string id) => Guarded(c, dc, ctx => ResultAsync(ctx, id)));
    }

    protected override Task WriteFaultAsync(HttpContext context, int status) => status == 429
        ? Write(context, 429, new JObject { ["code"] = "TOO_MANY_REQUESTS", ["details"] = new JObject(), ["message"] = "The number of requests exceeded the limit", ["status"] = "error" })
        : Write(context, status, new JObject { ["code"] = "INTERNAL_ERROR", ["details"] = new JObject(), ["message"] = "Internal Server Error", ["status"] = "error" });

    private IResult Authorize(string dc, HttpRequest request)
    {
        if (request.Query["client_id"] != ClientId || request.Query["access_type"] != "offline")
        {
            return Results.BadRequest("Invalid client or access_type.");
        }

        var code = $"1000.{Guid.NewGuid():N}";
        _codes[code] = (UserDataCentre, Clock.GetUtcNow().AddMinutes(2)); // grant tokens live two minutes
        var redirect = request.Query["redirect_uri"].ToString();
        var query = $"code={code}&location={UserDataCentre}&accounts-server={Uri.EscapeDataString(AccountsServer(UserDataCentre))}&state={Uri.EscapeDataString(request.Query["state"].ToString())}";
        return Results.Redirect($"{redirect}{(redirect.Contains('?', StringComparison.Ordinal) ? "&" : "?")}{query}");
    }

    private async Task TokenAsync(HttpContext context, string dc)
    {
        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        if (form["client_id"] != ClientId || form["client_secret"] != ClientSecret)
        {
            await Write(context, 200, new JObject { ["error"] = "invalid_client" });
            return;
        }

        if (form["grant_type"] == "authorization_code")
        {
            if (!_codes.TryRemove(form["code"].ToString(), out var grant) || grant.Dc != dc || grant.Expires <= Clock.GetUtcNow())
            {
                await Write(context, 200, new JObject { ["error"] = "invalid_code" });
                return;
            }

            var (access, refresh) = IssueTokens(dc);
            await Write(context, 200, new JObject { ["access_token"] = access, ["refresh_token"] = refresh, ["api_domain"] = ApiDomain(dc), ["token_type"] = "Bearer", ["expires_in"] = (long)TokenLifetime.TotalSeconds });
            return;
        }

        if (form["grant_type"] == "refresh_token")
        {
            var presented = form["refresh_token"].ToString();
            if (!_refreshTokens.TryGetValue(presented, out var home) || home != dc)
            {
                await Write(context, 200, new JObject { ["error"] = "invalid_code" });
                return;
            }

            var mints = _mints.GetOrAdd(presented, _ => new Queue<DateTimeOffset>());
            lock (mints)
            {
                var now = Clock.GetUtcNow();
                while (mints.Count > 0 && now - mints.Peek() >= TimeSpan.FromMinutes(10))
                {
                    mints.Dequeue();
                }

                if (mints.Count >= 10)
                {
                    context.Items["denied"] = true;
                }
            }

            if (context.Items.ContainsKey("denied"))
            {
                await Write(context, 200, new JObject { ["error"] = "Access Denied", ["error_description"] = "You have made too many requests continuously. Please try again after some time." });
                return;
            }

            // A refresh answer carries no refresh token.
            await Write(context, 200, new JObject { ["access_token"] = Mint(dc, presented), ["api_domain"] = ApiDomain(dc), ["token_type"] = "Bearer", ["expires_in"] = (long)TokenLifetime.TotalSeconds });
            return;
        }

        await Write(context, 200, new JObject { ["error"] = "unsupported_grant_type" });
    }

    private string Mint(string dc, string refresh)
    {
        var mints = _mints.GetOrAdd(refresh, _ => new Queue<DateTimeOffset>());
        lock (mints)
        {
            mints.Enqueue(Clock.GetUtcNow());
        }

        var access = $"1000.{Guid.NewGuid():N}";
        _tokens[access] = (dc, Clock.GetUtcNow() + TokenLifetime);
        return access;
    }

    private async Task Guarded(HttpContext context, string dc, Func<HttpContext, Task> handler)
    {
        var header = context.Request.Headers.Authorization.ToString();
        var token = header.StartsWith("Zoho-oauthtoken ", StringComparison.Ordinal) ? header[16..] : "";
        if (!_tokens.TryGetValue(token, out var t) || t.Dc != dc || t.Expires <= Clock.GetUtcNow())
        {
            await Write(context, 401, new JObject { ["code"] = "INVALID_TOKEN", ["details"] = new JObject(), ["message"] = "invalid oauth token", ["status"] = "error" });
            return;
        }

        if (Interlocked.Increment(ref _inFlight) > ConcurrencyLimit || Interlocked.Read(ref _creditsUsed) >= CreditsPerDay)
        {
            Interlocked.Decrement(ref _inFlight);
            await Write(context, 429, new JObject { ["code"] = "TOO_MANY_REQUESTS", ["details"] = new JObject(), ["message"] = "The number of requests exceeded the limit", ["status"] = "error" });
            return;
        }

        try
        {
            var used = Interlocked.Increment(ref _creditsUsed);
            if (used * 2 >= CreditsPerDay)
            {
                context.Response.Headers["X-API-CREDITS-REMAINING"] = Math.Max(0, CreditsPerDay - used).ToString(CultureInfo.InvariantCulture);
            }

            await handler(context);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    private async Task UpsertAsync(HttpContext context)
    {
        var body = await BodyAsync(context);
        var data = (body?["data"] as JArray ?? []).OfType<JObject>().ToList();
        if (data.Count > 100)
        {
            await Write(context, 400, new JObject { ["code"] = "LIMIT_EXCEEDED", ["details"] = new JObject { ["limit"] = 100 }, ["message"] = "the limit has been exceeded", ["status"] = "error" });
            return;
        }

        var checkFields = (body?["duplicate_check_fields"] as JArray)?.Select(v => v.ToString()).ToList() ?? ["Email"];
        var items = new JArray();
        var now = Clock.GetUtcNow().ToString("yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture);
        lock (_gate)
        {
            for (var i = 0; i < data.Count; i++)
            {
                var record = data[i];
                var existing = checkFields.Select(f => record.Value<string>(f) is { } v ? Find(f, v, _ => true) : null).FirstOrDefault(c => c is not null);
                var error = Validate(record, i, existing);
                if (error is not null)
                {
                    items.Add(error);
                    continue;
                }

                var id = existing?.Value<string>("id") ?? (++_nextId).ToString(CultureInfo.InvariantCulture);
                var target = existing ?? Add(id, now);
                foreach (var (name, value) in record)
                {
                    Assign(id, target, name, value);
                }

                Assign(id, target, "Modified_Time", now);
                _writtenAt[id] = Clock.GetUtcNow();
                items.Add(new JObject
                {
                    ["code"] = "SUCCESS",
                    ["duplicate_field"] = existing is null ? null : checkFields[0],
                    ["action"] = existing is null ? "insert" : "update",
                    ["details"] = new JObject { ["Modified_Time"] = now, ["id"] = id, ["Created_Time"] = target["Created_Time"] },
                    ["message"] = existing is null ? "record added" : "record updated",
                    ["status"] = "success",
                });
            }
        }

        var failed = items.Count(x => x.Value<string>("status") == "error");
        await Write(context, failed == 0 ? 200 : failed == items.Count ? 400 : 207, new JObject { ["data"] = items });
    }

    /// <summary>
    /// Update Records (<c>PUT /Contacts</c>, ≤ 100): each item names its record by <c>id</c>; an unknown id is INVALID_DATA
    /// on <c>id</c>; the other checks are the upsert's; <c>data[]</c> answers in input order with 200/207/400.
    /// </summary>
    private async Task UpdateAsync(HttpContext context)
    {
        var body = await BodyAsync(context);
        var data = (body?["data"] as JArray ?? []).OfType<JObject>().ToList();
        if (data.Count > 100)
        {
            await Write(context, 400, new JObject { ["code"] = "LIMIT_EXCEEDED", ["details"] = new JObject { ["limit"] = 100 }, ["message"] = "the limit has been exceeded", ["status"] = "error" });
            return;
        }

        var items = new JArray();
        var now = Clock.GetUtcNow().ToString("yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture);
        lock (_gate)
        {
            for (var i = 0; i < data.Count; i++)
            {
                var record = data[i];
                if (record.Value<string>("id") is not { } id || !_contacts.TryGetValue(id, out var existing))
                {
                    items.Add(new JObject { ["code"] = "INVALID_DATA", ["details"] = new JObject { ["api_name"] = "id", ["json_path"] = $"$.data[{i}].id" }, ["message"] = "the id given seems to be invalid", ["status"] = "error" });
                    continue;
                }

                var fields = (JObject)record.DeepClone();
                fields.Remove("id");
                if (Validate(fields, i, existing) is { } error)
                {
                    items.Add(error);
                    continue;
                }

                foreach (var (name, value) in fields)
                {
                    Assign(id, existing, name, value);
                }

                Assign(id, existing, "Modified_Time", now);
                _writtenAt[id] = Clock.GetUtcNow();
                items.Add(new JObject { ["code"] = "SUCCESS", ["details"] = new JObject { ["Modified_Time"] = now, ["id"] = id }, ["message"] = "record updated", ["status"] = "success" });
            }
        }

        var failed = items.Count(x => x.Value<string>("status") == "error");
        await Write(context, failed == 0 ? 200 : failed == items.Count ? 400 : 207, new JObject { ["data"] = items });
    }

    /// <summary>Zoho's per-record checks: mandatory fields on insert, picklist values, lengths, unique fields.</summary>
    private JObject? Validate(JObject record, int index, JObject? existing)
    {
        JObject Error(string code, string message, JObject details)
        {
            details["json_path"] = $"$.data[{index}].{details.Value<string>("api_name")}";
            return new JObject { ["code"] = code, ["details"] = details, ["message"] = message, ["status"] = "error" };
        }

        if (existing is null)
        {
            foreach (var mandatory in Fields.Values.Where(f => f.Value<bool>("system_mandatory")))
            {
                var name = mandatory.Value<string>("api_name")!;
                if (record[name] is null || record[name]!.Type == JTokenType.Null || record.Value<string>(name) == "")
                {
                    return Error("MANDATORY_NOT_FOUND", "required field not found", new JObject { ["api_name"] = name });
                }
            }
        }

        foreach (var (name, value) in record)
        {
            if (!Fields.TryGetValue(name, out var field))
            {
                return Error("INVALID_DATA", "invalid data", new JObject { ["api_name"] = name });
            }

            if (value is null || value.Type == JTokenType.Null)
            {
                continue;
            }

            var type = field.Value<string>("data_type");
            if (type == "picklist" && !(field["pick_list_values"] as JArray ?? []).Any(v => v.Value<string>("actual_value") == value.ToString()))
            {
                return Error("INVALID_DATA", "invalid data", new JObject { ["api_name"] = name, ["expected_data_type"] = "picklist", ["supported_values"] = new JArray((field["pick_list_values"] as JArray ?? []).Select(v => v["actual_value"])) });
            }

            if (field.Value<int?>("length") is { } max && value.Type == JTokenType.String && value.ToString().Length > max)
            {
                return Error("INVALID_DATA", "invalid data", new JObject { ["api_name"] = name, ["maximum_length"] = max });
            }

            if (type == "email" && !value.ToString().Contains('@', StringComparison.Ordinal))
            {
                return Error("INVALID_DATA", "invalid data", new JObject { ["api_name"] = name, ["expected_data_type"] = "email" });
            }

            if (field.Value<bool?>("unique") == true && Find(name, value.ToString(), c => c != existing && string.Equals(c.Value<string>(name), value.ToString(), StringComparison.Ordinal)) is { } clash)
            {
                return Error("DUPLICATE_DATA", "duplicate data", new JObject { ["api_name"] = name, ["duplicate_record"] = new JObject { ["id"] = clash["id"], ["module"] = new JObject { ["api_name"] = "Contacts" } }, ["more_records"] = false });
            }
        }

        return null;
    }

    /// <summary>
    /// Merge Records: up to three children in <c>merge[0].data[]</c> are merged into the master and deleted; the
    /// master keeps its values, blanks filled from the children. Runs at once (SUCCESS). Unknown ids are INVALID_DATA.
    /// </summary>
    private async Task MergeAsync(HttpContext context, string masterId)
    {
        var body = await BodyAsync(context);
        var children = (body?["merge"]?[0]?["data"] as JArray ?? []).Select(d => d.Value<string>("id")).OfType<string>().ToList();
        var valid = true;
        lock (_gate)
        {
            if (children.Count is 0 or > 3 || !_contacts.TryGetValue(masterId, out var master) || children.Any(c => c == masterId || !_contacts.ContainsKey(c)))
            {
                valid = false;
                master = null;
            }

            foreach (var child in valid ? children : [])
            {
                foreach (var (name, value) in _contacts[child])
                {
                    if (master![name] is null || master[name]!.Type == JTokenType.Null)
                    {
                        Assign(masterId, master, name, value?.DeepClone());
                    }
                }

                if (_tags.Remove(child, out var childTags))
                {
                    (_tags.TryGetValue(masterId, out var t) ? t : _tags[masterId] = new HashSet<string>(StringComparer.Ordinal)).UnionWith(childTags);
                }

                Remove(child);
            }
        }

        if (!valid)
        {
            await Write(context, 400, new JObject { ["merge"] = new JArray(new JObject { ["code"] = "INVALID_DATA", ["details"] = new JObject { ["api_name"] = "id" }, ["message"] = "the id given seems to be invalid", ["status"] = "error" }) });
            return;
        }

        await Write(context, 200, new JObject { ["merge"] = new JArray(new JObject { ["code"] = "SUCCESS", ["details"] = new JObject { ["job_id"] = (++_nextId).ToString(CultureInfo.InvariantCulture) }, ["message"] = "The merge is completed", ["status"] = "success" }) });
    }

    private async Task TagsAsync(HttpContext context, bool add)
    {
        var body = await BodyAsync(context);
        var names = (body?["tags"] as JArray ?? []).Select(t => t.Value<string>("name")!).Where(n => n is not null).ToList();
        var ids = (body?["ids"] as JArray ?? []).Select(i => i.ToString()).ToList();
        var items = new JArray();
        lock (_gate)
        {
            foreach (var name in names.Where(n => n.Length > 25))
            {
                items.Add(new JObject { ["code"] = "INVALID_DATA", ["details"] = new JObject { ["api_name"] = "name", ["maximum_length"] = 25 }, ["message"] = "invalid data", ["status"] = "error" });
            }

            if (add && names.Count(n => !_moduleTags.Contains(n)) + _moduleTags.Count > TagsPerModule)
            {
                foreach (var id in ids)
                {
                    items.Add(new JObject { ["code"] = "LICENSE_LIMIT_EXCEEDED", ["details"] = new JObject { ["id"] = id }, ["message"] = "tags edition limit exceeded", ["status"] = "error" });
                }
            }
            else if (items.Count == 0)
            {
                foreach (var id in ids)
                {
                    if (!_contacts.ContainsKey(id))
                    {
                        items.Add(new JObject { ["code"] = "INVALID_DATA", ["details"] = new JObject { ["id"] = id }, ["message"] = "the related id given seems to be invalid", ["status"] = "error" });
                        continue;
                    }

                    var set = _tags.TryGetValue(id, out var s) ? s : _tags[id] = new HashSet<string>(StringComparer.Ordinal);
                    if (add && set.Union(names).Count() > TagsPerRecord)
                    {
                        items.Add(new JObject { ["code"] = "LIMIT_EXCEEDED", ["details"] = new JObject { ["id"] = id, ["limit"] = TagsPerRecord }, ["message"] = "Tags per record limit exceeded", ["status"] = "error" });
                        continue;
                    }

                    foreach (var n in names)
                    {
                        if (add)
                        {
                            set.Add(n);
                            _moduleTags.Add(n);
                        }
                        else
                        {
                            set.Remove(n);
                        }
                    }

                    items.Add(new JObject { ["code"] = "SUCCESS", ["details"] = new JObject { ["id"] = id, ["tags"] = new JArray(set.Select(n => new JObject { ["name"] = n })) }, ["message"] = add ? "tags updated successfully" : "tags removed successfully", ["status"] = "success" });
                }
            }
        }

        var failed = items.Count(x => x.Value<string>("status") == "error");
        await Write(context, failed == 0 ? 200 : failed == items.Count ? 400 : 207, new JObject { ["data"] = items, ["success_count"] = (items.Count - failed).ToString(CultureInfo.InvariantCulture), ["locked_count"] = "0" });
    }

    // ---- Search ----

    /// <summary>
    /// <c>GET /Contacts/search</c> as Zoho runs it: one parameter by priority (criteria &gt; email &gt; phone &gt; word);
    /// <c>equals</c> on text behaves like contains; a record written less than <see cref="SearchLag"/> ago is not found
    /// yet; no match is 204 with an empty body; more than 2000 matches is LIMIT_REACHED.
    /// </summary>
    private async Task SearchAsync(HttpContext context)
    {
        var q = context.Request.Query;
        (string Field, string Value)? term = null;
        if (q["criteria"].ToString() is { Length: > 0 } criteria)
        {
            var parts = criteria.Trim('(', ')').Split(':', 3);
            if (parts.Length != 3)
            {
                await Write(context, 400, new JObject { ["code"] = "INVALID_QUERY", ["details"] = new JObject { ["reason"] = "criteria must be (field:operator:value)" }, ["message"] = "Invalid query formed", ["status"] = "error" });
                return;
            }

            term = (parts[0], parts[2]);
        }
        else if (q["email"].ToString() is { Length: > 0 } email)
        {
            term = ("Email", email);
        }
        else if (q["phone"].ToString() is { Length: >= 3 } phone)
        {
            term = ("Mobile", phone);
        }
        else if (q["word"].ToString() is { Length: >= 2 } word)
        {
            term = ("*", word);
        }

        if (term is not { } t)
        {
            await Write(context, 400, new JObject { ["code"] = "REQUIRED_PARAM_MISSING", ["details"] = new JObject { ["param"] = "criteria|email|phone|word" }, ["message"] = "One of the expected parameter is missing", ["status"] = "error" });
            return;
        }

        var visibleBefore = Clock.GetUtcNow() - SearchLag;
        List<JObject> found;
        lock (_gate)
        {
            found = [.. _contacts.Values
                .Where(c => !_writtenAt.TryGetValue(c.Value<string>("id")!, out var written) || written <= visibleBefore)
                .Where(c => t.Field == "*"
                    ? c.Properties().Any(p => p.Value.Type == JTokenType.String && p.Value.ToString().Contains(t.Value, StringComparison.OrdinalIgnoreCase))
                    : c.Value<string>(t.Field)?.Contains(t.Value, StringComparison.OrdinalIgnoreCase) == true)
                .Select(c => (JObject)c.DeepClone())];
        }

        if (found.Count == 0)
        {
            context.Response.StatusCode = 204;
            return;
        }

        if (found.Count > 2000)
        {
            await Write(context, 400, new JObject { ["code"] = "LIMIT_REACHED", ["details"] = new JObject { ["limit"] = 2000 }, ["message"] = "search results exceed 2000", ["status"] = "error" });
            return;
        }

        await Write(context, 200, new JObject { ["data"] = new JArray(found.Take(200)), ["info"] = new JObject { ["per_page"] = 200, ["count"] = Math.Min(200, found.Count), ["page"] = 1, ["more_records"] = found.Count > 200 } });
    }

    // ---- Contacts and their lookups (callers hold _gate) ----

    private static string? Scalar(JToken? token) => token is JValue { Type: not JTokenType.Null } value ? value.Value<string>() : null;

    /// <summary>The earliest-created contact whose <paramref name="field"/> equals <paramref name="value"/> ignoring case and that passes <paramref name="match"/>.</summary>
    private JObject? Find(string field, string value, Func<JObject, bool> match)
    {
        if (!_lookups.TryGetValue(field, out var byValue))
        {
            byValue = new Dictionary<string, HashSet<string>>(StringComparer.OrdinalIgnoreCase);
            foreach (var (id, contact) in _contacts)
            {
                Index(byValue, Scalar(contact[field]), id);
            }

            _lookups[field] = byValue;
        }

        return byValue.TryGetValue(value, out var ids)
            ? ids.OrderBy(id => id.Length).ThenBy(id => id, StringComparer.Ordinal).Select(id => _contacts[id]).FirstOrDefault(match)
            : null;
    }

    private static void Index(Dictionary<string, HashSet<string>> byValue, string? value, string id)
    {
        if (value is not null)
        {
            (byValue.TryGetValue(value, out var ids) ? ids : byValue[value] = new HashSet<string>(StringComparer.Ordinal)).Add(id);
        }
    }

    private static void Unindex(Dictionary<string, HashSet<string>> byValue, string? value, string id)
    {
        if (value is not null && byValue.TryGetValue(value, out var ids) && ids.Remove(id) && ids.Count == 0)
        {
            byValue.Remove(value);
        }
    }

    private JObject Add(string id, string? createdTime)
    {
        var contact = new JObject { ["id"] = id };
        _contacts[id] = contact;
        if (createdTime is not null)
        {
            Assign(id, contact, "Created_Time", createdTime);
        }

        if (_lookups.TryGetValue("id", out var byId))
        {
            Index(byId, id, id);
        }

        return contact;
    }

    private void Assign(string id, JObject contact, string name, JToken? value)
    {
        if (_lookups.TryGetValue(name, out var byValue))
        {
            Unindex(byValue, Scalar(contact[name]), id);
            Index(byValue, Scalar(value), id);
        }

        contact[name] = value;
    }

    private void Remove(string id)
    {
        if (_contacts.Remove(id, out var contact))
        {
            foreach (var (name, byValue) in _lookups)
            {
                Unindex(byValue, Scalar(contact[name]), id);
            }
        }
    }

    // ---- Bulk Write ----

    private async Task UploadAsync(HttpContext context)
    {
        if (context.Request.Headers["feature"] != "bulk-write")
        {
            await Write(context, 400, new JObject { ["code"] = "INVALID_REQUEST", ["message"] = "the feature header must be bulk-write", ["status"] = "error", ["details"] = new JObject() });
            return;
        }

        if (context.Request.Headers["X-CRM-ORG"] != OrgId)
        {
            await Write(context, 400, new JObject { ["code"] = "INVALID_ORG", ["message"] = "X-CRM-ORG is not this org's zgid", ["status"] = "error", ["details"] = new JObject() });
            return;
        }

        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        if (form.Files["file"] is not { } file)
        {
            await Write(context, 400, new JObject { ["code"] = "INVALID_FILE_FORMAT", ["message"] = "no file", ["status"] = "error", ["details"] = new JObject() });
            return;
        }

        using var buffer = new MemoryStream();
        await file.CopyToAsync(buffer, context.RequestAborted);
        var id = (++_nextId).ToString(CultureInfo.InvariantCulture);
        _files[id] = buffer.ToArray();
        await Write(context, 200, new JObject { ["status"] = "success", ["code"] = "FILE_UPLOAD_SUCCESS", ["message"] = "file uploaded.", ["details"] = new JObject { ["file_id"] = id } });
    }

    private async Task CreateJobAsync(HttpContext context, string dc)
    {
        var body = await BodyAsync(context);
        var resource = (body?["resource"] as JArray)?.FirstOrDefault() as JObject;
        var fileId = resource?.Value<string>("file_id");
        if (resource is null || fileId is null || !_files.TryGetValue(fileId, out var zip))
        {
            await Write(context, 400, new JObject { ["code"] = "INVALID_DATA", ["message"] = "invalid file_id", ["status"] = "error", ["details"] = new JObject { ["api_name"] = "file_id" } });
            return;
        }

        List<string[]> rows;
        try
        {
            using var archive = new ZipArchive(new MemoryStream(zip), ZipArchiveMode.Read);
            using var reader = new StreamReader(archive.Entries.Single().Open(), Encoding.UTF8);
            using var csv = new CsvParser(reader, CultureInfo.InvariantCulture);
            rows = [];
            while (csv.Read())
            {
                rows.Add(csv.Record!);
            }
        }
        catch (Exception ex) when (ex is InvalidDataException or InvalidOperationException or CsvHelperException)
        {
            await Write(context, 400, new JObject { ["code"] = "INVALID_FILE_FORMAT", ["message"] = "the file is not a zip with one CSV: " + ex.Message, ["status"] = "error", ["details"] = new JObject() });
            return;
        }

        if (rows.Count - 1 > 25_000)
        {
            await Write(context, 400, new JObject { ["code"] = "INVALID_DATA", ["message"] = "the file has more than 25000 records", ["status"] = "error", ["details"] = new JObject() });
            return;
        }

        var mappings = (resource["field_mappings"] as JArray ?? []).Select(m => (Api: m.Value<string>("api_name")!, Index: m.Value<int>("index"))).ToList();
        var id = (++_nextId).ToString(CultureInfo.InvariantCulture);
        _jobs[id] = new BulkJob(id, dc, rows, mappings, resource.Value<string>("find_by") ?? "Email", body!.Value<bool?>("ignore_empty") == true, Clock.GetUtcNow());
        await Write(context, 201, new JObject { ["status"] = "success", ["code"] = "ADDED_SUCCESSFULLY", ["message"] = "Added successfully.", ["details"] = new JObject { ["id"] = id } });
    }

    private async Task JobAsync(HttpContext context, string dc, string id)
    {
        if (!_jobs.TryGetValue(id, out var job))
        {
            await Write(context, 400, new JObject { ["code"] = "INVALID_DATA", ["message"] = "invalid job id", ["status"] = "error", ["details"] = new JObject() });
            return;
        }

        var elapsed = Clock.GetUtcNow() - job.Created;
        var state = elapsed < TimeSpan.FromMilliseconds(50) ? "ADDED" : elapsed < BulkDuration ? "IN PROGRESS" : "COMPLETED";
        var answer = new JObject { ["id"] = id, ["operation"] = "upsert", ["status"] = state };
        if (state == "COMPLETED")
        {
            var counts = Run(job);
            answer["resource"] = new JArray(new JObject { ["status"] = "COMPLETED", ["type"] = "data", ["module"] = new JObject { ["api_name"] = "Contacts" }, ["file"] = counts });
            answer["result"] = new JObject { ["download_url"] = $"{ApiDomain(dc)}/crm/bulk/v8/write/{id}/result" };
        }

        await Write(context, 200, answer);
    }

    private async Task ResultAsync(HttpContext context, string id)
    {
        if (!_jobs.TryGetValue(id, out var job) || job.Result is null)
        {
            context.Response.StatusCode = 404;
            return;
        }

        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/zip";
        await context.Response.Body.WriteAsync(job.Result, context.RequestAborted);
    }

    /// <summary>Runs the job once: each row is upserted as a record would be, and the result file is written.</summary>
    private JObject Run(BulkJob job)
    {
        lock (_gate)
        {
            if (job.Result is null)
            {
                var header = job.Rows[0];
                using var text = new StringWriter(CultureInfo.InvariantCulture);
                using (var csv = new CsvWriter(text, CultureInfo.InvariantCulture))
                {
                    foreach (var h in header.Append("STATUS").Append("RECORD_ID").Append("ERRORS"))
                    {
                        csv.WriteField(h);
                    }

                    csv.NextRecord();
                    for (var i = 1; i < job.Rows.Count; i++)
                    {
                        var row = job.Rows[i];
                        var record = new JObject();
                        foreach (var (api, index) in job.Mappings)
                        {
                            var value = index < row.Length ? row[index] : "";
                            if (value.Length > 0 || !job.IgnoreEmpty)
                            {
                                record[api] = value;
                            }
                        }

                        var key = record.Value<string>(job.FindBy);
                        var existing = key is null ? null : Find(job.FindBy, key, _ => true);
                        var error = Validate(record, i - 1, existing);
                        string status, recordId = "", errors = "";
                        if (error is not null)
                        {
                            status = "SKIPPED";
                            errors = $"{error.Value<string>("code")} {error["details"]?.Value<string>("api_name")}".Trim();
                            job.Skipped++;
                        }
                        else
                        {
                            recordId = existing?.Value<string>("id") ?? (++_nextId).ToString(CultureInfo.InvariantCulture);
                            var target = existing ?? Add(recordId, null);
                            foreach (var (name, value) in record)
                            {
                                Assign(recordId, target, name, value);
                            }

                            _writtenAt[recordId] = Clock.GetUtcNow();
                            status = existing is null ? "ADDED" : "UPDATED";
                            if (existing is null)
                            {
                                job.Added++;
                            }
                            else
                            {
                                job.Updated++;
                            }
                        }

                        foreach (var field in row)
                        {
                            csv.WriteField(field);
                        }

                        csv.WriteField(status);
                        csv.WriteField(recordId);
                        csv.WriteField(errors);
                        csv.NextRecord();
                    }
                }

                using var zip = new MemoryStream();
                using (var archive = new ZipArchive(zip, ZipArchiveMode.Create, leaveOpen: true))
                {
                    using var stream = archive.CreateEntry($"{job.Id}.csv").Open();
                    stream.Write(Encoding.UTF8.GetBytes(text.ToString()));
                }

                job.Result = zip.ToArray();
            }

            return new JObject { ["added_count"] = job.Added, ["skipped_count"] = job.Skipped, ["updated_count"] = job.Updated, ["total_count"] = job.Rows.Count - 1 };
        }
    }

    private sealed class BulkJob(string id, string dc, List<string[]> rows, List<(string Api, int Index)> mappings, string findBy, bool ignoreEmpty, DateTimeOffset created)
    {
        public string Id { get; } = id;
        public string Dc { get; } = dc;
        public List<string[]> Rows { get; } = rows;
        public List<(string Api, int Index)> Mappings { get; } = mappings;
        public string FindBy { get; } = findBy;
        public bool IgnoreEmpty { get; } = ignoreEmpty;
        public DateTimeOffset Created { get; } = created;
        public byte[]? Result { get; set; }
        public int Added { get; set; }
        public int Updated { get; set; }
        public int Skipped { get; set; }
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

    private static Dictionary<string, JObject> DefaultFields()
    {
        var fields = new Dictionary<string, JObject>(StringComparer.Ordinal);
        void Add(string api, string type, bool custom, bool mandatory = false, int? length = null, bool unique = false, params string[] picklist) => fields[api] = new JObject
        {
            ["api_name"] = api,
            ["field_label"] = api.Replace('_', ' '),
            ["data_type"] = type,
            ["length"] = length,
            ["system_mandatory"] = mandatory,
            ["read_only"] = false,
            ["custom_field"] = custom,
            ["unique"] = unique,
            ["pick_list_values"] = new JArray(picklist.Select(p => new JObject { ["display_value"] = p, ["actual_value"] = p })),
        };
        Add("Email", "email", false, length: 100);
        Add("First_Name", "text", false, length: 40);
        Add("Last_Name", "text", false, mandatory: true, length: 80);
        Add("Mobile", "phone", false, length: 30);
        Add("Mailing_Country", "text", false, length: 100);
        Add("Mailing_State", "text", false, length: 100);
        Add("Mailing_City", "text", false, length: 100);
        Add("Mailing_Street", "text", false, length: 250);
        Add("Mailing_Zip", "text", false, length: 30);
        Add("Email_Opt_Out", "boolean", false);
        Add("Hub_Profile_Id", "text", true, length: 64, unique: true);
        Add("Lifecycle_Stage", "picklist", true, picklist: ["Prospect", "New", "Active", "Sleeping", "Churned"]);
        Add("Value_Tier", "picklist", true, picklist: ["High", "Medium", "Low", "None"]);
        Add("VIP_Level", "text", true, length: 40);
        Add("RFM_Tier", "text", true, length: 40);
        Add("RFM_Score", "text", true, length: 10);
        Add("Repurchase", "boolean", true);
        Add("Total_Spent", "currency", true);
        Add("Order_Count", "integer", true);
        Add("Average_Order_Value", "currency", true);
        Add("First_Order_Date", "date", true);
        Add("Last_Order_Date", "date", true);
        Add("Days_Since_Last_Order", "integer", true);
        return fields;
    }

    private static Task Write(HttpContext context, int status, JObject body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json;charset=UTF-8";
        return context.Response.WriteAsync(body.ToString(Formatting.None), context.RequestAborted);
    }
}

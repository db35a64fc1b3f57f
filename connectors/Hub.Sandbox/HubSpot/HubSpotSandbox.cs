using System.Collections.Concurrent;
using System.Globalization;
using System.Text.RegularExpressions;
using Hub.Sandbox.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Hub.Sandbox.HubSpot;

/// <summary>
/// A HubSpot stand-in for one account: contacts kept by id with a unique email, property definitions (the Hub's
/// custom <c>hub_*</c> properties with their enumeration options), <c>batch/upsert</c> (≤ 100 inputs, <c>new</c> on
/// each result, 200 or 207 with <c>errors[]</c>, or the whole batch refused with 400 as HubSpot often does),
/// <c>batch/create</c> answering 409 "Contact already exists. Existing ID", the 10-second and daily limits with the
/// <c>X-HubSpot-RateLimit-*</c> headers and 429 bodies naming the policy, private-app tokens and expiring OAuth tokens.
/// Merging two contacts works as HubSpot's changelog of 2024 describes it: a new contact with a new id, the primary's
/// values winning and the other's filling its blanks, the other's email kept in <c>hs_additional_emails</c> (by which
/// an upsert still finds the contact), and both old ids aliases of the new one when read.
/// Point the connector at it with <c>Hub:Connectors:HubSpot:ApiBaseUrl = {BaseUrl}</c>.
/// </summary>
public sealed partial class HubSpotSandbox(TimeProvider? clock = null) : SandboxServer(clock)
{
    private readonly object _gate = new();
    private readonly Dictionary<long, JObject> _contacts = [];
    private readonly Dictionary<long, long> _mergedInto = []; // an old id → the contact a merge made of it
    private readonly ConcurrentDictionary<string, DateTimeOffset?> _tokens = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _refreshTokens = new(StringComparer.Ordinal);
    private readonly Queue<DateTimeOffset> _window = new();
    private long _nextId = 5000;
    private long _dailyUsed;

    public HubSpotSandbox(TimeProvider? clock, bool seedProperties) : this(clock)
    {
        if (seedProperties)
        {
            SeedHubProperties();
        }
    }

    /// <summary>A private app's token: never expires.</summary>
    public string PrivateAppToken { get; } = "pat-na1-" + Guid.NewGuid().ToString("N");

    public string ClientId { get; set; } = "sandbox-hubspot-client";
    public string ClientSecret { get; set; } = "sandbox-hubspot-secret";

    /// <summary>Requests per rolling 10 seconds (Free/Starter 100, Professional and Enterprise 190).</summary>
    public int TenSecondLimit { get; set; } = 190;

    public long DailyLimit { get; set; } = 650_000;

    /// <summary>True: a batch with any invalid input is refused whole (400); false: a 207 lists the bad inputs.</summary>
    public bool RefuseWholeBatchOnInvalidInput { get; set; }

    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>Contact property definitions by name.</summary>
    public Dictionary<string, JObject> Properties { get; } = new(StringComparer.Ordinal);

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

    public void UseDailyQuota(long calls) => Interlocked.Add(ref _dailyUsed, calls);

    /// <summary>Issues an OAuth access token (expiring) and refresh token, as an install would.</summary>
    public (string Access, string Refresh) IssueOAuthTokens()
    {
        var access = "oauth-" + Guid.NewGuid().ToString("N");
        var refresh = "refresh-" + Guid.NewGuid().ToString("N");
        _tokens[access] = Clock.GetUtcNow() + TokenLifetime;
        _refreshTokens[refresh] = true;
        return (access, refresh);
    }

    public void ExpireAccessTokens()
    {
        foreach (var key in _tokens.Keys)
        {
            if (_tokens[key] is not null)
            {
                _tokens[key] = Clock.GetUtcNow().AddSeconds(-1);
            }
        }
    }

    /// <summary>The default contact properties plus the Hub's custom ones (what an integrator creates at setup).</summary>
    public void SeedHubProperties()
    {
        void Add(string name, string type, bool custom, params string[] options) => Properties[name] = new JObject
        {
            ["name"] = name,
            ["label"] = name,
            ["type"] = type,
            ["fieldType"] = options.Length > 0 ? (type == "enumeration" && name == "hub_tags" ? "checkbox" : "select") : "text",
            ["hubspotDefined"] = !custom,
            ["options"] = new JArray(options.Select(o => new JObject { ["label"] = o, ["value"] = o })),
            ["modificationMetadata"] = new JObject { ["readOnlyValue"] = false },
        };
        foreach (var p in new[] { "email", "firstname", "lastname", "phone", "country", "state", "city", "address", "zip" })
        {
            Add(p, "string", false);
        }

        Add("lifecyclestage", "enumeration", false, "subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer", "evangelist", "other");
        Add("hub_profile_id", "string", true);
        Add("hub_lifecycle_stage", "enumeration", true, "new", "active", "sleeping", "churned");
        // The options cover every value the Hub's segment rules produce (mappings/rules/segments/segments.json).
        Add("hub_value_tier", "enumeration", true, "high", "medium", "low", "none");
        Add("hub_vip_level", "enumeration", true, "none", "VIP1", "VIP2", "VIP3");
        Add("hub_rfm_tier", "enumeration", true, "champions", "loyal", "promising", "at_risk", "hibernating", "none");
        Add("hub_rfm_score", "string", true);
        Add("hub_repurchase", "bool", true);
        Add("hub_total_spent", "number", true);
        Add("hub_order_count", "number", true);
        Add("hub_average_order_value", "number", true);
        Add("hub_first_order_date", "date", true);
        Add("hub_last_order_date", "date", true);
        Add("hub_tags", "enumeration", true, "vip", "repeat_buyer", "churn_risk", "new_customer", "high_value", "VIP", "Churn risk");
    }

    protected override void Map(WebApplication app)
    {
        app.MapPost("/crm/v3/objects/contacts/batch/upsert", (HttpContext c) => Guarded(c, BatchUpsertAsync));
        app.MapPost("/crm/v3/objects/contacts/batch/create", (HttpContext c) => Guarded(c, BatchCreateAsync));
        app.MapGet("/crm/v3/objects/contacts", (HttpContext c) => Guarded(c, ctx => Write(ctx, 200, new JObject { ["results"] = new JArray(Contacts.Take(1)) })));
        app.MapGet("/crm/v3/objects/contacts/{id}", (HttpContext c, string id) => Guarded(c, ctx => GetAsync(ctx, id)));
        app.MapPost("/crm/v3/objects/contacts/merge", (HttpContext c) => Guarded(c, MergeAsync));
        app.MapGet("/crm/v3/properties/contacts", (HttpContext c) => Guarded(c, ctx => Write(ctx, 200, new JObject { ["results"] = new JArray(Properties.Values) })));
        app.MapPost("/oauth/v1/token", TokenAsync);
        app.MapGet("/oauth/authorize", Authorize);
    }

    protected override Task WriteFaultAsync(HttpContext context, int status) => status == 429
        ? Write(context, 429, RateLimitBody("TEN_SECONDLY_ROLLING", "You have reached your secondly limit."))
        : Write(context, status, new JObject { ["status"] = "error", ["message"] = "internal error", ["category"] = "INTERNAL_ERROR", ["correlationId"] = Guid.NewGuid().ToString() });

    private async Task Guarded(HttpContext context, Func<HttpContext, Task> handler)
    {
        var header = context.Request.Headers.Authorization.ToString();
        var token = header.StartsWith("Bearer ", StringComparison.Ordinal) ? header[7..] : "";
        var known = token == PrivateAppToken || (_tokens.TryGetValue(token, out var expires) && (expires is null || expires > Clock.GetUtcNow()));
        if (!known)
        {
            await Write(context, 401, new JObject
            {
                ["status"] = "error",
                ["message"] = "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                ["category"] = "INVALID_AUTHENTICATION",
                ["correlationId"] = Guid.NewGuid().ToString(),
            });
            return;
        }

        int remaining;
        lock (_window)
        {
            var now = Clock.GetUtcNow();
            while (_window.Count > 0 && now - _window.Peek() >= TimeSpan.FromSeconds(10))
            {
                _window.Dequeue();
            }

            if (Interlocked.Read(ref _dailyUsed) >= DailyLimit)
            {
                remaining = -2;
            }
            else if (_window.Count >= TenSecondLimit)
            {
                remaining = -1;
            }
            else
            {
                _window.Enqueue(now);
                Interlocked.Increment(ref _dailyUsed);
                remaining = TenSecondLimit - _window.Count;
            }
        }

        var daily = Math.Max(0, DailyLimit - Interlocked.Read(ref _dailyUsed));
        context.Response.Headers["X-HubSpot-RateLimit-Max"] = TenSecondLimit.ToString(CultureInfo.InvariantCulture);
        context.Response.Headers["X-HubSpot-RateLimit-Remaining"] = Math.Max(0, remaining).ToString(CultureInfo.InvariantCulture);
        context.Response.Headers["X-HubSpot-RateLimit-Interval-Milliseconds"] = "10000";
        context.Response.Headers["X-HubSpot-RateLimit-Daily"] = DailyLimit.ToString(CultureInfo.InvariantCulture);
        context.Response.Headers["X-HubSpot-RateLimit-Daily-Remaining"] = daily.ToString(CultureInfo.InvariantCulture);
        if (remaining == -2)
        {
            await Write(context, 429, RateLimitBody("DAILY", "You have reached your daily limit."));
            return;
        }

        if (remaining == -1)
        {
            await Write(context, 429, RateLimitBody("TEN_SECONDLY_ROLLING", "You have reached your secondly limit."));
            return;
        }

        await handler(context);
    }

    private async Task BatchUpsertAsync(HttpContext context)
    {
        var inputs = await InputsAsync(context);
        if (inputs is null)
        {
            return;
        }

        var results = new JArray();
        var errors = new JArray();
        var valid = new List<(JObject Input, string Email, JObject Properties)>();
        foreach (var input in inputs)
        {
            var idProperty = input.Value<string>("idProperty");
            var email = input.Value<string>("id");
            var properties = input["properties"] as JObject ?? [];
            if (idProperty != "email" || string.IsNullOrEmpty(email))
            {
                errors.Add(Error("VALIDATION_ERROR", "Unable to perform upsert by non-unique or missing idProperty.", email));
                continue;
            }

            if (Validate(email, properties) is { } problem)
            {
                errors.Add(Error("VALIDATION_ERROR", problem, email));
                continue;
            }

            valid.Add((input, email, properties));
        }

        var duplicate = valid.GroupBy(v => v.Email, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            await Write(context, 400, new JObject { ["status"] = "error", ["message"] = $"Duplicate IDs found in batch input: [{duplicate.Key}]. IDs must be unique", ["category"] = "VALIDATION_ERROR" });
            return;
        }

        if (errors.Count > 0 && RefuseWholeBatchOnInvalidInput)
        {
            await Write(context, 400, new JObject { ["status"] = "error", ["message"] = errors[0]!.Value<string>("message"), ["category"] = "VALIDATION_ERROR", ["correlationId"] = Guid.NewGuid().ToString() });
            return;
        }

        var now = Clock.GetUtcNow().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
        lock (_gate)
        {
            foreach (var (_, email, properties) in valid)
            {
                var existing = FindByEmail(email);
                var isNew = existing is null;
                if (existing is null)
                {
                    existing = new JObject { ["id"] = (++_nextId).ToString(CultureInfo.InvariantCulture), ["createdAt"] = now };
                    _contacts[_nextId] = existing;
                }

                var former = existing.Value<string>("email");
                foreach (var (name, value) in properties)
                {
                    existing[name] = value;
                }

                // Found by an additional email: that email becomes the primary one, the former primary an additional one.
                var additional = Emails(existing.Value<string>("hs_additional_emails")).Where(e => !string.Equals(e, email, StringComparison.OrdinalIgnoreCase)).ToList();
                if (!string.IsNullOrEmpty(former) && !string.Equals(former, email, StringComparison.OrdinalIgnoreCase))
                {
                    additional.Add(former);
                }

                if (additional.Count > 0 || existing["hs_additional_emails"] is not null)
                {
                    existing["hs_additional_emails"] = string.Join(';', additional);
                }

                existing["email"] = email.ToLowerInvariant();
                existing["updatedAt"] = now;
                var shown = new JObject(existing.Properties().Where(p => p.Name is not "id" and not "createdAt" and not "updatedAt"));
                results.Add(new JObject { ["id"] = existing["id"], ["new"] = isNew, ["properties"] = shown, ["createdAt"] = existing["createdAt"], ["updatedAt"] = now });
            }
        }

        var body = new JObject { ["status"] = "COMPLETE", ["results"] = results, ["startedAt"] = now, ["completedAt"] = now };
        if (errors.Count > 0)
        {
            body["numErrors"] = errors.Count;
            body["errors"] = errors;
        }

        await Write(context, errors.Count > 0 ? 207 : 200, body);
    }

    private async Task BatchCreateAsync(HttpContext context)
    {
        var inputs = await InputsAsync(context);
        if (inputs is null)
        {
            return;
        }

        lock (_gate)
        {
            foreach (var input in inputs)
            {
                var existing = FindByEmail(input["properties"]?.Value<string>("email"));
                if (existing is not null)
                {
                    context.Items["conflict"] = existing.Value<string>("id");
                    break;
                }
            }
        }

        if (context.Items["conflict"] is string id)
        {
            await Write(context, 409, new JObject { ["status"] = "error", ["message"] = $"Contact already exists. Existing ID: {id}", ["category"] = "CONFLICT", ["correlationId"] = Guid.NewGuid().ToString() });
            return;
        }

        await Write(context, 400, new JObject { ["status"] = "error", ["message"] = "The Hub sandbox serves batch/create only to show its conflict; use batch/upsert.", ["category"] = "VALIDATION_ERROR" });
    }

    /// <summary>The contact whose email or one of whose additional emails this is (caller holds the lock).</summary>
    private JObject? FindByEmail(string? email) => string.IsNullOrEmpty(email) ? null : _contacts.Values.FirstOrDefault(c =>
        string.Equals(c.Value<string>("email"), email, StringComparison.OrdinalIgnoreCase) ||
        Emails(c.Value<string>("hs_additional_emails")).Contains(email, StringComparer.OrdinalIgnoreCase));

    private static IEnumerable<string> Emails(string? list) => (list ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>An id, or the contact it was merged into (caller holds the lock).</summary>
    private JObject? Resolve(string? id)
    {
        if (!long.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out var key))
        {
            return null;
        }

        while (_mergedInto.TryGetValue(key, out var next))
        {
            key = next;
        }

        return _contacts.GetValueOrDefault(key);
    }

    private Task GetAsync(HttpContext context, string id)
    {
        JObject? contact;
        lock (_gate)
        {
            contact = Resolve(id) is { } c ? Shown(c) : null;
        }

        return contact is null
            ? Write(context, 404, new JObject { ["status"] = "error", ["message"] = "Object not found.  objectId are usually numeric.", ["category"] = "OBJECT_NOT_FOUND", ["correlationId"] = Guid.NewGuid().ToString() })
            : Write(context, 200, contact);
    }

    /// <summary>
    /// <c>POST /crm/v3/objects/contacts/merge</c>: a new contact from the two, with a new id; the primary's values win.
    /// Two ids that already lead to one contact (a merge made twice) are refused with 400, as merging a contact
    /// with itself is; an unknown id gives 404 OBJECT_NOT_FOUND.
    /// </summary>
    private async Task MergeAsync(HttpContext context)
    {
        JObject body;
        try
        {
            body = JObject.Parse(await new StreamReader(context.Request.Body).ReadToEndAsync(context.RequestAborted));
        }
        catch (JsonException ex)
        {
            await Write(context, 400, new JObject { ["status"] = "error", ["message"] = "Invalid input JSON: " + ex.Message, ["category"] = "VALIDATION_ERROR" });
            return;
        }

        var primaryId = body.Value<string>("primaryObjectId");
        var otherId = body.Value<string>("objectIdToMerge");
        if (string.IsNullOrEmpty(primaryId) || string.IsNullOrEmpty(otherId))
        {
            await Write(context, 400, new JObject { ["status"] = "error", ["message"] = "primaryObjectId and objectIdToMerge are required.", ["category"] = "VALIDATION_ERROR" });
            return;
        }

        JObject? answer = null;
        string? problem = null;
        var status = 200;
        lock (_gate)
        {
            var primary = Resolve(primaryId);
            var other = Resolve(otherId);
            if (primary is null || other is null)
            {
                (status, problem) = (404, $"Object not found. {(primary is null ? primaryId : otherId)} is not a contact.");
            }
            else if (ReferenceEquals(primary, other))
            {
                (status, problem) = (400, $"Cannot merge contact {otherId} into {primaryId}: they are the same contact ({primary.Value<string>("id")}).");
            }
            else
            {
                answer = Shown(Merge(primary, other));
            }
        }

        await (answer is not null
            ? Write(context, 200, answer)
            : Write(context, status, new JObject { ["status"] = "error", ["message"] = problem, ["category"] = status == 404 ? "OBJECT_NOT_FOUND" : "VALIDATION_ERROR", ["correlationId"] = Guid.NewGuid().ToString() }));
    }

    /// <summary>Makes the merged contact and retires the two (caller holds the lock).</summary>
    private JObject Merge(JObject primary, JObject other)
    {
        var now = Clock.GetUtcNow().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
        var merged = new JObject { ["id"] = (++_nextId).ToString(CultureInfo.InvariantCulture) };
        foreach (var source in new[] { other, primary })
        {
            foreach (var (name, value) in source)
            {
                if (name is not ("id" or "createdAt" or "updatedAt" or "hs_additional_emails" or "hs_merged_object_ids") && value is not null && value.ToString().Length > 0)
                {
                    merged[name] = value.DeepClone();
                }
            }
        }

        var email = merged.Value<string>("email");
        merged["hs_additional_emails"] = string.Join(';', new[] { other.Value<string>("email"), primary.Value<string>("email") }
            .Concat(Emails(primary.Value<string>("hs_additional_emails"))).Concat(Emails(other.Value<string>("hs_additional_emails")))
            .Where(e => !string.IsNullOrEmpty(e) && !string.Equals(e, email, StringComparison.OrdinalIgnoreCase)).Distinct(StringComparer.OrdinalIgnoreCase));
        merged["hs_merged_object_ids"] = string.Join(';', new[] { primary, other }
            .SelectMany(c => Emails(c.Value<string>("hs_merged_object_ids")).Append(c.Value<string>("id")!)));
        merged["createdAt"] = string.CompareOrdinal(primary.Value<string>("createdAt"), other.Value<string>("createdAt")) <= 0 ? primary["createdAt"] : other["createdAt"];
        merged["updatedAt"] = now;
        foreach (var old in new[] { primary, other })
        {
            var id = long.Parse(old.Value<string>("id")!, CultureInfo.InvariantCulture);
            _contacts.Remove(id);
            _mergedInto[id] = _nextId;
        }

        _contacts[_nextId] = merged;
        return merged;
    }

    private static JObject Shown(JObject contact) => new()
    {
        ["id"] = contact["id"],
        ["properties"] = new JObject(contact.Properties().Where(p => p.Name is not "id" and not "createdAt" and not "updatedAt").Select(p => new JProperty(p.Name, p.Value.DeepClone()))),
        ["createdAt"] = contact["createdAt"],
        ["updatedAt"] = contact["updatedAt"],
        ["archived"] = false,
    };

    private async Task<List<JObject>?> InputsAsync(HttpContext context)
    {
        JObject body;
        try
        {
            body = JObject.Parse(await new StreamReader(context.Request.Body).ReadToEndAsync(context.RequestAborted));
        }
        catch (JsonException ex)
        {
            await Write(context, 400, new JObject { ["status"] = "error", ["message"] = "Invalid input JSON: " + ex.Message, ["category"] = "VALIDATION_ERROR" });
            return null;
        }

        var inputs = (body["inputs"] as JArray ?? []).OfType<JObject>().ToList();
        if (inputs.Count > 100)
        {
            await Write(context, 400, new JObject { ["status"] = "error", ["message"] = $"Batch input size {inputs.Count} exceeds the limit of 100.", ["category"] = "VALIDATION_ERROR" });
            return null;
        }

        return inputs;
    }

    /// <summary>What HubSpot checks per input: a valid email, known properties, enumeration options.</summary>
    private string? Validate(string email, JObject properties)
    {
        if (!EmailShape().IsMatch(email))
        {
            return $"Property values were not valid: [{{\"isValid\":false,\"message\":\"Email address {email} is invalid\",\"error\":\"INVALID_EMAIL\",\"name\":\"email\"}}]";
        }

        foreach (var (name, value) in properties)
        {
            if (Properties.Count > 0 && !Properties.ContainsKey(name))
            {
                return $"Property values were not valid: [{{\"isValid\":false,\"message\":\"Property \\\"{name}\\\" does not exist\",\"error\":\"PROPERTY_DOESNT_EXIST\",\"name\":\"{name}\"}}]";
            }

            if (Properties.TryGetValue(name, out var definition) && definition.Value<string>("type") == "enumeration" && value?.ToString() is { Length: > 0 } text)
            {
                var options = (definition["options"] as JArray ?? []).Select(o => o.Value<string>("value")).ToHashSet(StringComparer.Ordinal);
                var bad = text.Split(';').FirstOrDefault(v => !options.Contains(v));
                if (bad is not null)
                {
                    return $"Property values were not valid: [{{\"isValid\":false,\"message\":\"{bad} was not one of the allowed options: [{string.Join(", ", options)}]\",\"error\":\"INVALID_OPTION\",\"name\":\"{name}\"}}]";
                }
            }
        }

        return null;
    }

    private static JObject Error(string category, string message, string? id) => new()
    {
        ["status"] = "error",
        ["category"] = category,
        ["message"] = message,
        ["context"] = new JObject { ["ids"] = new JArray(id ?? "") },
    };

    /// <summary>The install screen: the portal's admin approves at once (no login page) and the browser goes back with a code.</summary>
    private IResult Authorize(HttpRequest request)
    {
        if (request.Query["client_id"] != ClientId)
        {
            return Results.BadRequest("The app's client id is not valid.");
        }

        if (!Uri.TryCreate(request.Query["redirect_uri"], UriKind.Absolute, out var redirect))
        {
            return Results.BadRequest("The redirect URL is missing.");
        }

        var code = "code-" + Guid.NewGuid().ToString("N");
        var separator = string.IsNullOrEmpty(redirect.Query) ? "?" : "&";
        return Results.Redirect($"{redirect}{separator}code={code}&state={Uri.EscapeDataString(request.Query["state"].ToString())}");
    }

    private async Task TokenAsync(HttpContext context)
    {
        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        if (form["client_id"] != ClientId || form["client_secret"] != ClientSecret)
        {
            await Write(context, 400, new JObject { ["status"] = "BAD_CLIENT_ID", ["message"] = "missing or unknown client id" });
            return;
        }

        if (form["grant_type"] == "refresh_token")
        {
            if (!_refreshTokens.ContainsKey(form["refresh_token"].ToString()))
            {
                await Write(context, 400, new JObject { ["status"] = "BAD_REFRESH_TOKEN", ["message"] = "missing or unknown refresh token" });
                return;
            }

            var access = "oauth-" + Guid.NewGuid().ToString("N");
            _tokens[access] = Clock.GetUtcNow() + TokenLifetime;
            await Write(context, 200, new JObject { ["access_token"] = access, ["refresh_token"] = form["refresh_token"].ToString(), ["expires_in"] = (long)TokenLifetime.TotalSeconds, ["token_type"] = "bearer" });
            return;
        }

        if (form["grant_type"] == "authorization_code" && form["code"].ToString().StartsWith("code-", StringComparison.Ordinal))
        {
            var (access, refresh) = IssueOAuthTokens();
            await Write(context, 200, new JObject { ["access_token"] = access, ["refresh_token"] = refresh, ["expires_in"] = (long)TokenLifetime.TotalSeconds, ["token_type"] = "bearer" });
            return;
        }

        await Write(context, 400, new JObject { ["status"] = "BAD_AUTH_CODE", ["message"] = "missing or unknown auth code" });
    }

    private static JObject RateLimitBody(string policy, string message) => new()
    {
        ["status"] = "error",
        ["message"] = message,
        ["errorType"] = "RATE_LIMIT",
        ["correlationId"] = Guid.NewGuid().ToString(),
        ["policyName"] = policy,
        ["requestId"] = Guid.NewGuid().ToString(),
    };

    private static Task Write(HttpContext context, int status, JObject body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json;charset=utf-8";
        return context.Response.WriteAsync(body.ToString(Formatting.None), context.RequestAborted);
    }

    [GeneratedRegex(@"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
    private static partial Regex EmailShape();
}

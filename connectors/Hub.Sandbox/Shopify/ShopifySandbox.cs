using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Hub.Sandbox.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Hub.Sandbox.Shopify;

/// <summary>
/// A Shopify stand-in: shops at <c>{BaseUrl}/shops/{shop}</c> serving the GraphQL Admin API with Shopify's cost
/// model and THROTTLED answers, cursor paging, search filters on updated_at, the 60-day order horizon without
/// <c>read_all_orders</c>, redacted protected data, bulk operations with JSONL results (range requests), API versions
/// that fall forward, OAuth install with signed callbacks and expiring tokens, and signed webhook deliveries.
/// Point the connector at it with <c>Hub:Connectors:Shopify:AdminBaseUrl = {BaseUrl}/shops/{shop}</c>.
/// </summary>
public sealed partial class ShopifySandbox(TimeProvider? clock = null) : SandboxServer(clock)
{
    public const string InvalidTokenMessage = "[API] Invalid API key or access token (unrecognized login or wrong password)";

    private readonly ConcurrentDictionary<string, ShopifyShop> _shops = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, Token> _tokens = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Token> _refreshTokens = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Grant> _codes = new(StringComparer.Ordinal);
    private int _bulkIds;

    public string ClientId { get; set; } = "sandbox-shopify-client";
    public string ClientSecret { get; set; } = "sandbox-shopify-secret";

    /// <summary>Stable versions served; an unknown version falls forward to the oldest of these.</summary>
    public List<string> SupportedVersions { get; } = ["2025-10", "2026-01", "2026-04", "2026-07", "2026-10"];

    /// <summary>Lifetime of expiring offline tokens (Shopify: 60 minutes).</summary>
    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromHours(1);

    public string AdminBaseUrlTemplate => BaseUrl + "/shops/{shop}";

    public ShopifyShop AddShop(string domain)
    {
        var shop = new ShopifyShop(domain.ToLowerInvariant(), Clock);
        _shops[shop.Domain] = shop;
        _tokens[shop.AccessToken] = new Token(shop.Domain, null);
        return shop;
    }

    public ShopifyShop Shop(string domain) => _shops[domain];

    /// <summary>Makes every access token issued so far expired, as an hour passing would.</summary>
    public void ExpireAccessTokens()
    {
        foreach (var (key, token) in _tokens)
        {
            _tokens[key] = token with { ExpiresAt = Clock.GetUtcNow().AddSeconds(-1) };
        }
    }

    /// <summary>Issues an expiring token pair for a shop, as a completed install would.</summary>
    public (string AccessToken, string RefreshToken) IssueExpiringToken(string domain)
    {
        var access = "shpat_" + Guid.NewGuid().ToString("N");
        var refresh = "shprt_" + Guid.NewGuid().ToString("N");
        _tokens[access] = new Token(domain, Clock.GetUtcNow() + TokenLifetime);
        _refreshTokens[refresh] = new Token(domain, Clock.GetUtcNow().AddDays(90));
        return (access, refresh);
    }

    protected override void Map(WebApplication app)
    {
        app.MapPost("/shops/{shop}/admin/api/{version}/graphql.json", GraphQLAsync);
        app.MapGet("/shops/{shop}/admin/api/{version}/orders.json", (HttpContext c, string shop, string version) => RestListAsync(c, shop, version, orders: true));
        app.MapGet("/shops/{shop}/admin/api/{version}/customers.json", (HttpContext c, string shop, string version) => RestListAsync(c, shop, version, orders: false));
        app.MapGet("/shops/{shop}/admin/oauth/authorize", Authorize);
        app.MapPost("/shops/{shop}/admin/oauth/access_token", AccessTokenAsync);
        app.MapGet("/bulk-results/{shop}/{id}.jsonl", (string shop, string id) =>
        {
            var op = _shops.TryGetValue(shop, out var s) ? s.BulkOperations.FirstOrDefault(b => b.Id.EndsWith("/" + id, StringComparison.Ordinal)) : null;
            return op is null ? Results.NotFound() : Results.File(op.Result, "application/jsonl", enableRangeProcessing: true);
        });
    }

    protected override Task WriteFaultAsync(HttpContext context, int status) =>
        WriteJson(context, status, new JObject
        {
            ["errors"] = status == 429 ? "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service." : "Internal Server Error",
        });

    private async Task GraphQLAsync(HttpContext context, string shop, string version)
    {
        if (await AuthenticateAsync(context, shop, version) is not { } s)
        {
            return;
        }

        JObject body;
        Gql.Operation op;
        JObject? variables;
        try
        {
            body = JObject.Parse(await new StreamReader(context.Request.Body).ReadToEndAsync(context.RequestAborted));
            variables = body["variables"] as JObject;
            op = Gql.Parse(body.Value<string>("query") ?? throw new FormatException("No query."));
        }
        catch (Exception ex) when (ex is JsonException or FormatException)
        {
            await WriteJson(context, 400, new JObject { ["errors"] = new JArray(new JObject { ["message"] = "Parse error: " + ex.Message }) });
            return;
        }

        context.Items[OperationKey] = string.Join(",", op.Fields.Select(f => f.Name));
        var requested = op.IsMutation ? 10 : Gql.Cost(op.Fields, variables);
        var tooBig = op.Fields.SelectMany(Flatten).FirstOrDefault(f => Gql.IntArg(f, "first", variables) > 250);
        if (tooBig is not null)
        {
            await WriteJson(context, 200, Errors($"The maximum page size is 250 (requested {Gql.IntArg(tooBig, "first", variables)} on {tooBig.Name}).", "BAD_USER_INPUT", s, requested, null));
            return;
        }

        if (requested > 1000)
        {
            var error = Errors($"Query cost is {requested}, which exceeds the single query max cost limit (1000).", "MAX_COST_EXCEEDED", s, requested, null);
            ((JObject)error["errors"]![0]!["extensions"]!)["cost"] = requested;
            ((JObject)error["errors"]![0]!["extensions"]!)["maxCost"] = 1000;
            await WriteJson(context, 200, error);
            return;
        }

        lock (s.Gate)
        {
            Refill(s);
            if (requested > s.Available)
            {
                var throttled = Errors("Throttled", "THROTTLED", s, requested, null);
                context.Response.StatusCode = s.ThrottledStatus;
                context.Items["body"] = throttled;
            }
            else
            {
                s.Available -= requested;
            }
        }

        if (context.Items["body"] is JObject throttledBody)
        {
            context.Items[OperationKey] += " THROTTLED";
            await WriteJson(context, s.ThrottledStatus, throttledBody);
            return;
        }

        var data = new JObject();
        var errors = new JArray();
        var returned = new Dictionary<Gql.Field, int>();
        foreach (var field in op.Fields)
        {
            data[field.Name] = Execute(s, field, variables, errors, returned);
        }

        var actual = op.IsMutation ? 10 : Gql.Cost(op.Fields, variables, f => returned.TryGetValue(f, out var n) ? n : null);
        lock (s.Gate)
        {
            s.Available = Math.Min(s.BucketMaximum, s.Available + (requested - actual));
        }

        var result = new JObject { ["data"] = data };
        if (errors.Count > 0)
        {
            result["errors"] = errors;
        }

        result["extensions"] = CostExtension(s, requested, actual);
        await WriteJson(context, 200, result);
    }

    /// <summary>
    /// The shop and a live token for it, or an answer already written: 404 for an unknown shop, 401 with Shopify's
    /// text for a missing, foreign or expired token. Stamps the API version actually served (unknown ones fall forward).
    /// </summary>
    private async Task<ShopifyShop?> AuthenticateAsync(HttpContext context, string shop, string version)
    {
        if (!_shops.TryGetValue(shop, out var s))
        {
            await WriteJson(context, 404, new JObject { ["errors"] = "Not Found" });
            return null;
        }

        var token = context.Request.Headers["X-Shopify-Access-Token"].ToString();
        if (!_tokens.TryGetValue(token, out var t) || t.Shop != s.Domain || (t.ExpiresAt is { } exp && exp <= Clock.GetUtcNow()))
        {
            await WriteJson(context, 401, new JObject { ["errors"] = InvalidTokenMessage });
            return null;
        }

        context.Response.Headers["X-Shopify-API-Version"] = SupportedVersions.Contains(version) ? version : SupportedVersions[0];
        return s;
    }

    private static IEnumerable<Gql.Field> Flatten(Gql.Field f) => f.Children.SelectMany(Flatten).Prepend(f);

    private JToken Execute(ShopifyShop s, Gql.Field field, JObject? variables, JArray errors, Dictionary<Gql.Field, int> returned)
    {
        switch (field.Name)
        {
            case "shop":
                return Gql.Project(new JObject { ["name"] = s.Domain.Split('.')[0], ["myshopifyDomain"] = s.Domain }, field.Children, variables);
            case "orders":
            case "customers":
                return RootConnection(s, field, variables, errors, returned);
            case "node":
                return Node(s, Gql.StringArg(field, "id", variables), field, variables);
            case "currentBulkOperation":
                var current = s.BulkOperations.LastOrDefault();
                return current is null ? JValue.CreateNull() : Gql.Project(BulkJson(s, current), field.Children, variables);
            case "bulkOperationRunQuery":
                return RunBulk(s, Gql.StringArg(field, "query", variables), field, variables);
            default:
                errors.Add(new JObject { ["message"] = $"Field '{field.Name}' doesn't exist on type 'QueryRoot'", ["extensions"] = new JObject { ["code"] = "undefinedField" } });
                return JValue.CreateNull();
        }
    }

    private JToken RootConnection(ShopifyShop s, Gql.Field field, JObject? variables, JArray errors, Dictionary<Gql.Field, int> returned)
    {
        var search = Gql.StringArg(field, "query", variables);
        var first = Gql.IntArg(field, "first", variables) ?? 50;
        var after = Gql.StringArg(field, "after", variables);
        List<(DateTimeOffset Updated, long Id, object Record)> rows;
        lock (s.Gate)
        {
            rows = field.Name == "orders"
                ? Visible(s).Where(o => Matches(search, o.UpdatedAt, o.CreatedAt)).Select(o => (o.UpdatedAt, o.Id, (object)o)).ToList()
                : s.Customers.Where(c => Matches(search, c.UpdatedAt, c.CreatedAt)).Select(c => (c.UpdatedAt, c.Id, (object)c)).ToList();
        }

        // sortKey UPDATED_AT (or ID): a keyset cursor, stable while records change underneath.
        var byUpdated = Gql.StringArg(field, "sortKey", variables) is "UPDATED_AT";
        rows = byUpdated ? [.. rows.OrderBy(r => r.Updated).ThenBy(r => r.Id)] : [.. rows.OrderBy(r => r.Id)];
        if (after is not null)
        {
            var (u, id) = DecodeCursor(after);
            rows = byUpdated ? rows.Where(r => r.Updated > u || (r.Updated == u && r.Id > id)).ToList() : rows.Where(r => r.Id > id).ToList();
        }

        var slice = rows.Take(first).ToList();
        returned[field] = slice.Count;
        List<JToken> rendered;
        lock (s.Gate)
        {
            rendered = slice.Select(r => (JToken)(r.Record is ShopifyOrder o ? GraphQLOrder(s, o) : GraphQLCustomer(s, (ShopifyCustomer)r.Record))).ToList();
        }

        if (!s.ProtectedDataApproved)
        {
            errors.Add(new JObject
            {
                ["message"] = "This app is not approved to access protected customer data: email, phone, name and address fields are redacted.",
                ["extensions"] = new JObject { ["code"] = "ACCESS_DENIED" },
                ["path"] = new JArray(field.Name),
            });
        }

        return Gql.Render(rendered, i => EncodeCursor(slice[i].Updated, slice[i].Id), rows.Count > first, after is not null, field, variables);
    }

    private JToken Node(ShopifyShop s, string? gid, Gql.Field field, JObject? variables)
    {
        if (gid is null)
        {
            return JValue.CreateNull();
        }

        lock (s.Gate)
        {
            if (gid.StartsWith("gid://shopify/Order/", StringComparison.Ordinal) && long.TryParse(gid[20..], out var orderId) && Visible(s).FirstOrDefault(o => o.Id == orderId) is { } order)
            {
                return Gql.Project(GraphQLOrder(s, order), field.Children, variables);
            }

            if (s.BulkOperations.FirstOrDefault(b => b.Id == gid) is { } op)
            {
                return Gql.Project(BulkJson(s, op), field.Children, variables);
            }
        }

        return JValue.CreateNull();
    }

    private JToken RunBulk(ShopifyShop s, string? document, Gql.Field field, JObject? variables)
    {
        JObject Result(JObject? op, JArray userErrors) => (JObject)Gql.Project(new JObject { ["bulkOperation"] = op, ["userErrors"] = userErrors }, field.Children, variables);
        Gql.Operation inner;
        try
        {
            inner = Gql.Parse(document ?? "");
        }
        catch (FormatException ex)
        {
            return Result(null, [new JObject { ["field"] = new JArray("query"), ["message"] = "Invalid bulk query: " + ex.Message, ["code"] = "INVALID" }]);
        }

        var root = inner.Fields.FirstOrDefault(f => f.Name is "orders" or "customers");
        if (root is null || root.Child("edges")?.Child("node") is not { } node)
        {
            return Result(null, [new JObject { ["field"] = new JArray("query"), ["message"] = "Bulk queries must select orders or customers with edges { node }.", ["code"] = "INVALID" }]);
        }

        var now = Clock.GetUtcNow();
        lock (s.Gate)
        {
            var running = s.BulkOperations.Count(b => b.Status(now) is "CREATED" or "RUNNING");
            if (running >= s.BulkConcurrency)
            {
                return Result(null, [new JObject { ["field"] = null, ["message"] = $"A bulk query operation for this app and shop is already in progress: {s.BulkOperations.Last().Id}.", ["code"] = "OPERATION_IN_PROGRESS" }]);
            }

            var search = Gql.StringArg(root, "query", null);
            var lines = new StringBuilder();
            var count = 0;
            var records = root.Name == "orders"
                ? Visible(s).Where(o => Matches(search, o.UpdatedAt, o.CreatedAt)).OrderBy(o => o.Id).Select(o => GraphQLOrder(s, o))
                : s.Customers.Where(c => Matches(search, c.UpdatedAt, c.CreatedAt)).OrderBy(c => c.Id).Select(c => GraphQLCustomer(s, c));
            foreach (var full in records)
            {
                var nested = node.Children.Where(c => c.Children.Count > 0 && full[c.Name] is JArray).ToList();
                var own = (JObject)Gql.Project(full, node.Children.Except(nested).ToList(), null);
                own["id"] = full["id"];
                lines.Append(own.ToString(Formatting.None)).Append('\n');
                count++;
                foreach (var connection in nested)
                {
                    var childSelection = connection.Child("edges")?.Child("node")?.Children ?? connection.Child("nodes")?.Children ?? [];
                    foreach (var child in (JArray)full[connection.Name]!)
                    {
                        var line = (JObject)Gql.Project(child, childSelection, null);
                        line["__parentId"] = full["id"];
                        lines.Append(line.ToString(Formatting.None)).Append('\n');
                        count++;
                    }
                }
            }

            var number = Interlocked.Increment(ref _bulkIds);
            var op = new BulkOperation
            {
                Id = $"gid://shopify/BulkOperation/{number}",
                CreatedAt = now,
                CompletesAt = now + s.BulkDuration,
                Result = Encoding.UTF8.GetBytes(lines.ToString()),
                ObjectCount = count,
                FailWith = s.FailNextBulk.Count > 0 ? s.FailNextBulk.Dequeue() : null,
            };
            s.BulkOperations.Add(op);
            return Result(new JObject { ["id"] = op.Id, ["status"] = op.Status(now) }, []);
        }
    }

    private JObject BulkJson(ShopifyShop s, BulkOperation op)
    {
        var status = op.Status(Clock.GetUtcNow());
        var done = status == "COMPLETED";
        return new JObject
        {
            ["__typename"] = "BulkOperation",
            ["id"] = op.Id,
            ["status"] = status,
            ["errorCode"] = status == "FAILED" ? op.FailWith : null,
            ["objectCount"] = done ? op.ObjectCount.ToString(CultureInfo.InvariantCulture) : "0",
            ["url"] = done && op.ObjectCount > 0 ? $"{BaseUrl}/bulk-results/{s.Domain}/{op.Id.Split('/').Last()}.jsonl" : null,
            ["partialDataUrl"] = null,
        };
    }

    private IEnumerable<ShopifyOrder> Visible(ShopifyShop s)
    {
        var horizon = Clock.GetUtcNow().AddDays(-60);
        return s.Scopes.Contains("read_all_orders") ? s.Orders : s.Orders.Where(o => o.CreatedAt >= horizon);
    }

    /// <summary>Shopify search syntax, the part the Hub uses: <c>updated_at:&gt;='…' AND created_at:&lt;'…'</c>.</summary>
    private static bool Matches(string? search, DateTimeOffset updated, DateTimeOffset created)
    {
        if (string.IsNullOrWhiteSpace(search))
        {
            return true;
        }

        foreach (Match m in SearchTerm().Matches(search))
        {
            var value = m.Groups[1].Value == "updated_at" ? updated : created;
            if (!DateTimeOffset.TryParse(m.Groups[3].Value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var bound))
            {
                continue;
            }

            var ok = m.Groups[2].Value switch
            {
                ">=" => value >= bound,
                ">" => value > bound,
                "<=" => value <= bound,
                "<" => value < bound,
                _ => value == bound,
            };
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }

    private static JObject GraphQLOrder(ShopifyShop s, ShopifyOrder o)
    {
        var customer = o.CustomerId is { } cid ? s.Customers.FirstOrDefault(c => c.Id == cid) : null;
        var pii = s.ProtectedDataApproved;
        return new JObject
        {
            ["__typename"] = "Order",
            ["id"] = $"gid://shopify/Order/{o.Id}",
            ["legacyResourceId"] = o.Id.ToString(CultureInfo.InvariantCulture),
            ["name"] = o.Name,
            ["email"] = pii ? o.Email : null,
            ["phone"] = pii ? o.Phone : null,
            ["createdAt"] = Iso(o.CreatedAt),
            ["updatedAt"] = Iso(o.UpdatedAt),
            ["processedAt"] = o.ProcessedAt is { } p ? Iso(p) : null,
            ["cancelledAt"] = o.CancelledAt is { } c ? Iso(c) : null,
            ["displayFinancialStatus"] = o.FinancialStatus.ToUpperInvariant(),
            ["tags"] = new JArray(o.Tags),
            ["currencyCode"] = o.Currency,
            ["totalPriceSet"] = Money(o.Total, o.Currency),
            ["totalRefundedSet"] = Money(o.Refunded, o.Currency),
            ["customer"] = customer is null ? null : new JObject
            {
                ["id"] = $"gid://shopify/Customer/{customer.Id}",
                ["legacyResourceId"] = customer.Id.ToString(CultureInfo.InvariantCulture),
                ["firstName"] = pii ? customer.FirstName : null,
                ["lastName"] = pii ? customer.LastName : null,
            },
            ["billingAddress"] = !pii || customer is null ? null : new JObject
            {
                ["phone"] = customer.Phone,
                ["firstName"] = customer.FirstName,
                ["lastName"] = customer.LastName,
                ["city"] = customer.City,
                ["province"] = customer.Province,
                ["countryCodeV2"] = customer.Country,
                ["zip"] = customer.Zip,
            },
            ["lineItems"] = new JArray(o.Lines.Select(l => new JObject
            {
                ["sku"] = l.Sku,
                ["title"] = l.Title,
                ["quantity"] = l.Quantity,
                ["originalUnitPriceSet"] = Money(l.Price, o.Currency),
            })),
        };
    }

    private static JObject GraphQLCustomer(ShopifyShop s, ShopifyCustomer c)
    {
        var pii = s.ProtectedDataApproved;
        return new JObject
        {
            ["__typename"] = "Customer",
            ["id"] = $"gid://shopify/Customer/{c.Id}",
            ["legacyResourceId"] = c.Id.ToString(CultureInfo.InvariantCulture),
            ["firstName"] = pii ? c.FirstName : null,
            ["lastName"] = pii ? c.LastName : null,
            ["state"] = c.State.ToUpperInvariant(),
            ["tags"] = new JArray(c.Tags),
            ["createdAt"] = Iso(c.CreatedAt),
            ["updatedAt"] = Iso(c.UpdatedAt),
            ["defaultEmailAddress"] = pii && c.Email is not null ? new JObject { ["emailAddress"] = c.Email } : null,
            ["defaultPhoneNumber"] = pii && c.Phone is not null ? new JObject { ["phoneNumber"] = c.Phone } : null,
            ["defaultAddress"] = pii ? new JObject { ["address1"] = c.Address1, ["city"] = c.City, ["province"] = c.Province, ["countryCodeV2"] = c.Country, ["zip"] = c.Zip, ["phone"] = c.Phone } : null,
            ["emailMarketingConsent"] = new JObject { ["marketingState"] = c.EmailMarketing },
            ["smsMarketingConsent"] = new JObject { ["marketingState"] = c.SmsMarketing },
        };
    }

    /// <summary>The REST shape webhooks carry (snake_case, numeric ids, money as strings, shop-offset times).</summary>
    public static JObject RestOrder(ShopifyShop shop, ShopifyOrder o)
    {
        ArgumentNullException.ThrowIfNull(shop);
        ArgumentNullException.ThrowIfNull(o);
        var customer = o.CustomerId is { } cid ? shop.Customers.FirstOrDefault(c => c.Id == cid) : null;
        return new JObject
        {
            ["id"] = o.Id,
            ["admin_graphql_api_id"] = $"gid://shopify/Order/{o.Id}",
            ["name"] = o.Name,
            ["email"] = o.Email,
            ["phone"] = o.Phone,
            ["created_at"] = ShopTime(o.CreatedAt),
            ["updated_at"] = ShopTime(o.UpdatedAt),
            ["processed_at"] = o.ProcessedAt is { } p ? ShopTime(p) : null,
            ["cancelled_at"] = o.CancelledAt is { } c ? ShopTime(c) : null,
            ["currency"] = o.Currency,
            ["total_price"] = o.Total.ToString("0.00", CultureInfo.InvariantCulture),
            ["financial_status"] = o.FinancialStatus,
            ["tags"] = string.Join(", ", o.Tags),
            ["customer"] = customer is null ? null : RestCustomer(customer),
            ["line_items"] = new JArray(o.Lines.Select(l => new JObject { ["sku"] = l.Sku, ["title"] = l.Title, ["quantity"] = l.Quantity, ["price"] = l.Price.ToString("0.00", CultureInfo.InvariantCulture) })),
        };
    }

    public static JObject RestCustomer(ShopifyCustomer c)
    {
        ArgumentNullException.ThrowIfNull(c);
        return new JObject
        {
            ["id"] = c.Id,
            ["email"] = c.Email,
            ["phone"] = c.Phone,
            ["first_name"] = c.FirstName,
            ["last_name"] = c.LastName,
            ["state"] = c.State,
            ["tags"] = string.Join(", ", c.Tags),
            ["created_at"] = ShopTime(c.CreatedAt),
            ["updated_at"] = ShopTime(c.UpdatedAt),
            ["default_address"] = new JObject { ["address1"] = c.Address1, ["city"] = c.City, ["province"] = c.Province, ["country_code"] = c.Country, ["zip"] = c.Zip, ["phone"] = c.Phone },
            ["email_marketing_consent"] = new JObject { ["state"] = c.EmailMarketing.ToLowerInvariant() },
        };
    }

    // ---- REST Admin (legacy; kept for custom apps) ----

    /// <summary>
    /// <c>GET orders.json / customers.json</c> with the REST leaky bucket (<c>X-Shopify-Shop-Api-Call-Limit</c>, 429 +
    /// Retry-After when full), <c>limit</c> ≤ 250, <c>status</c> open by default, <c>updated_at_min</c>, and cursor paging
    /// through the <c>Link</c> header; a request with <c>page_info</c> may only add <c>limit</c> and <c>fields</c>.
    /// https://shopify.dev/docs/api/admin-rest/usage/rate-limits , https://shopify.dev/docs/api/admin-rest/usage/pagination
    /// </summary>
    private async Task RestListAsync(HttpContext context, string shop, string version, bool orders)
    {
        if (await AuthenticateAsync(context, shop, version) is not { } s)
        {
            return;
        }

        int level;
        lock (s.Gate)
        {
            var now = Clock.GetUtcNow();
            s.RestLevel = Math.Max(0, s.RestLevel - ((now - s.RestAt).TotalSeconds * s.RestLeakRate));
            s.RestAt = now;
            if (s.RestLevel + 1 > s.RestBucketSize)
            {
                level = -1;
            }
            else
            {
                s.RestLevel += 1;
                level = (int)Math.Ceiling(s.RestLevel);
            }
        }

        if (level < 0)
        {
            context.Response.Headers["X-Shopify-Shop-Api-Call-Limit"] = $"{s.RestBucketSize}/{s.RestBucketSize}";
            context.Response.Headers.RetryAfter = (1 / s.RestLeakRate).ToString("0.0", CultureInfo.InvariantCulture);
            await WriteJson(context, 429, new JObject { ["errors"] = "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service." });
            return;
        }

        context.Response.Headers["X-Shopify-Shop-Api-Call-Limit"] = $"{level}/{s.RestBucketSize}";
        var q = context.Request.Query;
        var limit = Math.Clamp(int.TryParse(q["limit"], out var l) ? l : 50, 1, 250);
        string? updatedMin;
        string status;
        long afterId = 0;
        DateTimeOffset afterUpdated = DateTimeOffset.MinValue;
        if (q.TryGetValue("page_info", out var pageInfo))
        {
            var extra = q.Keys.FirstOrDefault(k => k is not "page_info" and not "limit" and not "fields");
            if (extra is not null)
            {
                await WriteJson(context, 400, new JObject { ["errors"] = $"{extra} cannot be passed when page_info is present." });
                return;
            }

            JObject state;
            try
            {
                state = JObject.Parse(Encoding.UTF8.GetString(Convert.FromBase64String(pageInfo.ToString())));
            }
            catch (Exception ex) when (ex is FormatException or JsonException)
            {
                await WriteJson(context, 400, new JObject { ["errors"] = "Invalid value for page_info." });
                return;
            }

            updatedMin = state.Value<string>("updated_at_min");
            status = state.Value<string>("status") ?? "open";
            afterUpdated = new DateTimeOffset(state.Value<long>("u"), TimeSpan.Zero);
            afterId = state.Value<long>("id");
        }
        else
        {
            updatedMin = q["updated_at_min"].ToString() is { Length: > 0 } u ? u : null;
            status = q["status"].ToString() is { Length: > 0 } st ? st : "open";
        }

        var min = updatedMin is not null && DateTimeOffset.TryParse(updatedMin, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var m) ? m : DateTimeOffset.MinValue;
        List<(DateTimeOffset Updated, long Id, JObject Json)> rows;
        lock (s.Gate)
        {
            rows = orders
                ? Visible(s).Where(o => o.UpdatedAt >= min && (status == "any" || (status == "open" && o.CancelledAt is null) || (status == "cancelled" && o.CancelledAt is not null)))
                    .Select(o => (o.UpdatedAt, o.Id, RestOrder(s, o))).ToList()
                : s.Customers.Where(c => c.UpdatedAt >= min).Select(c => (c.UpdatedAt, c.Id, RestCustomer(c))).ToList();
        }

        rows = [.. rows.OrderBy(r => r.Updated).ThenBy(r => r.Id).Where(r => r.Updated > afterUpdated || (r.Updated == afterUpdated && r.Id > afterId))];
        var slice = rows.Take(limit).ToList();
        if (!s.ProtectedDataApproved)
        {
            foreach (var (_, _, json) in slice)
            {
                foreach (var field in new[] { "email", "phone", "first_name", "last_name", "billing_address", "default_address", "customer" })
                {
                    if (json.ContainsKey(field))
                    {
                        json[field] = null;
                    }
                }
            }
        }

        if (rows.Count > limit)
        {
            var last = slice[^1];
            var next = Convert.ToBase64String(Encoding.UTF8.GetBytes(new JObject { ["updated_at_min"] = updatedMin, ["status"] = status, ["u"] = last.Updated.UtcTicks, ["id"] = last.Id }.ToString(Formatting.None)));
            context.Response.Headers.Link = $"<{BaseUrl}{context.Request.Path}?limit={limit}&page_info={Uri.EscapeDataString(next)}>; rel=\"next\"";
        }

        await WriteJson(context, 200, new JObject { [orders ? "orders" : "customers"] = new JArray(slice.Select(r => r.Json)) });
    }

    // ---- OAuth ----

    private IResult Authorize(string shop, HttpRequest request)
    {
        var q = request.Query;
        if (!_shops.ContainsKey(shop))
        {
            return Results.NotFound();
        }

        if (q["client_id"] != ClientId)
        {
            return Results.BadRequest("Oauth error invalid_request: The client_id is invalid.");
        }

        if (!Uri.TryCreate(q["redirect_uri"], UriKind.Absolute, out var redirect))
        {
            return Results.BadRequest("Oauth error invalid_request: The redirect_uri is missing or not whitelisted.");
        }

        // The merchant approves at once: the sandbox has no login page.
        var code = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        _codes[code] = new Grant(shop, q["scope"].ToString(), Clock.GetUtcNow().AddMinutes(1));
        var parameters = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["code"] = code,
            ["host"] = Convert.ToBase64String(Encoding.UTF8.GetBytes($"admin.shopify.com/store/{shop.Split('.')[0]}")).TrimEnd('='),
            ["shop"] = shop,
            ["state"] = q["state"].ToString(),
            ["timestamp"] = Clock.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture),
        };
        var message = string.Join("&", parameters.Select(p => $"{p.Key}={p.Value}"));
        parameters["hmac"] = Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(ClientSecret), Encoding.UTF8.GetBytes(message)));
        var query = string.Join("&", parameters.Select(p => $"{Uri.EscapeDataString(p.Key)}={Uri.EscapeDataString(p.Value)}"));
        return Results.Redirect($"{redirect}{(redirect.Query.Length > 0 ? "&" : "?")}{query}");
    }

    private async Task AccessTokenAsync(HttpContext context, string shop)
    {
        JObject body;
        try
        {
            body = JObject.Parse(await new StreamReader(context.Request.Body).ReadToEndAsync(context.RequestAborted));
        }
        catch (JsonException)
        {
            await WriteJson(context, 400, new JObject { ["error"] = "invalid_request", ["error_description"] = "The request body is not JSON." });
            return;
        }

        if (body.Value<string>("client_id") != ClientId || body.Value<string>("client_secret") != ClientSecret)
        {
            await WriteJson(context, 400, new JObject { ["error"] = "invalid_client", ["error_description"] = "Client authentication failed." });
            return;
        }

        var now = Clock.GetUtcNow();
        if (body.Value<string>("grant_type") == "refresh_token")
        {
            var presented = body.Value<string>("refresh_token") ?? "";
            if (!_refreshTokens.TryRemove(presented, out var old) || old.Shop != shop || old.ExpiresAt <= now)
            {
                await WriteJson(context, 400, new JObject { ["error"] = "invalid_grant", ["error_description"] = "The refresh token is invalid, expired or already used." });
                return;
            }

            await WriteJson(context, 200, TokenResponse(shop, _shops[shop].Scopes));
            return;
        }

        if (!_codes.TryRemove(body.Value<string>("code") ?? "", out var grant) || grant.Shop != shop || grant.ExpiresAt <= now)
        {
            await WriteJson(context, 400, new JObject { ["error"] = "invalid_request", ["error_description"] = "The authorization code was not found or was already used." });
            return;
        }

        var s = _shops[shop];
        s.Scopes.Clear();
        foreach (var scope in grant.Scopes.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            s.Scopes.Add(scope);
        }

        if (body.Value<int?>("expiring") == 1)
        {
            await WriteJson(context, 200, TokenResponse(shop, s.Scopes));
            return;
        }

        var permanent = "shpat_" + Guid.NewGuid().ToString("N");
        _tokens[permanent] = new Token(shop, null);
        await WriteJson(context, 200, new JObject { ["access_token"] = permanent, ["scope"] = string.Join(",", s.Scopes) });
    }

    private JObject TokenResponse(string shop, IEnumerable<string> scopes)
    {
        var (access, refresh) = IssueExpiringToken(shop);
        return new JObject
        {
            ["access_token"] = access,
            ["expires_in"] = (long)TokenLifetime.TotalSeconds,
            ["refresh_token"] = refresh,
            ["refresh_token_expires_in"] = 7776000,
            ["scope"] = string.Join(",", scopes),
        };
    }

    // ---- Webhooks ----

    /// <summary>
    /// Delivers one webhook the way Shopify does: REST-shaped JSON body, base64 HMAC of the raw body with the app
    /// secret, the X-Shopify-* headers, a 5-second deadline. Sending the same <paramref name="eventId"/> again is a
    /// duplicate delivery. Returns the receiver's status (0 when it timed out or refused the connection).
    /// </summary>
    public async Task<int> DeliverWebhookAsync(Uri target, string shop, string topic, JObject body, string? eventId = null, string? secret = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(body);
        var raw = Encoding.UTF8.GetBytes(body.ToString(Formatting.None));
        using var request = new HttpRequestMessage(HttpMethod.Post, target) { Content = new ByteArrayContent(raw) };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        request.Headers.Add("X-Shopify-Topic", topic);
        request.Headers.Add("X-Shopify-Hmac-Sha256", Convert.ToBase64String(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret ?? ClientSecret), raw)));
        request.Headers.Add("X-Shopify-Shop-Domain", shop);
        request.Headers.Add("X-Shopify-API-Version", SupportedVersions[^1]);
        request.Headers.Add("X-Shopify-Webhook-Id", Guid.NewGuid().ToString());
        request.Headers.Add("X-Shopify-Event-Id", eventId ?? Guid.NewGuid().ToString());
        request.Headers.Add("X-Shopify-Triggered-At", Clock.GetUtcNow().ToString("O", CultureInfo.InvariantCulture));
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        try
        {
            using var response = await client.SendAsync(request, cancellationToken);
            return (int)response.StatusCode;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return 0;
        }
    }

    /// <summary>Delivers with Shopify's retry policy (8 retries; the delays are compressed for tests). Returns every status seen.</summary>
    public async Task<IReadOnlyList<int>> DeliverWebhookWithRetriesAsync(Uri target, string shop, string topic, JObject body, IReadOnlyList<TimeSpan> delays, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(delays);
        var eventId = Guid.NewGuid().ToString();
        var statuses = new List<int>();
        for (var attempt = 0; attempt <= Math.Min(8, delays.Count); attempt++)
        {
            if (attempt > 0)
            {
                await Task.Delay(delays[attempt - 1], Clock, cancellationToken);
            }

            var status = await DeliverWebhookAsync(target, shop, topic, body, eventId, cancellationToken: cancellationToken);
            statuses.Add(status);
            if (status is >= 200 and < 300)
            {
                break;
            }
        }

        return statuses;
    }

    private void Refill(ShopifyShop s)
    {
        var now = Clock.GetUtcNow();
        s.Available = Math.Min(s.BucketMaximum, s.Available + ((now - s.BucketAt).TotalSeconds * s.RestoreRate));
        s.BucketAt = now;
    }

    private JObject CostExtension(ShopifyShop s, int requested, int? actual)
    {
        lock (s.Gate)
        {
            Refill(s);
            return new JObject
            {
                ["cost"] = new JObject
                {
                    ["requestedQueryCost"] = requested,
                    ["actualQueryCost"] = actual,
                    ["throttleStatus"] = new JObject
                    {
                        ["maximumAvailable"] = s.BucketMaximum,
                        ["currentlyAvailable"] = Math.Floor(s.Available),
                        ["restoreRate"] = s.RestoreRate,
                    },
                },
            };
        }
    }

    private JObject Errors(string message, string code, ShopifyShop s, int requested, int? actual) => new()
    {
        ["errors"] = new JArray(new JObject { ["message"] = message, ["extensions"] = new JObject { ["code"] = code } }),
        ["extensions"] = CostExtension(s, requested, actual),
    };

    private static string EncodeCursor(DateTimeOffset updated, long id) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes($"{updated.UtcTicks}:{id}"));

    private static (DateTimeOffset Updated, long Id) DecodeCursor(string cursor)
    {
        var parts = Encoding.UTF8.GetString(Convert.FromBase64String(cursor)).Split(':');
        return (new DateTimeOffset(long.Parse(parts[0], CultureInfo.InvariantCulture), TimeSpan.Zero), long.Parse(parts[1], CultureInfo.InvariantCulture));
    }

    private static JObject Money(decimal amount, string currency) =>
        new() { ["shopMoney"] = new JObject { ["amount"] = amount.ToString("0.00", CultureInfo.InvariantCulture), ["currencyCode"] = currency } };

    private static string Iso(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>REST times carry the shop's offset (the sandbox shops live in UTC-5).</summary>
    private static string ShopTime(DateTimeOffset at) => at.ToOffset(TimeSpan.FromHours(-5)).ToString("yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture);

    internal static Task WriteJson(HttpContext context, int status, JObject body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json; charset=utf-8";
        return context.Response.WriteAsync(body.ToString(Formatting.None), context.RequestAborted);
    }

    [GeneratedRegex(@"(updated_at|created_at):(>=|<=|>|<)?'([^']+)'")]
    private static partial Regex SearchTerm();

    private sealed record Token(string Shop, DateTimeOffset? ExpiresAt);

    private sealed record Grant(string Shop, string Scopes, DateTimeOffset ExpiresAt);
}

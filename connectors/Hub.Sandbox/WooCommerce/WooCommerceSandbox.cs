using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Bogus;
using Hub.Sandbox.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Hub.Sandbox.WooCommerce;

/// <summary>
/// A WooCommerce stand-in: stores at <c>{BaseUrl}/stores/{name}</c> serving REST v3 orders and customers with
/// consumer key/secret auth, WordPress's error bodies, <c>per_page</c> ≤ 100, <c>X-WP-Total</c>/<c>X-WP-TotalPages</c>,
/// <c>modified_after</c>/<c>modified_before</c> (exclusive, GMT or site time), an optional host rate limit (429 +
/// Retry-After), and webhooks: the unsigned creation ping, signed deliveries, no retries, and the webhook disabled
/// after more than five failures in a row.
/// </summary>
public sealed class WooCommerceSandbox(TimeProvider? clock = null) : SandboxServer(clock)
{
    private readonly ConcurrentDictionary<string, WooStore> _stores = new(StringComparer.OrdinalIgnoreCase);

    public WooStore AddStore(string name)
    {
        var store = new WooStore(name, Clock);
        _stores[name] = store;
        return store;
    }

    public WooStore Store(string name) => _stores[name];

    public string SiteUrl(string name) => $"{BaseUrl}/stores/{name}";

    protected override void Map(WebApplication app)
    {
        app.MapGet("/stores/{store}/wp-json/wc/v3/orders", (HttpContext c, string store) => ListAsync(c, store, orders: true));
        app.MapGet("/stores/{store}/wp-json/wc/v3/customers", (HttpContext c, string store) => ListAsync(c, store, orders: false));
    }

    protected override Task WriteFaultAsync(HttpContext context, int status) =>
        WriteJson(context, status, Error(status == 429 ? "woocommerce_rest_too_many_requests" : "internal_server_error", status == 429 ? "Too many requests." : "There has been a critical error on this website.", status));

    private async Task ListAsync(HttpContext context, string name, bool orders)
    {
        if (!_stores.TryGetValue(name, out var store))
        {
            await WriteJson(context, 404, Error("rest_no_route", "No route was found matching the URL and request method.", 404));
            return;
        }

        var q = context.Request.Query;
        var (key, secret) = BasicCredentials(context.Request) ?? (q["consumer_key"].ToString(), q["consumer_secret"].ToString());
        if (string.IsNullOrEmpty(key))
        {
            await WriteJson(context, 401, Error("woocommerce_rest_cannot_view", "Sorry, you cannot list resources.", 401));
            return;
        }

        if (key != store.ConsumerKey)
        {
            await WriteJson(context, 401, Error("woocommerce_rest_authentication_error", "Consumer key is invalid.", 401));
            return;
        }

        if (secret != store.ConsumerSecret)
        {
            await WriteJson(context, 401, Error("woocommerce_rest_authentication_error", "Invalid signature - provided signature does not match.", 401));
            return;
        }

        if (store.TakeRateLimit() is { } wait)
        {
            context.Response.Headers.RetryAfter = Math.Ceiling(wait.TotalSeconds).ToString(CultureInfo.InvariantCulture);
            await WriteJson(context, 429, Error("woocommerce_rest_too_many_requests", "Too many requests. Please wait and try again.", 429));
            return;
        }

        var perPage = Int(q["per_page"], 10);
        var page = Int(q["page"], 1);
        if (perPage is < 1 or > 100)
        {
            await WriteJson(context, 400, Error("rest_invalid_param", "Invalid parameter(s): per_page", 400, new JObject { ["per_page"] = "per_page must be between 1 (inclusive) and 100 (inclusive)" }));
            return;
        }

        if (page < 1)
        {
            await WriteJson(context, 400, Error("rest_invalid_param", "Invalid parameter(s): page", 400, new JObject { ["page"] = "page must be greater than or equal to 1" }));
            return;
        }

        List<JObject> rows;
        lock (store.Gate)
        {
            if (orders)
            {
                var gmt = q["dates_are_gmt"] == "true" || q["dates_are_gmt"] == "1";
                var after = Date(q["modified_after"], gmt, store);
                var before = Date(q["modified_before"], gmt, store);
                IEnumerable<WooOrder> list = store.Orders.Where(o => (after is null || o.Modified > after) && (before is null || o.Modified < before));
                var status = q["status"].ToString();
                if (!string.IsNullOrEmpty(status) && status != "any")
                {
                    list = list.Where(o => status.Split(',').Contains(o.Status));
                }

                var asc = q["order"] != "asc" ? false : true;
                list = q["orderby"].ToString() switch
                {
                    "modified" => asc ? list.OrderBy(o => o.Modified).ThenBy(o => o.Id) : list.OrderByDescending(o => o.Modified).ThenByDescending(o => o.Id),
                    "id" => asc ? list.OrderBy(o => o.Id) : list.OrderByDescending(o => o.Id),
                    _ => asc ? list.OrderBy(o => o.Created).ThenBy(o => o.Id) : list.OrderByDescending(o => o.Created).ThenByDescending(o => o.Id),
                };
                rows = list.Select(o => store.Json(o)).ToList();
            }
            else
            {
                var asc = q["order"] == "asc";
                IEnumerable<WooCustomer> list = q["orderby"] == "id" ? (asc ? store.Customers.OrderBy(c => c.Id) : store.Customers.OrderByDescending(c => c.Id)) : store.Customers.OrderBy(c => c.LastName, StringComparer.Ordinal);
                rows = list.Select(WooStore.Json).ToList();
            }
        }

        var total = rows.Count;
        var pages = (int)Math.Ceiling(total / (double)perPage);
        context.Response.Headers["X-WP-Total"] = total.ToString(CultureInfo.InvariantCulture);
        context.Response.Headers["X-WP-TotalPages"] = pages.ToString(CultureInfo.InvariantCulture);
        if (page < pages)
        {
            context.Response.Headers.Link = $"<{SiteUrl(name)}{context.Request.Path.Value![(("/stores/" + name).Length)..]}?page={page + 1}>; rel=\"next\"";
        }

        var slice = new JArray(rows.Skip((page - 1) * perPage).Take(perPage));
        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/json; charset=UTF-8";
        await context.Response.WriteAsync(slice.ToString(Formatting.None), context.RequestAborted);
    }

    /// <summary>
    /// Creates a webhook as the admin screen does: WooCommerce sends the unsigned ping <c>webhook_id=N</c> at once,
    /// and the webhook stays active only when the ping got a 2xx (or 301/302).
    /// </summary>
    public async Task<WooWebhook> AddWebhookAsync(string storeName, string topic, Uri deliveryUrl, string secret, CancellationToken cancellationToken = default)
    {
        var store = _stores[storeName];
        var hook = new WooWebhook(Interlocked.Increment(ref store.WebhookIds), topic, deliveryUrl, secret);
        store.Webhooks.Add(hook);
        using var content = new StringContent($"webhook_id={hook.Id}", Encoding.UTF8, "application/x-www-form-urlencoded");
        var status = await PostAsync(deliveryUrl, content, cancellationToken);
        hook.Status = status is (>= 200 and < 300) or 301 or 302 ? "active" : "disabled";
        hook.Deliveries.Add(status);
        return hook;
    }

    /// <summary>
    /// Fires every active webhook of the store for <paramref name="topic"/> with the record's current JSON.
    /// No retries: a failure only counts towards disabling the webhook (more than five in a row).
    /// </summary>
    public async Task<IReadOnlyList<int>> FireAsync(string storeName, string topic, JObject record, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(record);
        var store = _stores[storeName];
        var statuses = new List<int>();
        foreach (var hook in store.Webhooks.Where(h => h.Topic == topic && h.Status == "active").ToList())
        {
            var raw = Encoding.UTF8.GetBytes(record.ToString(Formatting.None));
            using var content = new ByteArrayContent(raw);
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
            var resourceEvent = topic.Split('.');
            var headers = new Dictionary<string, string>
            {
                ["X-WC-Webhook-Source"] = SiteUrl(storeName) + "/",
                ["X-WC-Webhook-Topic"] = topic,
                ["X-WC-Webhook-Resource"] = resourceEvent[0],
                ["X-WC-Webhook-Event"] = resourceEvent[^1],
                ["X-WC-Webhook-Signature"] = Convert.ToBase64String(HMACSHA256.HashData(Encoding.UTF8.GetBytes(hook.Secret), raw)),
                ["X-WC-Webhook-ID"] = hook.Id.ToString(CultureInfo.InvariantCulture),
                ["X-WC-Webhook-Delivery-ID"] = Guid.NewGuid().ToString("N"),
            };
            var status = await PostAsync(hook.DeliveryUrl, content, cancellationToken, headers);
            hook.Deliveries.Add(status);
            statuses.Add(status);
            if (status is (>= 200 and < 300) or 301 or 302)
            {
                hook.ConsecutiveFailures = 0;
            }
            else if (++hook.ConsecutiveFailures > 5)
            {
                hook.Status = "disabled";
            }
        }

        return statuses;
    }

    private static async Task<int> PostAsync(Uri url, HttpContent content, CancellationToken ct, IDictionary<string, string>? headers = null)
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = content };
        foreach (var (k, v) in headers ?? new Dictionary<string, string>())
        {
            request.Headers.TryAddWithoutValidation(k, v);
        }

        try
        {
            using var response = await client.SendAsync(request, ct);
            return (int)response.StatusCode;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return 0;
        }
    }

    private static (string Key, string Secret)? BasicCredentials(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        if (!header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        try
        {
            var text = Encoding.UTF8.GetString(Convert.FromBase64String(header[6..].Trim()));
            var colon = text.IndexOf(':', StringComparison.Ordinal);
            return colon < 0 ? null : (text[..colon], text[(colon + 1)..]);
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private static DateTime? Date(string? value, bool gmt, WooStore store)
    {
        if (string.IsNullOrEmpty(value) || !DateTime.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var at))
        {
            return null;
        }

        return gmt || value.EndsWith('Z') ? at : at - store.SiteOffset;
    }

    private static int Int(string? value, int fallback) => int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var i) ? i : fallback;

    private static JObject Error(string code, string message, int status, JObject? parameters = null)
    {
        var data = new JObject { ["status"] = status };
        if (parameters is not null)
        {
            data["params"] = parameters;
        }

        return new JObject { ["code"] = code, ["message"] = message, ["data"] = data };
    }

    private static Task WriteJson(HttpContext context, int status, JObject body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json; charset=UTF-8";
        return context.Response.WriteAsync(body.ToString(Formatting.None), context.RequestAborted);
    }
}

public sealed class WooWebhook(int id, string topic, Uri deliveryUrl, string secret)
{
    public int Id { get; } = id;
    public string Topic { get; } = topic;
    public Uri DeliveryUrl { get; } = deliveryUrl;
    public string Secret { get; } = secret;
    public string Status { get; set; } = "active";
    public int ConsecutiveFailures { get; set; }
    public List<int> Deliveries { get; } = [];
}

public sealed class WooCustomer
{
    public long Id { get; init; }
    public string? Email { get; set; }
    public string? FirstName { get; set; }
    public string? LastName { get; set; }
    public string? Phone { get; set; }
    public string? City { get; set; }
    public string? State { get; set; }
    public string? Postcode { get; set; }
    public string Country { get; set; } = "US";
    public string? Address1 { get; set; }
    public DateTime Created { get; init; }
    public DateTime Modified { get; set; }
}

public sealed class WooOrder
{
    public long Id { get; init; }
    public string Status { get; set; } = "completed";
    public long CustomerId { get; set; }
    public string? Email { get; set; }
    public string? Phone { get; set; }
    public string? FirstName { get; set; }
    public string? LastName { get; set; }
    public string Currency { get; init; } = "USD";
    public DateTime Created { get; init; }
    public DateTime Modified { get; set; }
    public DateTime? Paid { get; set; }
    public List<(string Sku, string Name, int Quantity, decimal Price)> Lines { get; init; } = [];

    public decimal Total => Lines.Sum(l => l.Price * l.Quantity);
}

/// <summary>One WooCommerce site in the sandbox. Times are kept in UTC; the site's local time is UTC+8 unless set.</summary>
public sealed class WooStore
{
    private long _nextId = 100;
    private readonly Queue<DateTimeOffset> _calls = new();
    internal int WebhookIds;

    internal WooStore(string name, TimeProvider clock)
    {
        Name = name;
        Clock = clock;
    }

    internal object Gate { get; } = new();
    internal TimeProvider Clock { get; }

    public string Name { get; }
    public string ConsumerKey { get; set; } = "ck_" + Guid.NewGuid().ToString("N");
    public string ConsumerSecret { get; set; } = "cs_" + Guid.NewGuid().ToString("N");
    public TimeSpan SiteOffset { get; set; } = TimeSpan.FromHours(8);
    public List<WooOrder> Orders { get; } = [];
    public List<WooCustomer> Customers { get; } = [];
    public List<WooWebhook> Webhooks { get; } = [];

    /// <summary>Requests allowed per second before the host answers 429 (null: no limit, WooCommerce's own default).</summary>
    public int? RateLimitPerSecond { get; set; }

    public long NextId() => Interlocked.Increment(ref _nextId);

    public WooCustomer AddCustomer(SandboxPerson p, DateTime createdUtc)
    {
        var c = new WooCustomer { Id = NextId(), Email = p.Email, FirstName = p.FirstName, LastName = p.LastName, Phone = p.Phone, City = p.City, State = p.Province, Postcode = p.Zip, Address1 = p.Address1, Created = createdUtc, Modified = createdUtc };
        lock (Gate)
        {
            Customers.Add(c);
        }

        return c;
    }

    public WooOrder AddOrder(SandboxPerson buyer, WooCustomer? customer, DateTime createdUtc, IEnumerable<(string, string, int, decimal)> lines)
    {
        var o = new WooOrder { Id = NextId(), CustomerId = customer?.Id ?? 0, Email = buyer.Email, Phone = buyer.Phone, FirstName = buyer.FirstName, LastName = buyer.LastName, Created = createdUtc, Modified = createdUtc, Paid = createdUtc, Lines = [.. lines] };
        lock (Gate)
        {
            Orders.Add(o);
        }

        return o;
    }

    /// <summary>Changes an order and stamps it modified now, as any save in WordPress does.</summary>
    public WooOrder UpdateOrder(long id, Action<WooOrder> change)
    {
        lock (Gate)
        {
            var o = Orders.Single(x => x.Id == id);
            change(o);
            var now = Clock.GetUtcNow().UtcDateTime;
            o.Modified = new DateTime(now.Ticks - (now.Ticks % TimeSpan.TicksPerSecond), DateTimeKind.Utc) > o.Modified ? new DateTime(now.Ticks - (now.Ticks % TimeSpan.TicksPerSecond), DateTimeKind.Utc) : o.Modified.AddSeconds(1);
            return o;
        }
    }

    public WooCustomer UpdateCustomer(long id, Action<WooCustomer> change)
    {
        lock (Gate)
        {
            var c = Customers.Single(x => x.Id == id);
            change(c);
            var now = Clock.GetUtcNow().UtcDateTime;
            c.Modified = new DateTime(now.Ticks - (now.Ticks % TimeSpan.TicksPerSecond), DateTimeKind.Utc);
            return c;
        }
    }

    /// <summary>Generated shop data, deterministic by seed; WordPress keeps times to the second.</summary>
    public void Seed(IReadOnlyList<SandboxPerson> people, int customers, int orders, int days = 90, int seed = 13)
    {
        var faker = new Faker("en") { Random = new Randomizer(seed) };
        var now = Clock.GetUtcNow().UtcDateTime;
        now = new DateTime(now.Ticks - (now.Ticks % TimeSpan.TicksPerSecond), DateTimeKind.Utc);
        var made = people.Take(customers).Select(p => AddCustomer(p, now.AddDays(-days - 30).AddMinutes(p.Index))).ToList();
        for (var i = 0; i < orders; i++)
        {
            var created = now.AddSeconds(-faker.Random.Int(60, days * 86400));
            var customer = made.Count == 0 || faker.Random.Double() < 0.15 ? null : made[faker.Random.Int(0, made.Count - 1)];
            var buyer = customer is null ? people[faker.Random.Int(0, people.Count - 1)] : people.First(p => p.Email == customer.Email);
            var lines = Enumerable.Range(0, faker.Random.Int(1, 4)).Select(_ => ("WC-" + faker.Random.Int(100, 999).ToString(CultureInfo.InvariantCulture), faker.Commerce.ProductName(), faker.Random.Int(1, 3), Math.Round(faker.Random.Decimal(5, 200), 2)));
            var o = AddOrder(buyer, customer, created, lines);
            var modified = created.AddMinutes(faker.Random.Int(0, 600));
            o.Modified = modified < now ? modified : now;
        }
    }

    internal TimeSpan? TakeRateLimit()
    {
        if (RateLimitPerSecond is not { } limit)
        {
            return null;
        }

        lock (_calls)
        {
            var now = Clock.GetUtcNow();
            while (_calls.Count > 0 && now - _calls.Peek() >= TimeSpan.FromSeconds(1))
            {
                _calls.Dequeue();
            }

            if (_calls.Count >= limit)
            {
                return TimeSpan.FromSeconds(1) - (now - _calls.Peek());
            }

            _calls.Enqueue(now);
            return null;
        }
    }

    internal JObject Json(WooOrder o) => new()
    {
        ["id"] = o.Id,
        ["number"] = o.Id.ToString(CultureInfo.InvariantCulture),
        ["status"] = o.Status,
        ["currency"] = o.Currency,
        ["date_created"] = Local(o.Created),
        ["date_created_gmt"] = Gmt(o.Created),
        ["date_modified"] = Local(o.Modified),
        ["date_modified_gmt"] = Gmt(o.Modified),
        ["date_paid_gmt"] = o.Paid is { } p ? Gmt(p) : null,
        ["total"] = o.Total.ToString("0.00", CultureInfo.InvariantCulture),
        ["customer_id"] = o.CustomerId,
        ["billing"] = new JObject { ["first_name"] = o.FirstName, ["last_name"] = o.LastName, ["email"] = o.Email, ["phone"] = o.Phone, ["country"] = "US" },
        ["line_items"] = new JArray(o.Lines.Select(l => new JObject { ["sku"] = l.Sku, ["name"] = l.Name, ["quantity"] = l.Quantity, ["price"] = l.Price })),
    };

    internal static JObject Json(WooCustomer c) => new()
    {
        ["id"] = c.Id,
        ["email"] = c.Email,
        ["first_name"] = c.FirstName,
        ["last_name"] = c.LastName,
        ["role"] = "customer",
        ["date_created_gmt"] = Gmt(c.Created),
        ["date_modified_gmt"] = Gmt(c.Modified),
        ["billing"] = new JObject { ["first_name"] = c.FirstName, ["last_name"] = c.LastName, ["email"] = c.Email, ["phone"] = c.Phone, ["address_1"] = c.Address1, ["city"] = c.City, ["state"] = c.State, ["postcode"] = c.Postcode, ["country"] = c.Country },
    };

    public JObject OrderJson(long id)
    {
        lock (Gate)
        {
            return Json(Orders.Single(o => o.Id == id));
        }
    }

    private string Local(DateTime utc) => (utc + SiteOffset).ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture);

    private static string Gmt(DateTime utc) => utc.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture);
}

using System.Globalization;
using System.Net;
using System.Text;
using Hub.Connectors.Http;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using Refit;

namespace Hub.Connectors.WooCommerce;

/// <summary>
/// WooCommerce store connector on REST v3 with consumer key/secret (HTTP Basic over HTTPS).
/// Orders: <c>modified_after/modified_before</c> in GMT, ordered by modified ascending, read by keyset: each next
/// request starts one second before the last modified time seen instead of asking for page n+1, because pages shift
/// when an order changes during the scan and a plain page walk would skip a record. Page numbers advance only while
/// more than a full page shares one second. Customers have no modified filter: every read is a full scan by id,
/// and only customers modified within the window are handed on (change detection on <c>date_modified_gmt</c>).
/// </summary>
public sealed class WooCommerceConnector(IWooCommerceApi api) : IStoreConnector
{
    public const string Id = "woocommerce";
    public const int MaxPerPage = 100;

    public ConnectorInfo Info { get; } = new(
        Id,
        "WooCommerce",
        ConnectorKind.Store,
        "basic",
        [
            new StreamInfo("orders", "date_modified_gmt", TimeSpan.FromMinutes(15)),
            new StreamInfo("customers", "date_modified_gmt", TimeSpan.FromHours(6)),
        ],
        "https://woocommerce.github.io/woocommerce-rest-api-docs/")
    {
        WebhookTopics = [.. WooCommerceWebhooks.Topics.Keys],
        Scopes = ["read"],
        RateLimit = "No limit in WooCommerce itself; hosts and security plugins answer 429 with Retry-After.",
    };

    public async Task TestConnectionAsync(ConnectionContext connection, CancellationToken cancellationToken)
    {
        var (site, authorization) = Credentials(connection);
        var response = await SendAsync(() => api.ListOrdersAsync(site, authorization, new WooOrderQuery { PerPage = 1, OrderBy = "date", Order = "desc" }, cancellationToken)).ConfigureAwait(false);
        response.Dispose();
    }

    public WebhookBatch ParseWebhook(WebhookRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return WooCommerceWebhooks.Parse(request, SiteOf(request.Connection), request.Connection.Secrets.Value<string>("webhookSecret"));
    }

    public async Task<PullPage> PullAsync(PullRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var (site, authorization) = Credentials(request.Connection);
        var perPage = Math.Clamp(request.Connection.Settings.Value<int?>("pageSize") ?? MaxPerPage, 1, MaxPerPage);
        var cursor = WooCursor.Parse(request.Cursor);
        return request.Stream switch
        {
            "orders" => await PullOrdersAsync(site, authorization, request, cursor, perPage, cancellationToken).ConfigureAwait(false),
            "customers" => await PullCustomersAsync(site, authorization, request, cursor, perPage, cancellationToken).ConfigureAwait(false),
            _ => throw new ConnectorValidationException($"WooCommerce has no stream '{request.Stream}'."),
        };
    }

    private async Task<PullPage> PullOrdersAsync(string site, string authorization, PullRequest request, WooCursor? cursor, int perPage, CancellationToken ct)
    {
        // modified_after is exclusive and has one-second resolution: start a second early so the window's first
        // second is read too. Re-reads are expected; records are stored by id.
        var after = cursor?.After ?? request.WindowStart.UtcDateTime.AddSeconds(-1);
        var page = cursor?.Page ?? 1;
        using var response = await SendAsync(() => api.ListOrdersAsync(site, authorization, new WooOrderQuery
        {
            ModifiedAfter = Gmt(after),
            ModifiedBefore = Gmt(request.WindowEnd.UtcDateTime.AddSeconds(1)),
            PerPage = perPage,
            Page = page,
        }, ct)).ConfigureAwait(false);
        var records = Records(response);
        var max = MaxModified(records);
        var totalPages = int.TryParse(response.Header("X-WP-TotalPages"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var tp) ? tp : (int?)null;
        if (records.Count < perPage || (totalPages is { } t && page >= t) || max is null)
        {
            return new PullPage(records, null, false, max);
        }

        // Next request: from one second before the last modified time seen (ties at that second are read again).
        // When the whole page shares that second, moving the bound would return the same page: take the next page.
        var nextAfter = max.Value.UtcDateTime.AddSeconds(-1);
        var sameSecond = records.All(r => Modified(r) == max);
        var next = nextAfter > after && !sameSecond ? new WooCursor { After = nextAfter, Page = 1 } : new WooCursor { After = after, Page = page + 1 };
        return new PullPage(records, next.Serialize(), true, max);
    }

    private async Task<PullPage> PullCustomersAsync(string site, string authorization, PullRequest request, WooCursor? cursor, int perPage, CancellationToken ct)
    {
        var page = cursor?.Page ?? 1;
        using var response = await SendAsync(() => api.ListCustomersAsync(site, authorization, new WooCustomerQuery { PerPage = perPage, Page = page }, ct)).ConfigureAwait(false);
        var all = Records(response);
        var since = request.WindowStart.UtcDateTime.AddSeconds(-1);
        var changed = all.Where(c => Modified(c) is not { } m || m.UtcDateTime >= since).ToList();
        var totalPages = int.TryParse(response.Header("X-WP-TotalPages"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var tp) ? tp : (int?)null;
        var more = all.Count == perPage && (totalPages is null || page < totalPages);
        return new PullPage(changed, more ? new WooCursor { Page = page + 1 }.Serialize() : null, more, MaxModified(changed));
    }

    private static async Task<IApiResponse<JArray>> SendAsync(Func<Task<IApiResponse<JArray>>> call)
    {
        IApiResponse<JArray> response;
        try
        {
            response = await call().ConfigureAwait(false);
        }
        catch (Exception ex) when (ConnectorHttp.IsTransport(ex))
        {
            throw new ConnectorTransientException($"The WooCommerce site could not be reached: {ex.Message}", inner: ex);
        }

        if (response.IsSuccessStatusCode && response.Content is not null)
        {
            return response;
        }

        using (response)
        {
            throw Failure(response);
        }
    }

    private static ConnectorException Failure(IApiResponse response)
    {
        // WordPress REST errors: {"code":"woocommerce_rest_cannot_view","message":"Sorry, you cannot list resources.","data":{"status":401}}
        string? code = null;
        string? message = null;
        if (response.ErrorContent() is { Length: > 0 } raw)
        {
            try
            {
                var json = JToken.Parse(raw);
                code = json.Value<string>("code");
                message = json.Value<string>("message");
            }
            catch (JsonException)
            {
                message = raw.Length > 200 ? raw[..200] : raw;
            }
        }

        var status = response.Status();
        var text = $"WooCommerce answered {status}{(code is null ? "" : $" {code}")}: {message ?? response.ReasonPhrase ?? "no reason given"}";
        return status switch
        {
            0 => new ConnectorTransientException(text),
            401 or 403 => new ConnectorValidationException($"{text}. Check the consumer key and secret and that the key has read access.") { PlatformCode = code },
            404 => new ConnectorValidationException($"{text}. Is this the store's address, with pretty permalinks on?") { PlatformCode = code },
            429 => new ConnectorTransientException(text, ConnectorHttp.RetryAfterOf(response, TimeSpan.FromMinutes(5))) { PlatformCode = code },
            408 or >= 500 => new ConnectorTransientException(text) { PlatformCode = code },
            _ => new ConnectorValidationException(text) { PlatformCode = code },
        };
    }

    private static List<JObject> Records(IApiResponse<JArray> response) => response.Content!.OfType<JObject>().ToList();

    private static (string Site, string Authorization) Credentials(ConnectionContext connection)
    {
        var site = SiteOf(connection);
        var secrets = connection.Secrets;
        var key = secrets.Value<string>("consumerKey");
        var secret = secrets.Value<string>("consumerSecret");
        if (string.IsNullOrEmpty(key) || string.IsNullOrEmpty(secret))
        {
            throw new ConnectorValidationException("The WooCommerce connection needs a consumer key and secret (WooCommerce → Settings → Advanced → REST API).");
        }

        return (site, "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{key}:{secret}")));
    }

    /// <summary>The store's address. Basic auth sends the secret in every request, so only HTTPS (or loopback, for the sandbox).</summary>
    internal static string SiteOf(ConnectionContext connection)
    {
        var raw = connection.Settings.Value<string>("storeUrl");
        if (!Uri.TryCreate(raw, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && !(uri.Scheme == Uri.UriSchemeHttp && uri.IsLoopback)))
        {
            throw new ConnectorValidationException($"'{raw}' is not an https:// store address; WooCommerce keys may only travel over HTTPS.");
        }

        return uri.GetLeftPart(UriPartial.Path).TrimEnd('/');
    }

    private static string Gmt(DateTime utc) => utc.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture);

    internal static DateTimeOffset? Modified(JObject record)
    {
        var s = record.Value<string>("date_modified_gmt") ?? record.Value<string>("date_created_gmt");
        return s is not null && DateTime.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var at)
            ? new DateTimeOffset(at, TimeSpan.Zero)
            : null;
    }

    private static DateTimeOffset? MaxModified(IEnumerable<JObject> records)
    {
        DateTimeOffset? max = null;
        foreach (var r in records)
        {
            if (Modified(r) is { } m && (max is null || m > max))
            {
                max = m;
            }
        }

        return max;
    }

    private sealed record WooCursor
    {
        [JsonProperty("after", NullValueHandling = NullValueHandling.Ignore)] public DateTime? After { get; init; }
        [JsonProperty("page")] public int Page { get; init; } = 1;

        public string Serialize() => JsonConvert.SerializeObject(this, new JsonSerializerSettings { DateFormatString = "yyyy-MM-dd'T'HH:mm:ss'Z'" });

        public static WooCursor? Parse(string? cursor)
        {
            if (string.IsNullOrEmpty(cursor))
            {
                return null;
            }

            try
            {
                var c = JsonConvert.DeserializeObject<WooCursor>(cursor, new JsonSerializerSettings { DateTimeZoneHandling = DateTimeZoneHandling.Utc });
                return c is { Page: >= 1 } ? c : throw new ConnectorValidationException($"The WooCommerce cursor '{cursor}' is not one this connector wrote.");
            }
            catch (JsonException ex)
            {
                throw new ConnectorValidationException($"The WooCommerce cursor '{cursor}' is not one this connector wrote.", ex);
            }
        }
    }
}

namespace Hub.Connectors.Shopify;

/// <summary>The Hub's Shopify app, bound from <c>Hub:Connectors:Shopify</c>.</summary>
public sealed class ShopifyOptions
{
    public const string Section = "Hub:Connectors:Shopify";

    /// <summary>Stable version the connector was built against; quarterly versions live at least 12 months.</summary>
    public const string DefaultApiVersion = "2026-10";

    /// <summary>The app's client id (public app); custom apps put their own credentials in the connection's secrets.</summary>
    public string? ClientId { get; set; }

    /// <summary>The app's client secret: signs webhooks and OAuth callbacks.</summary>
    public string? ClientSecret { get; set; }

    /// <summary>The secret before a rotation: Shopify may sign with it for up to an hour after the change.</summary>
    public string? PreviousClientSecret { get; set; }

    public string ApiVersion { get; set; } = DefaultApiVersion;

    /// <summary>Access scopes asked at install. <c>read_all_orders</c> lets the Hub see orders older than 60 days.</summary>
    public string Scopes { get; set; } = "read_orders,read_customers,read_all_orders";

    /// <summary>Admin host of a shop; <c>{shop}</c> is the shop domain. Sandboxes point it at themselves.</summary>
    public string AdminBaseUrl { get; set; } = "https://{shop}";

    /// <summary>Shopify refuses a query whose requested cost is above this.</summary>
    public int MaxQueryCost { get; set; } = 1000;

    /// <summary>Line items read with each order on a page; more are fetched in follow-up calls.</summary>
    public int LinesPerOrder { get; set; } = 10;

    /// <summary>A window longer than this is read with a bulk operation (JSONL export) instead of paging.</summary>
    public TimeSpan BulkWhenWindowLongerThan { get; set; } = TimeSpan.FromDays(30);

    /// <summary>Records handed to the runtime per page of a bulk result file.</summary>
    public int BulkPageSize { get; set; } = 1000;

    /// <summary>How long one pull waits for a running bulk operation before handing back an empty page.</summary>
    public TimeSpan BulkPollBudget { get; set; } = TimeSpan.FromSeconds(45);

    public TimeSpan BulkPollInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long one pull waits for the cost bucket to refill before it gives the runtime a transient error.</summary>
    public TimeSpan ThrottleWaitBudget { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Refresh an expiring access token this long before it expires.</summary>
    public TimeSpan RefreshBeforeExpiry { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>An OAuth callback older than this (its <c>timestamp</c>) is refused, as Shopify's own library does.</summary>
    public TimeSpan CallbackMaxAge { get; set; } = TimeSpan.FromSeconds(90);
}

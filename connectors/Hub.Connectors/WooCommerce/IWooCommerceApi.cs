using Hub.Connectors.Http;
using Newtonsoft.Json.Linq;
using Refit;

namespace Hub.Connectors.WooCommerce;

/// <summary>WooCommerce REST API v3 on the merchant's own site. https://woocommerce.github.io/woocommerce-rest-api-docs/</summary>
public interface IWooCommerceApi
{
    /// <summary><c>GET {site}/wp-json/wc/v3/orders</c>; totals in <c>X-WP-Total</c> and <c>X-WP-TotalPages</c>.</summary>
    [Get("/wp-json/wc/v3/orders")]
    Task<IApiResponse<JArray>> ListOrdersAsync(
        [Property(PerRequestBaseAddressHandler.Key)] string siteUrl,
        [Header("Authorization")] string authorization,
        [Query] WooOrderQuery query,
        CancellationToken cancellationToken);

    /// <summary><c>GET {site}/wp-json/wc/v3/customers</c>: no modified filter, registered customers only (guests live on orders).</summary>
    [Get("/wp-json/wc/v3/customers")]
    Task<IApiResponse<JArray>> ListCustomersAsync(
        [Property(PerRequestBaseAddressHandler.Key)] string siteUrl,
        [Header("Authorization")] string authorization,
        [Query] WooCustomerQuery query,
        CancellationToken cancellationToken);
}

public sealed class WooOrderQuery
{
    [AliasAs("modified_after")] public string? ModifiedAfter { get; init; }
    [AliasAs("modified_before")] public string? ModifiedBefore { get; init; }
    [AliasAs("dates_are_gmt")] public string DatesAreGmt { get; init; } = "true";
    [AliasAs("orderby")] public string OrderBy { get; init; } = "modified";
    [AliasAs("order")] public string Order { get; init; } = "asc";
    [AliasAs("status")] public string Status { get; init; } = "any";
    [AliasAs("per_page")] public int PerPage { get; init; } = 100;
    [AliasAs("page")] public int Page { get; init; } = 1;
}

public sealed class WooCustomerQuery
{
    [AliasAs("orderby")] public string OrderBy { get; init; } = "id";
    [AliasAs("order")] public string Order { get; init; } = "asc";
    [AliasAs("role")] public string Role { get; init; } = "all";
    [AliasAs("per_page")] public int PerPage { get; init; } = 100;
    [AliasAs("page")] public int Page { get; init; } = 1;
}

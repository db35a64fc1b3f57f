using Hub.Connectors.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Hub.Connectors.Shopify;

public static class ShopifyRegistration
{
    /// <summary>Registers the Shopify connector (keyed <c>shopify</c>), its typed clients and its options.</summary>
    public static IServiceCollection AddShopifyConnector(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ShopifyOptions>().Bind(configuration.GetSection(ShopifyOptions.Section))
            .Validate(o => Uri.TryCreate(o.AdminBaseUrl.Replace("{shop}", "x.myshopify.com", StringComparison.Ordinal), UriKind.Absolute, out _), "Hub:Connectors:Shopify:AdminBaseUrl must be an absolute URL template with {shop}.")
            .Validate(o => o.LinesPerOrder is > 0 and <= 250 && o.BulkPageSize > 0 && o.MaxQueryCost > 10, "Hub:Connectors:Shopify limits must be positive (LinesPerOrder at most 250).")
            .ValidateOnStart();
        var http = ConnectorHttpOptions.From(configuration);
        services.TryAddSingleton(TimeProvider.System);
        services.AddConnectorClient<IShopifyApi>(http, retryUnsafeMethods: true);
        services.AddConnectorClient<IShopifyOAuthApi>(http, retryUnsafeMethods: false);
        services.AddConnectorDownloadClient(ShopifyConnector.BulkDownloadClient, http);
        services.TryAddSingleton<ShopifyCostLimiter>();
        services.TryAddSingleton<ShopifyAuth>();
        services.AddStoreConnector<ShopifyConnector>(ShopifyConnector.Id);
        return services;
    }
}

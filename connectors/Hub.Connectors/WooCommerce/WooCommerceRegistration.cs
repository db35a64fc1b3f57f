using Hub.Connectors.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Hub.Connectors.WooCommerce;

public static class WooCommerceRegistration
{
    /// <summary>Registers the WooCommerce connector (keyed <c>woocommerce</c>) and its typed client. Reads only, so GETs are retried.</summary>
    public static IServiceCollection AddWooCommerceConnector(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddConnectorClient<IWooCommerceApi>(ConnectorHttpOptions.From(configuration), retryUnsafeMethods: false);
        services.AddStoreConnector<WooCommerceConnector>(WooCommerceConnector.Id);
        return services;
    }
}

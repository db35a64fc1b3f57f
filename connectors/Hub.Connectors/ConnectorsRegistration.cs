using Hub.Connectors.Fxiaoke;
using Hub.Connectors.HubSpot;
using Hub.Connectors.Shopify;
using Hub.Connectors.Tmall;
using Hub.Connectors.WooCommerce;
using Hub.Connectors.Youzan;
using Hub.Connectors.ZohoCrm;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Hub.Connectors;

/// <summary>The built-in connectors. Adding a platform is a folder plus one line here.</summary>
public static class ConnectorsRegistration
{
    public static IServiceCollection AddHubConnectors(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddShopifyConnector(configuration);
        services.AddWooCommerceConnector(configuration);
        services.AddYouzanConnector(configuration);
        services.AddTmallConnector(configuration);
        services.AddHubSpotConnector(configuration);
        services.AddZohoCrmConnector(configuration);
        services.AddFxiaokeConnector(configuration);
        return services;
    }
}

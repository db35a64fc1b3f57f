using Hub.Connectors.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Hub.Connectors.ZohoCrm;

public static class ZohoCrmRegistration
{
    /// <summary>Registers the Zoho CRM connector (keyed <c>zoho-crm</c>), its typed clients and options.</summary>
    public static IServiceCollection AddZohoCrmConnector(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ZohoCrmOptions>().Bind(configuration.GetSection(ZohoCrmOptions.Section))
            .Validate(o => o.Concurrency is > 0 and <= 25, "Hub:Connectors:ZohoCrm:Concurrency must be 1–25.")
            .ValidateOnStart();
        var http = ConnectorHttpOptions.From(configuration);
        services.TryAddSingleton(TimeProvider.System);
        services.AddConnectorClient<IZohoCrmApi>(http, retryUnsafeMethods: true);
        services.AddConnectorClient<IZohoAccountsApi>(http, retryUnsafeMethods: false);
        services.AddConnectorDownloadClient(ZohoCrmConnector.BulkDownloadClient, http);
        services.AddCrmConnector<ZohoCrmConnector>(ZohoCrmConnector.Id);
        return services;
    }
}

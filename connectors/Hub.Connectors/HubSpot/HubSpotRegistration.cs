using Hub.Connectors.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Hub.Connectors.HubSpot;

public static class HubSpotRegistration
{
    /// <summary>Registers the HubSpot CRM connector (keyed <c>hubspot</c>), its typed clients and options.</summary>
    public static IServiceCollection AddHubSpotConnector(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<HubSpotOptions>().Bind(configuration.GetSection(HubSpotOptions.Section))
            .Validate(o => Uri.TryCreate(o.ApiBaseUrl, UriKind.Absolute, out _), "Hub:Connectors:HubSpot:ApiBaseUrl must be an absolute URL.")
            .ValidateOnStart();
        var http = ConnectorHttpOptions.From(configuration);
        services.TryAddSingleton(TimeProvider.System);
        // Batch upsert by email is idempotent: safe to retry. A 429 for the daily limit is not retried: it lasts until midnight.
        services.AddConnectorClient<IHubSpotApi>(http, retryUnsafeMethods: true, neverRetry: DailyLimitReached);
        services.AddConnectorClient<IHubSpotOAuthApi>(http, retryUnsafeMethods: false);
        services.AddCrmConnector<HubSpotConnector>(HubSpotConnector.Id);
        return services;
    }

    /// <summary>HubSpot says which limit a 429 hit in the body; the header tells the daily one without reading it.</summary>
    internal static bool DailyLimitReached(HttpResponseMessage response) =>
        (int)response.StatusCode == 429 &&
        response.Headers.TryGetValues("X-HubSpot-RateLimit-Daily-Remaining", out var values) &&
        values.FirstOrDefault() == "0";
}

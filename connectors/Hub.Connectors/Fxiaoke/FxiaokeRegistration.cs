using Hub.Connectors.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Hub.Connectors.Fxiaoke;

public static class FxiaokeRegistration
{
    /// <summary>Registers the Fxiaoke CRM connector (keyed <c>fxiaoke</c>): reads and updates retried, creates never.</summary>
    public static IServiceCollection AddFxiaokeConnector(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<FxiaokeOptions>().Bind(configuration.GetSection(FxiaokeOptions.Section))
            .Validate(o => o.CallsPerWindow > 0 && o.Window > TimeSpan.Zero && o.Hosts.Count > 0, "Hub:Connectors:Fxiaoke pacing and hosts must be set.")
            .ValidateOnStart();
        var http = ConnectorHttpOptions.From(configuration);
        services.TryAddSingleton(TimeProvider.System);
        services.AddConnectorClient<IFxiaokeApi>(http, retryUnsafeMethods: true);
        services.AddConnectorClient<IFxiaokeCreateApi>(http, retryUnsafeMethods: false);
        services.AddCrmConnector<FxiaokeConnector>(FxiaokeConnector.Id);
        return services;
    }
}

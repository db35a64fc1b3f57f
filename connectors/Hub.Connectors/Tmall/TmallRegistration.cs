using Hub.Connectors.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Hub.Connectors.Tmall;

public static class TmallRegistration
{
    /// <summary>Registers the Tmall/Taobao store connector (keyed <c>tmall</c>). Reads only: the gateway POSTs may be retried.</summary>
    public static IServiceCollection AddTmallConnector(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<TmallOptions>().Bind(configuration.GetSection(TmallOptions.Section))
            .Validate(o => o.SignMethod is "md5" or "hmac" or "hmac-sha256", "Hub:Connectors:Tmall:SignMethod must be md5, hmac or hmac-sha256.")
            .Validate(o => o.MaxWindow > TimeSpan.Zero && o.MaxWindow <= TimeSpan.FromDays(1), "Hub:Connectors:Tmall:MaxWindow must be at most one day (TOP's limit).")
            .ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.AddConnectorClient<ITmallApi>(ConnectorHttpOptions.From(configuration), retryUnsafeMethods: true);
        services.AddStoreConnector<TmallConnector>(TmallConnector.Id);
        return services;
    }
}

using Hub.Connectors.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Hub.Connectors.Youzan;

public static class YouzanRegistration
{
    /// <summary>Registers the Youzan store connector (keyed <c>youzan</c>). Its POSTs are reads and token grants: retried.</summary>
    public static IServiceCollection AddYouzanConnector(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<YouzanOptions>().Bind(configuration.GetSection(YouzanOptions.Section))
            .Validate(o => o.MaxWindow > TimeSpan.Zero && o.MaxWindow <= TimeSpan.FromDays(31), "Hub:Connectors:Youzan:MaxWindow must be between 0 and 31 days.")
            .ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.AddConnectorClient<IYouzanApi>(ConnectorHttpOptions.From(configuration), retryUnsafeMethods: true);
        services.AddStoreConnector<YouzanConnector>(YouzanConnector.Id);
        return services;
    }
}

using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Hub.Connectors;

/// <summary>
/// An assembly loaded by the function app at start (setting <c>Hub:PluginAssemblies</c>) registers its connectors
/// through this. The built-in connectors register the same way from their <c>Add&lt;Platform&gt;Connector</c> methods.
/// </summary>
public interface IHubPlugin
{
    void Register(IServiceCollection services, IConfiguration configuration);
}

public static class ConnectorServiceCollectionExtensions
{
    /// <summary>Registers a store connector under its id, so the runtime finds it by the connection's connector id.</summary>
    public static IServiceCollection AddStoreConnector<TConnector>(this IServiceCollection services, string id)
        where TConnector : class, IStoreConnector
    {
        services.TryAddSingleton<TConnector>();
        services.AddKeyedSingleton<IStoreConnector>(id, (sp, _) => sp.GetRequiredService<TConnector>());
        if (typeof(IOAuthInstaller).IsAssignableFrom(typeof(TConnector)))
        {
            services.AddKeyedSingleton(id, (sp, _) => (IOAuthInstaller)sp.GetRequiredService<TConnector>());
        }

        services.AddSingleton(new RegisteredConnector(id, ConnectorKind.Store));
        return services;
    }
}

public static class CrmConnectorServiceCollectionExtensions
{
    /// <summary>Registers a CRM connector under its id.</summary>
    public static IServiceCollection AddCrmConnector<TConnector>(this IServiceCollection services, string id)
        where TConnector : class, ICrmConnector
    {
        services.TryAddSingleton<TConnector>();
        services.AddKeyedSingleton<ICrmConnector>(id, (sp, _) => sp.GetRequiredService<TConnector>());
        if (typeof(ICrmMerger).IsAssignableFrom(typeof(TConnector)))
        {
            services.AddKeyedSingleton(id, (sp, _) => (ICrmMerger)sp.GetRequiredService<TConnector>());
        }

        if (typeof(ICrmBulkLoader).IsAssignableFrom(typeof(TConnector)))
        {
            services.AddKeyedSingleton(id, (sp, _) => (ICrmBulkLoader)sp.GetRequiredService<TConnector>());
        }

        if (typeof(IOAuthInstaller).IsAssignableFrom(typeof(TConnector)))
        {
            services.AddKeyedSingleton(id, (sp, _) => (IOAuthInstaller)sp.GetRequiredService<TConnector>());
        }

        services.AddSingleton(new RegisteredConnector(id, ConnectorKind.Crm));
        return services;
    }
}

/// <summary>Marker listing which connector ids are registered (keyed services cannot be enumerated).</summary>
public sealed record RegisteredConnector(string Id, ConnectorKind Kind);

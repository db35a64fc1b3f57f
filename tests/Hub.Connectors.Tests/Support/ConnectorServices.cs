using Hub.Connectors.Shopify;
using Hub.Sandbox.Shopify;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Hub.Connectors.Tests.Support;

/// <summary>
/// The connectors exactly as the function app registers them (Refit clients, standard resilience handler, options),
/// with timings shortened for tests and Shopify's admin host pointed at the sandbox.
/// </summary>
internal static class ConnectorServices
{
    public static ServiceProvider Build(ShopifySandbox? shopify = null, IDictionary<string, string?>? overrides = null)
    {
        var settings = new Dictionary<string, string?>
        {
            // Patient by default, so a loaded machine never turns a slow answer into a retry that tests would count.
            ["Hub:Connectors:Http:AttemptTimeout"] = "00:00:30",
            ["Hub:Connectors:Http:TotalTimeout"] = "00:01:30",
            ["Hub:Connectors:Http:RetryBaseDelay"] = "00:00:00.050",
            ["Hub:Connectors:Http:MaxRetries"] = "3",
            ["Hub:Connectors:Shopify:BulkPollInterval"] = "00:00:00.100",
            ["Hub:Connectors:Shopify:BulkPollBudget"] = "00:00:05",
        };
        if (shopify is not null)
        {
            settings["Hub:Connectors:Shopify:AdminBaseUrl"] = shopify.AdminBaseUrlTemplate;
            settings["Hub:Connectors:Shopify:ClientId"] = shopify.ClientId;
            settings["Hub:Connectors:Shopify:ClientSecret"] = shopify.ClientSecret;
        }

        foreach (var (k, v) in overrides ?? new Dictionary<string, string?>())
        {
            settings[k] = v;
        }

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddSingleton<ILoggerFactory>(NullLoggerFactory.Instance);
        services.AddSingleton(typeof(ILogger<>), typeof(NullLogger<>));
        services.AddHubConnectors(configuration);
        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
    }

    /// <summary>A 2-second attempt timeout, for tests of hung requests.</summary>
    public static readonly IDictionary<string, string?> Impatient = new Dictionary<string, string?>
    {
        ["Hub:Connectors:Http:AttemptTimeout"] = "00:00:02",
        ["Hub:Connectors:Http:TotalTimeout"] = "00:00:30",
    };

    public static ICrmConnector Crm(this IServiceProvider services, string id) => services.GetRequiredKeyedService<ICrmConnector>(id);

    public static IStoreConnector Store(this IServiceProvider services, string id) => services.GetRequiredKeyedService<IStoreConnector>(id);

    public static ShopifyConnector Shopify(this IServiceProvider services) => services.GetRequiredService<ShopifyConnector>();
}

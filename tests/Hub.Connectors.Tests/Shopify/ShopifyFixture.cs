using Hub.Connectors.Tests.Support;
using Hub.Sandbox.Common;
using Hub.Sandbox.Shopify;
using Microsoft.Extensions.DependencyInjection;
using Newtonsoft.Json.Linq;

namespace Hub.Connectors.Tests.Shopify;

/// <summary>A fresh Shopify sandbox with one shop and the connector wired to it, per test.</summary>
public abstract class ShopifyTestBase : IAsyncLifetime
{
    protected ShopifySandbox Sandbox { get; } = new();
    protected ShopifyShop Shop { get; private set; } = null!;
    protected ServiceProvider Services { get; private set; } = null!;
    protected IStoreConnector Connector { get; private set; } = null!;

    /// <summary>Option overrides for the connector (Hub:Connectors:Shopify:*), set before the services are built.</summary>
    protected virtual IDictionary<string, string?> Overrides => new Dictionary<string, string?>();

    public virtual async Task InitializeAsync()
    {
        await Sandbox.StartAsync();
        Shop = Sandbox.AddShop("acme.myshopify.com");
        Shop.RestoreRate = 2000;
        Services = ConnectorServices.Build(Sandbox, Overrides);
        Connector = Services.Store("shopify");
    }

    public async Task DisposeAsync()
    {
        await Services.DisposeAsync();
        await Sandbox.DisposeAsync();
    }

    protected void Seed(int orders, int days = 20, int customers = 40) => Shop.Seed(SandboxPeople.Generate(Math.Max(customers, 10)), customers, orders, days);

    protected ConnectionContext Connection(JObject? secrets = null, Func<JObject, CancellationToken, Task>? save = null, string? apiVersion = null)
    {
        var settings = new JObject { ["shop"] = Shop.Domain, ["secrets"] = secrets ?? new JObject { ["accessToken"] = Shop.AccessToken } };
        if (apiVersion is not null)
        {
            settings["apiVersion"] = apiVersion;
        }

        return new ConnectionContext("tenant-a", "conn-1", "shopify", settings) { SaveSecretsAsync = save };
    }

    protected List<SandboxRequest> GraphQLCalls() => Sandbox.Requests.Where(r => r.Path.EndsWith("/graphql.json", StringComparison.Ordinal)).ToList();
}

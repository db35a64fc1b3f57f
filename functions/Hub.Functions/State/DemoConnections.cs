using Newtonsoft.Json.Linq;

namespace Hub.Functions.State;

/// <summary>
/// The local demo's connections: when the local host runs the sandbox platforms (<c>./hub run</c>), it passes their
/// addresses and credentials as <c>Hub:Demo:*</c> settings, and this writes one connection per sandbox for tenant
/// <c>Hub:Demo:Tenant</c>, with its secrets encrypted like any other. The sandboxes mint new credentials on every
/// start, so the rows are rewritten at every start. Never configured in Azure.
/// </summary>
public sealed class DemoConnections(IConfiguration configuration, ConnectionStore connections, ISecretStore secrets, TimeProvider clock, ILogger<DemoConnections> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var tenant = configuration["Hub:Demo:Tenant"];
        if (string.IsNullOrEmpty(tenant))
        {
            return;
        }

        if (configuration["Hub:Demo:Shopify:Shop"] is { Length: > 0 } shop)
        {
            await UpsertAsync(tenant, "demo-shopify", "shopify", "Sandbox Shopify", new JObject { ["shop"] = shop },
                new JObject { ["accessToken"] = configuration["Hub:Demo:Shopify:AccessToken"] }, cancellationToken);
        }

        if (configuration["Hub:Demo:WooCommerce:StoreUrl"] is { Length: > 0 } storeUrl)
        {
            await UpsertAsync(tenant, "demo-woocommerce", "woocommerce", "Sandbox WooCommerce", new JObject { ["storeUrl"] = storeUrl },
                new JObject { ["consumerKey"] = configuration["Hub:Demo:WooCommerce:ConsumerKey"], ["consumerSecret"] = configuration["Hub:Demo:WooCommerce:ConsumerSecret"] }, cancellationToken);
        }

        if (Demo("Youzan") is { } youzan)
        {
            await UpsertAsync(tenant, "demo-youzan", "youzan", "Sandbox 有赞", new JObject { ["kdtId"] = youzan["kdtId"] },
                new JObject { ["clientId"] = youzan["clientId"], ["clientSecret"] = youzan["clientSecret"] }, cancellationToken);
        }

        if (Demo("Tmall") is { } tmall)
        {
            await UpsertAsync(tenant, "demo-tmall", "tmall", "Sandbox 天猫", [],
                new JObject { ["appKey"] = tmall["appKey"], ["appSecret"] = tmall["appSecret"], ["session"] = tmall["session"] }, cancellationToken);
        }

        // CRM connections are pushed to by the pipeline; the scheduler leaves them alone.
        if (Demo("HubSpot") is { } hubspot)
        {
            await UpsertAsync(tenant, "demo-hubspot", "hubspot", "Sandbox HubSpot", [], new JObject { ["accessToken"] = hubspot["accessToken"] }, cancellationToken);
        }

        if (Demo("ZohoCrm") is { } zoho)
        {
            await UpsertAsync(tenant, "demo-zoho", "zoho-crm", "Sandbox Zoho CRM", new JObject { ["accountsServer"] = zoho["accountsServer"], ["apiDomain"] = zoho["apiDomain"] },
                new JObject { ["accessToken"] = zoho["accessToken"], ["refreshToken"] = zoho["refreshToken"], ["expiresAt"] = clock.GetUtcNow().AddMinutes(55).ToString("O", System.Globalization.CultureInfo.InvariantCulture) }, cancellationToken);
        }

        if (Demo("Fxiaoke") is { } fxiaoke)
        {
            await UpsertAsync(tenant, "demo-fxiaoke", "fxiaoke", "Sandbox 纷享销客", new JObject { ["host"] = fxiaoke["host"], ["currentOpenUserId"] = fxiaoke["currentOpenUserId"] },
                new JObject { ["appId"] = fxiaoke["appId"], ["appSecret"] = fxiaoke["appSecret"], ["permanentCode"] = fxiaoke["permanentCode"] }, cancellationToken);
        }
    }

    /// <summary>A sandbox's connection data, passed by the local host as one JSON setting.</summary>
    private JObject? Demo(string platform) =>
        configuration[$"Hub:Demo:{platform}:Json"] is { Length: > 0 } json ? JObject.Parse(json) : null;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private async Task UpsertAsync(string tenant, string id, string connector, string name, JObject settings, JObject secret, CancellationToken ct)
    {
        var existing = await connections.GetAsync(tenant, id, ct);
        var row = existing ?? new ConnectionEntity { PartitionKey = tenant, RowKey = id, CreatedAt = clock.GetUtcNow(), Status = ConnectionStatus.Active };
        row.ConnectorId = connector;
        row.DisplayName = name;
        row.SettingsJson = settings.ToString(Newtonsoft.Json.Formatting.None);
        row.SecretsRef = await secrets.SaveAsync(tenant, id, secret, ct);
        await connections.UpsertAsync(row, ct);
        logger.LogInformation("Demo connection {Connection} ({Connector}) ready for tenant {Tenant}", id, connector, tenant);
    }
}

using System.Globalization;
using Hub.Functions.Functions;
using Hub.Functions.State;
using Hub.Functions.Sync;
using Hub.Sandbox.Common;
using Hub.Sandbox.Shopify;
using Hub.Testing;
using Microsoft.Extensions.DependencyInjection;
using Newtonsoft.Json.Linq;
using Xunit;

namespace Hub.Functions.Tests;

/// <summary>The runtime with the built-in connectors, against the Shopify sandbox.</summary>
[Collection(AzuriteFixture.Collection)]
public sealed class BuiltInConnectorTests : IAsyncLifetime
{
    private readonly ShopifySandbox _sandbox = new();
    private ShopifyShop _shop = null!;

    public async Task InitializeAsync()
    {
        await _sandbox.StartAsync();
        _shop = _sandbox.AddShop("runtime.myshopify.com");
        _shop.RestoreRate = 100_000;
        _shop.BucketMaximum = 1_000_000; // the harness clock is fake: the connector must never need to wait on it
        _shop.Seed(SandboxPeople.Generate(30), customers: 20, orders: 40, days: 20);
    }

    public async Task DisposeAsync() => await _sandbox.DisposeAsync();

    private SyncHarness Harness() => new(values =>
    {
        values["Hub:Connectors:Shopify:AdminBaseUrl"] = _sandbox.AdminBaseUrlTemplate;
        values["Hub:Connectors:Shopify:ClientId"] = _sandbox.ClientId;
        values["Hub:Connectors:Shopify:ClientSecret"] = _sandbox.ClientSecret;
    });

    [Fact]
    public async Task PullStream_ShopifyTokenExpired_RefreshesAndStoresTheNewTokensOnTheConnection()
    {
        await using var h = Harness();
        h.Clock.SetUtcNow(DateTimeOffset.UtcNow);
        var secrets = h.Services.GetRequiredService<ISecretStore>();
        var (access, refresh) = _sandbox.IssueExpiringToken(_shop.Domain);
        var reference = await secrets.SaveAsync(h.Tenant, "shop1", new JObject
        {
            ["accessToken"] = access,
            ["refreshToken"] = refresh,
            ["expiresAt"] = h.Clock.GetUtcNow().AddMinutes(50).ToString("O", CultureInfo.InvariantCulture),
        }, default);
        await h.Connections.UpsertAsync(new ConnectionEntity
        {
            PartitionKey = h.Tenant,
            RowKey = "shop1",
            ConnectorId = "shopify",
            SettingsJson = new JObject { ["shop"] = _shop.Domain }.ToString(),
            SecretsRef = reference,
            Status = ConnectionStatus.Active,
            CreatedAt = h.Clock.GetUtcNow(),
        }, default);
        _sandbox.ExpireAccessTokens();

        var tick = await h.TickAsync();
        var orders = tick.Messages(ScheduleSync.PullOutput).Select(m => m.ToObject<PullMessage>()!).Single(m => m.Stream == "orders");
        var result = await h.PullAsync(orders);
        while (result.MessageCount(PullStream.NextOutput) > 0)
        {
            result = await h.PullAsync(SyncHarness.Message(result, PullStream.NextOutput));
        }

        var run = await h.Runs.GetAsync(h.Tenant, orders.RunId, default);
        Assert.Equal(RunStatus.Succeeded, run!.Status);
        Assert.Equal(40, run.Records);
        var connection = await h.Connections.GetAsync(h.Tenant, "shop1", default);
        Assert.NotEqual(reference, connection!.SecretsRef);
        var stored = await secrets.LoadAsync(connection.SecretsRef, default);
        Assert.NotEqual(access, stored.Value<string>("accessToken"));
        Assert.NotEqual(refresh, stored.Value<string>("refreshToken"));
        Assert.Single(_sandbox.Requests, r => r.Path.EndsWith("/oauth/access_token", StringComparison.Ordinal));
    }

    [Fact]
    public async Task PullStream_ConnectorWarning_IsShownOnTheRun()
    {
        await using var h = Harness();
        h.Clock.SetUtcNow(DateTimeOffset.UtcNow);
        _shop.ProtectedDataApproved = false;
        var secrets = h.Services.GetRequiredService<ISecretStore>();
        await h.Connections.UpsertAsync(new ConnectionEntity
        {
            PartitionKey = h.Tenant,
            RowKey = "shop2",
            ConnectorId = "shopify",
            SettingsJson = new JObject { ["shop"] = _shop.Domain }.ToString(),
            SecretsRef = await secrets.SaveAsync(h.Tenant, "shop2", new JObject { ["accessToken"] = _shop.AccessToken }, default),
            Status = ConnectionStatus.Active,
            CreatedAt = h.Clock.GetUtcNow(),
        }, default);

        var tick = await h.TickAsync();
        var customers = tick.Messages(ScheduleSync.PullOutput).Select(m => m.ToObject<PullMessage>()!).Single(m => m.Stream == "customers");
        await h.PullAsync(customers);

        var run = await h.Runs.GetAsync(h.Tenant, customers.RunId, default);
        Assert.Contains("protected customer data", run!.Warnings, StringComparison.Ordinal);
        Assert.Contains("protected customer data", RunsApi.ToJson(run)["warnings"]![0]!.ToString(), StringComparison.Ordinal);
    }
}

[Collection(AzuriteFixture.Collection)]
public sealed class DemoConnectionsTests
{
    [Fact]
    public async Task DemoSettings_WriteOneConnectionPerSandboxWithEncryptedSecrets_AndRewriteThemOnRestart()
    {
        await using var h = new SyncHarness(values =>
        {
            values["Hub:Demo:Tenant"] = "demo-test";
            values["Hub:Demo:Shopify:Shop"] = "demo-shop.myshopify.com";
            values["Hub:Demo:Shopify:AccessToken"] = "shpat_first";
            values["Hub:Demo:WooCommerce:StoreUrl"] = "http://127.0.0.1:7181/stores/demo";
            values["Hub:Demo:WooCommerce:ConsumerKey"] = "ck_1";
            values["Hub:Demo:WooCommerce:ConsumerSecret"] = "cs_1";
            values["Hub:Demo:Youzan:Json"] = """{"kdtId":"42","clientId":"c","clientSecret":"s"}""";
            values["Hub:Demo:HubSpot:Json"] = """{"accessToken":"pat-demo"}""";
        });
        var demo = ActivatorUtilities.CreateInstance<DemoConnections>(h.Services);

        await demo.StartAsync(default);
        await demo.StartAsync(default);

        var shopify = await h.Connections.GetAsync("demo-test", "demo-shopify", default);
        var woo = await h.Connections.GetAsync("demo-test", "demo-woocommerce", default);
        Assert.Equal("shopify", shopify!.ConnectorId);
        Assert.Equal("woocommerce", woo!.ConnectorId);
        Assert.DoesNotContain("shpat_first", shopify.SettingsJson, StringComparison.Ordinal);
        Assert.DoesNotContain("shpat_first", shopify.SecretsRef, StringComparison.Ordinal);
        var secrets = await h.Services.GetRequiredService<ISecretStore>().LoadAsync(shopify.SecretsRef, default);
        Assert.Equal("shpat_first", secrets.Value<string>("accessToken"));
        Assert.Equal("youzan", (await h.Connections.GetAsync("demo-test", "demo-youzan", default))!.ConnectorId);
        var crm = await h.Connections.GetAsync("demo-test", "demo-hubspot", default);
        Assert.DoesNotContain("pat-demo", crm!.SettingsJson, StringComparison.Ordinal);

        // The scheduler pulls the stores and leaves the CRM connection alone.
        h.Clock.SetUtcNow(DateTimeOffset.UtcNow);
        var tick = await h.TickAsync();
        var pulled = tick.Messages(ScheduleSync.PullOutput).Select(m => m.Value<string>("connectionId")).ToHashSet();
        Assert.Contains("demo-youzan", pulled);
        Assert.DoesNotContain("demo-hubspot", pulled);
    }
}

using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Azure;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Data.Tables;
using Azure.Security.KeyVault.Secrets;
using Hub.Functions.State;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Newtonsoft.Json.Linq;
using Xunit;

namespace Hub.Functions.Tests;

public class SecretStoreTests
{
    private static readonly JObject Secrets = JObject.Parse("""{"accessToken":"shpat_0123456789abcdef","refreshToken":"r-42"}""");

    [Fact]
    public async Task KeyVault_SaveThenLoad_RoundTripsThroughTheSdkPipeline()
    {
        var vault = new FakeKeyVault();
        var store = new KeyVaultSecretStore(vault.Client());

        var reference = await store.SaveAsync("tenant-a", "shop-1", Secrets, default);

        Assert.StartsWith("kv:conn-", reference, StringComparison.Ordinal);
        Assert.DoesNotContain("tenant-a", reference, StringComparison.Ordinal);
        Assert.Equal(Secrets.ToString(), (await store.LoadAsync(reference, default)).ToString());
        var stored = vault.Latest(reference[3..]);
        Assert.Equal("tenant-a", stored["tags"]!.Value<string>("tenant"));
        Assert.True(vault.SawBearerToken, "the SDK should authenticate with the managed identity's token");
    }

    [Fact]
    public async Task KeyVault_Rotation_WritesANewVersionAndReadersGetIt()
    {
        var vault = new FakeKeyVault();
        var store = new KeyVaultSecretStore(vault.Client());
        var reference = await store.SaveAsync("t", "c", Secrets, default);

        var rotated = JObject.Parse("""{"accessToken":"shpat_rotated"}""");
        var again = await store.SaveAsync("t", "c", rotated, default);

        Assert.Equal(reference, again);
        Assert.Equal(2, vault.Versions(reference[3..]));
        Assert.Equal("shpat_rotated", (await store.LoadAsync(reference, default)).Value<string>("accessToken"));
    }

    [Fact]
    public async Task KeyVault_Delete_RemovesTheSecret_AndIsIdempotent()
    {
        var vault = new FakeKeyVault();
        var store = new KeyVaultSecretStore(vault.Client());
        var reference = await store.SaveAsync("t", "c", Secrets, default);

        await store.DeleteAsync(reference, default);
        await store.DeleteAsync(reference, default);

        var error = await Assert.ThrowsAsync<RequestFailedException>(() => store.LoadAsync(reference, default));
        Assert.Equal(404, error.Status);
    }

    [Fact]
    public void KeyVault_SecretName_IsAValidVaultNamePerTenantAndConnection()
    {
        var a = KeyVaultSecretStore.SecretName("tenant/with odd#chars", "c1");

        Assert.Matches("^[0-9a-zA-Z-]{1,127}$", a);
        Assert.NotEqual(a, KeyVaultSecretStore.SecretName("tenant/with odd#chars", "c2"));
        Assert.NotEqual(a, KeyVaultSecretStore.SecretName("other", "c1"));
    }

    [Fact]
    public async Task DataProtection_SaveThenLoad_RoundTrips_AndNothingIsPlainText()
    {
        var store = new DataProtectionSecretStore(new EphemeralDataProtectionProvider());

        var reference = await store.SaveAsync("t", "c", Secrets, default);

        Assert.StartsWith("dp:", reference, StringComparison.Ordinal);
        Assert.DoesNotContain("shpat_", reference, StringComparison.Ordinal);
        Assert.Equal(Secrets.ToString(), (await store.LoadAsync(reference, default)).ToString());
        Assert.Empty(await store.LoadAsync(null, default));
    }

    [Fact]
    public async Task DataProtection_KeyVaultReference_GetsAClearError()
    {
        var store = new DataProtectionSecretStore(new EphemeralDataProtectionProvider());

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => store.LoadAsync("kv:conn-1", default));
        Assert.Contains("KeyVaultUri", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Configuration_AzureSettings_SwitchToIdentityTablesAndKeyVault()
    {
        using var services = Build(new()
        {
            ["HubStorage:tableServiceUri"] = "https://sthub.table.core.windows.net/",
            ["Hub:Secrets:KeyVaultUri"] = "https://kv-hub.vault.azure.net/",
            ["AZURE_CLIENT_ID"] = "00000000-0000-0000-0000-000000000001",
        });

        Assert.IsType<KeyVaultSecretStore>(services.GetRequiredService<ISecretStore>());
        Assert.Equal("https://sthub.table.core.windows.net/", services.GetRequiredService<TableServiceClient>().Uri.ToString());
        Assert.Equal("https://kv-hub.vault.azure.net/", services.GetRequiredService<SecretClient>().VaultUri.ToString());
    }

    [Fact]
    public void Configuration_LocalDefaults_UseConnectionStringAndDataProtection()
    {
        using var services = Build(new() { ["HubStorage"] = "UseDevelopmentStorage=true" });

        Assert.IsType<DataProtectionSecretStore>(services.GetRequiredService<ISecretStore>());
        Assert.Equal("devstoreaccount1", services.GetRequiredService<TableServiceClient>().AccountName);
    }

    private static ServiceProvider Build(Dictionary<string, string?> values)
    {
        values["Hub:DataProtection:KeysPath"] = Path.Combine(Path.GetTempPath(), "hub-tests-keys");
        var services = new ServiceCollection();
        services.AddLogging();
        HubApp.AddHubServices(services, new ConfigurationBuilder().AddInMemoryCollection(values).Build());
        return services.BuildServiceProvider();
    }

    /// <summary>
    /// Key Vault's secrets REST API (7.x) in memory, behind its challenge: an unauthenticated request gets 401 with
    /// the WWW-Authenticate challenge, as the real service answers, before the SDK fetches a token.
    /// </summary>
    private sealed class FakeKeyVault : HttpMessageHandler
    {
        private const string VaultUri = "https://kv-test.vault.azure.net";
        private readonly ConcurrentDictionary<string, List<JObject>> _secrets = new(StringComparer.OrdinalIgnoreCase);

        public bool SawBearerToken { get; private set; }

        public SecretClient Client() => new(new Uri(VaultUri), new StaticToken(), new SecretClientOptions
        {
            Transport = new HttpClientTransport(new HttpClient(this)),
            Retry = { MaxRetries = 0 },
        });

        public JObject Latest(string name) => _secrets[name][^1];

        public int Versions(string name) => _secrets[name].Count;

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            // The SDK caches the challenge per vault host process-wide, so only the first client sees this 401.
            if (request.Headers.Authorization is null)
            {
                var challenge = new HttpResponseMessage(HttpStatusCode.Unauthorized);
                challenge.Headers.TryAddWithoutValidation("WWW-Authenticate", "Bearer authorization=\"https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000\", resource=\"https://vault.azure.net\"");
                return challenge;
            }

            SawBearerToken |= request.Headers.Authorization is { Scheme: "Bearer", Parameter: "fake-token" };
            var segments = request.RequestUri!.AbsolutePath.Trim('/').Split('/');
            if (segments.Length < 2 || segments[0] != "secrets")
            {
                return Error(HttpStatusCode.BadRequest, "BadParameter", "unknown path");
            }

            var name = segments[1];
            if (request.Method == HttpMethod.Put)
            {
                var body = JObject.Parse(await request.Content!.ReadAsStringAsync(cancellationToken));
                var versions = _secrets.GetOrAdd(name, _ => []);
                var version = Guid.NewGuid().ToString("N");
                var secret = new JObject
                {
                    ["value"] = body["value"],
                    ["contentType"] = body["contentType"],
                    ["tags"] = body["tags"] ?? new JObject(),
                    ["id"] = $"{VaultUri}/secrets/{name}/{version}",
                    ["attributes"] = new JObject { ["enabled"] = true, ["created"] = 1_700_000_000, ["updated"] = 1_700_000_000, ["recoveryLevel"] = "Recoverable" },
                };
                lock (versions)
                {
                    versions.Add(secret);
                }

                return Json(secret);
            }

            if (!_secrets.TryGetValue(name, out var list) || list.Count == 0)
            {
                return Error(HttpStatusCode.NotFound, "SecretNotFound", $"A secret with (name/id) {name} was not found in this key vault.");
            }

            if (request.Method == HttpMethod.Get)
            {
                return Json(list[^1]);
            }

            if (request.Method == HttpMethod.Delete)
            {
                _secrets.TryRemove(name, out _);
                var deleted = (JObject)list[^1].DeepClone();
                deleted["recoveryId"] = $"{VaultUri}/deletedsecrets/{name}";
                deleted["deletedDate"] = 1_700_000_100;
                deleted["scheduledPurgeDate"] = 1_707_776_100;
                deleted.Remove("value");
                return Json(deleted);
            }

            return Error(HttpStatusCode.MethodNotAllowed, "BadParameter", "method");
        }

        private static HttpResponseMessage Json(JObject body) => new(HttpStatusCode.OK) { Content = new StringContent(body.ToString(), Encoding.UTF8, "application/json") };

        private static HttpResponseMessage Error(HttpStatusCode status, string code, string message) => new(status)
        {
            Content = new StringContent(new JObject { ["error"] = new JObject { ["code"] = code, ["message"] = message } }.ToString(), Encoding.UTF8, "application/json"),
        };

        private sealed class StaticToken : TokenCredential
        {
            public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken) => new("fake-token", DateTimeOffset.UtcNow.AddHours(1));

            public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken) => new(GetToken(requestContext, cancellationToken));
        }
    }
}

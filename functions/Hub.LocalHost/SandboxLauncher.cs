using System.Diagnostics;
using Newtonsoft.Json.Linq;

namespace Hub.LocalHost;

/// <summary>
/// Starts the sandbox platforms (connectors/Hub.Sandbox) as a child process for the local demo and turns what they
/// print into handler settings: the Shopify admin host and app credentials, and the demo connections' credentials.
/// The sandbox stops itself when this process dies (HUB_PARENT_PID).
/// </summary>
public sealed class SandboxLauncher : IAsyncDisposable
{
    private readonly Process _process;

    private SandboxLauncher(Process process, IReadOnlyDictionary<string, string> settings)
    {
        _process = process;
        Settings = settings;
    }

    /// <summary>Settings for the handler (<c>Hub:Connectors:*</c>, <c>Hub:Demo:*</c>).</summary>
    public IReadOnlyDictionary<string, string> Settings { get; }

    public static async Task<SandboxLauncher> StartAsync(string repositoryRoot, int port, string tenant, CancellationToken ct)
    {
        var dll = Path.Combine(repositoryRoot, "connectors", "Hub.Sandbox", "bin", "Debug", "net10.0", "Hub.Sandbox.dll");
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException("Build the solution first (./hub run does): the sandbox is missing.", dll);
        }

        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(dll);
        info.ArgumentList.Add("--port");
        info.ArgumentList.Add(port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        info.Environment["HUB_PARENT_PID"] = Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var process = Process.Start(info) ?? throw new InvalidOperationException("The sandbox did not start.");
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(60));
            var line = await process.StandardOutput.ReadLineAsync(timeout.Token)
                ?? throw new InvalidOperationException("The sandbox exited: " + await process.StandardError.ReadToEndAsync(ct));
            var json = JObject.Parse(line);
            var shopify = (JObject)json["shopify"]!;
            var woo = (JObject)json["woocommerce"]!;
            var youzan = (JObject)json["youzan"]!;
            var tmall = (JObject)json["tmall"]!;
            var hubspot = (JObject)json["hubspot"]!;
            var zoho = (JObject)json["zoho"]!;
            var fxiaoke = (JObject)json["fxiaoke"]!;
            var settings = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
            {
                // Platform hosts point at the sandboxes (index 20+ appends to the built-in allow-lists).
                ["Hub:Connectors:Youzan:ApiBaseUrl"] = youzan.Value<string>("apiBaseUrl")!,
                ["Hub:Connectors:Tmall:GatewayUrl"] = tmall.Value<string>("gatewayUrl")!,
                ["Hub:Connectors:HubSpot:ApiBaseUrl"] = hubspot.Value<string>("apiBaseUrl")!,
                ["Hub:Connectors:ZohoCrm:ClientId"] = zoho.Value<string>("clientId")!,
                ["Hub:Connectors:ZohoCrm:ClientSecret"] = zoho.Value<string>("clientSecret")!,
                ["Hub:Connectors:ZohoCrm:AccountsServers:20"] = zoho.Value<string>("accountsServer")!,
                // OAuth installs from the setup page: the sandbox apps' ids, and its "us" accounts server as the default data centre.
                ["Hub:Connectors:ZohoCrm:AccountsServers:21"] = zoho.Value<string>("installAccountsServer")!,
                ["Hub:Connectors:ZohoCrm:DefaultAccountsServer"] = zoho.Value<string>("installAccountsServer")!,
                ["Hub:Connectors:HubSpot:ClientId"] = hubspot.Value<string>("clientId")!,
                ["Hub:Connectors:HubSpot:ClientSecret"] = hubspot.Value<string>("clientSecret")!,
                ["Hub:Connectors:HubSpot:AuthorizeUrl"] = hubspot.Value<string>("apiBaseUrl") + "/oauth/authorize",
                ["Hub:Connectors:Youzan:ClientId"] = youzan.Value<string>("clientId")!,
                ["Hub:Connectors:Youzan:ClientSecret"] = youzan.Value<string>("clientSecret")!,
                ["Hub:Connectors:ZohoCrm:ApiDomainSuffixes:20"] = zoho.Value<string>("baseUrl") + "/api/",
                ["Hub:Connectors:Fxiaoke:Hosts:20"] = fxiaoke.Value<string>("host")!,
                ["Hub:Demo:Youzan:Json"] = youzan.ToString(Newtonsoft.Json.Formatting.None),
                ["Hub:Demo:Tmall:Json"] = tmall.ToString(Newtonsoft.Json.Formatting.None),
                ["Hub:Demo:HubSpot:Json"] = hubspot.ToString(Newtonsoft.Json.Formatting.None),
                ["Hub:Demo:ZohoCrm:Json"] = zoho.ToString(Newtonsoft.Json.Formatting.None),
                ["Hub:Demo:Fxiaoke:Json"] = fxiaoke.ToString(Newtonsoft.Json.Formatting.None),
                ["Hub:Connectors:Shopify:AdminBaseUrl"] = shopify.Value<string>("adminBaseUrl")!,
                ["Hub:Connectors:Shopify:ClientId"] = shopify.Value<string>("clientId")!,
                ["Hub:Connectors:Shopify:ClientSecret"] = shopify.Value<string>("clientSecret")!,
                ["Hub:Demo:Tenant"] = tenant,
                ["Hub:Demo:Shopify:Shop"] = shopify.Value<string>("shop")!,
                ["Hub:Demo:Shopify:AccessToken"] = shopify.Value<string>("accessToken")!,
                ["Hub:Demo:WooCommerce:StoreUrl"] = woo.Value<string>("storeUrl")!,
                ["Hub:Demo:WooCommerce:ConsumerKey"] = woo.Value<string>("consumerKey")!,
                ["Hub:Demo:WooCommerce:ConsumerSecret"] = woo.Value<string>("consumerSecret")!,
            };
            // Keep draining its output so the child never blocks on a full pipe.
            _ = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
            _ = process.StandardError.ReadToEndAsync(CancellationToken.None);
            return new SandboxLauncher(process, settings);
        }
        catch
        {
            process.Kill(entireProcessTree: true);
            process.Dispose();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }
}

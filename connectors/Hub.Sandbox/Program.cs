using Hub.Sandbox.Common;
using Hub.Sandbox.Fxiaoke;
using Hub.Sandbox.HubSpot;
using Hub.Sandbox.Shopify;
using Hub.Sandbox.Tmall;
using Hub.Sandbox.WooCommerce;
using Hub.Sandbox.Youzan;
using Hub.Sandbox.ZohoCrm;
using Newtonsoft.Json.Linq;

// Runs the sandbox platforms as processes for the local demo, seeded with a demo shop and store, and prints
// how to connect to them as one JSON line. Ctrl+C stops them.
var port = args.SkipWhile(a => a != "--port").Skip(1).Select(int.Parse).FirstOrDefault(7180);
var orders = args.SkipWhile(a => a != "--orders").Skip(1).Select(int.Parse).FirstOrDefault(400);
var people = SandboxPeople.Generate(300);
await using var shopify = new ShopifySandbox();
var shop = shopify.AddShop("demo-shop.myshopify.com");
shop.Seed(people, customers: 150, orders: orders);
await shopify.StartAsync(port);
await using var woo = new WooCommerceSandbox();
var store = woo.AddStore("demo");
store.Seed(people.Skip(100).ToList(), customers: 120, orders: orders);
await woo.StartAsync(port + 1);
await using var youzan = new YouzanSandbox();
youzan.Seed(people.Skip(50).ToList(), customers: 100, orders: orders);
await youzan.StartAsync(port + 2);
await using var tmall = new TmallSandbox();
tmall.Seed(people.Skip(150).ToList(), trades: orders);
await tmall.StartAsync(port + 3);
await using var hubspot = new HubSpotSandbox(null, seedProperties: true);
await hubspot.StartAsync(port + 4);
await using var zoho = new ZohoCrmSandbox();
await zoho.StartAsync(port + 5);
var (zohoAccess, zohoRefresh) = zoho.IssueTokens(zoho.UserDataCentre);
await using var fxiaoke = new FxiaokeSandbox();
await fxiaoke.StartAsync(port + 6);
Console.WriteLine(new JObject
{
    ["shopify"] = new JObject { ["adminBaseUrl"] = shopify.AdminBaseUrlTemplate, ["shop"] = shop.Domain, ["accessToken"] = shop.AccessToken, ["clientId"] = shopify.ClientId, ["clientSecret"] = shopify.ClientSecret },
    ["woocommerce"] = new JObject { ["storeUrl"] = woo.SiteUrl("demo"), ["consumerKey"] = store.ConsumerKey, ["consumerSecret"] = store.ConsumerSecret },
    ["youzan"] = new JObject { ["apiBaseUrl"] = youzan.BaseUrl, ["kdtId"] = youzan.KdtId, ["clientId"] = youzan.ClientId, ["clientSecret"] = youzan.ClientSecret },
    ["tmall"] = new JObject { ["gatewayUrl"] = tmall.BaseUrl, ["appKey"] = tmall.AppKey, ["appSecret"] = tmall.AppSecret, ["session"] = tmall.Session },
    ["hubspot"] = new JObject { ["apiBaseUrl"] = hubspot.BaseUrl, ["accessToken"] = hubspot.PrivateAppToken, ["clientId"] = hubspot.ClientId, ["clientSecret"] = hubspot.ClientSecret },
    ["zoho"] = new JObject
    {
        ["accountsServer"] = zoho.AccountsServer(zoho.UserDataCentre), ["installAccountsServer"] = zoho.AccountsServer("us"), ["apiDomain"] = zoho.ApiDomain(zoho.UserDataCentre), ["baseUrl"] = zoho.BaseUrl,
        ["clientId"] = zoho.ClientId, ["clientSecret"] = zoho.ClientSecret, ["accessToken"] = zohoAccess, ["refreshToken"] = zohoRefresh,
    },
    ["fxiaoke"] = new JObject { ["host"] = fxiaoke.BaseUrl, ["appId"] = fxiaoke.AppId, ["appSecret"] = fxiaoke.AppSecret, ["permanentCode"] = fxiaoke.PermanentCode, ["currentOpenUserId"] = fxiaoke.AdminOpenUserId },
}.ToString(Newtonsoft.Json.Formatting.None));
var done = new TaskCompletionSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; done.TrySetResult(); };
AppDomain.CurrentDomain.ProcessExit += (_, _) => done.TrySetResult();
if (int.TryParse(Environment.GetEnvironmentVariable("HUB_PARENT_PID"), out var parent))
{
    // Started by the local host: stop when it is gone, however it died.
    _ = Task.Run(async () =>
    {
        while (!done.Task.IsCompleted)
        {
            try
            {
                using var p = System.Diagnostics.Process.GetProcessById(parent);
                if (p.HasExited)
                {
                    break;
                }
            }
            catch (ArgumentException)
            {
                break;
            }

            await Task.Delay(1000);
        }

        done.TrySetResult();
    });
}

await done.Task;

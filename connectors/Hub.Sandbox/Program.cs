using Hub.Sandbox.Common;
using Hub.Sandbox.Shopify;
using Hub.Sandbox.WooCommerce;
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
Console.WriteLine(new JObject
{
    ["shopify"] = new JObject { ["adminBaseUrl"] = shopify.AdminBaseUrlTemplate, ["shop"] = shop.Domain, ["accessToken"] = shop.AccessToken, ["clientId"] = shopify.ClientId, ["clientSecret"] = shopify.ClientSecret },
    ["woocommerce"] = new JObject { ["storeUrl"] = woo.SiteUrl("demo"), ["consumerKey"] = store.ConsumerKey, ["consumerSecret"] = store.ConsumerSecret },
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

using System.Net;
using Hub.Functions.State;
using Hub.Testing;
using Microsoft.Playwright;
using Newtonsoft.Json.Linq;
using Xunit;
using Xunit.Abstractions;

namespace Hub.LocalHost.Tests;

/// <summary>
/// The setup page in a real browser: Debian's chromium, headless, driven by Playwright, against the local host,
/// the handler, Azurite and the Shopify, Youzan and Zoho sandboxes. A merchant signs in with a tenant token, sees the
/// dashboard and the connections, starts a full re-sync and watches it reach 100%, finds a record Zoho rejected with
/// Zoho's own message, replays it after the fix, and a second tenant sees none of it. Screenshots of the main pages
/// are saved under artifacts/screenshots.
/// </summary>
[Collection(AzuriteFixture.Collection)]
public sealed class SetupPageTests(ITestOutputHelper output)
{
    public const string Chromium = "/usr/bin/chromium";

    private static string Screenshots => Path.Combine(AzuriteLauncher.FindRepositoryRoot()!, "artifacts", "screenshots");

    private static async Task<IBrowser> LaunchAsync(IPlaywright playwright)
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: ./hub test installs Debian's chromium (apt-get install chromium).");
        return await playwright.Chromium.LaunchAsync(new() { ExecutablePath = Chromium, Headless = true, Args = ["--no-sandbox"] });
    }

    private static async Task<string> IssueTokenAsync(E2E e2e, string tenant)
    {
        using var response = await e2e.Http.PostAsync($"api/tokens?tenant={tenant}&label=browser-test", null);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return JObject.Parse(await response.Content.ReadAsStringAsync()).Value<string>("token")!;
    }

    private static async Task SignInAsync(IPage page, Uri setup, string tenant, string token)
    {
        await page.GotoAsync(setup.ToString());
        // By id: the labels are in the browser's language.
        await page.Locator("#tenant").FillAsync(tenant);
        await page.Locator("#token").FillAsync(token);
        await page.Locator("#signin-form button[type=submit]").ClickAsync();
    }

    [Fact]
    public async Task Merchant_SignsIn_WatchesAFullSyncReach100_ReplaysARejectedRecord_AndAnotherTenantSeesNothing()
    {
        await using var scenario = await PipelineScenario.StartAsync(people: 60, shopifyOrders: 90, youzanOrders: 60, days: 25);
        var tenant = E2E.NewTenant();
        var settings = PipelineEndToEndTests.Settings(scenario, tenant);
        await using var e2e = await E2E.StartAsync(settings: settings, tenant: tenant);
        // Zoho refuses "New" as a Lifecycle_Stage until the merchant adds it back: those contacts land in Failures.
        var lifecycle = (JArray)scenario.Zoho.Fields["Lifecycle_Stage"]["pick_list_values"]!;
        var removed = lifecycle.First(v => v.Value<string>("actual_value") == "New");
        removed.Remove();
        var push = new PushStore(e2e.Tables);
        await e2e.EventuallyAsync(async () => (await push.FailuresAsync(tenant, "demo-zoho", "open", 1000, default)).Count, n => n > 0, "a rejected record", seconds: 120);

        var token = await IssueTokenAsync(e2e, tenant);
        var otherTenant = E2E.NewTenant();
        var otherToken = await IssueTokenAsync(e2e, otherTenant);
        var setup = new Uri(e2e.Host.BaseAddress, "api/setup");
        Directory.CreateDirectory(Screenshots);

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await LaunchAsync(playwright);
        var context = await browser.NewContextAsync(new() { Locale = "en-US", ViewportSize = new() { Width = 1280, Height = 900 } });
        var page = await context.NewPageAsync();
        page.Console += (_, message) => output.WriteLine($"console {message.Type}: {message.Text}");
        page.PageError += (_, error) => output.WriteLine($"page error: {error}");
        var headers = (await page.GotoAsync(setup.ToString()))!.Headers;
        Assert.Contains("script-src 'self'", headers["content-security-policy"], StringComparison.Ordinal);
        Assert.Equal("nosniff", headers["x-content-type-options"]);

        // Sign in; the dashboard draws the profiles by segment.
        await Assertions.Expect(page.GetByLabel("Access token")).ToBeEditableAsync(); // labelled fields
        await SignInAsync(page, setup, tenant, token);
        await Assertions.Expect(page.Locator("#who")).ToContainTextAsync(tenant);
        await Assertions.Expect(page.Locator("#chart-lifecycle svg")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("#profile-total")).ToContainTextAsync("customer profiles");
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "dashboard.png"), FullPage = true });

        // Connections: the three sandbox connections; a full re-sync of the Shopify store runs to 100%.
        await page.GetByRole(AriaRole.Button, new() { Name = "Connections" }).ClickAsync();
        var shopify = page.Locator("tr[data-connection=demo-shopify]");
        await Assertions.Expect(page.Locator("tr[data-connection=demo-zoho]")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("tr[data-connection=demo-zoho]")).ToContainTextAsync(new System.Text.RegularExpressions.Regex("[1-9][0-9]* failing")); // Zoho's open rejections
        await Assertions.Expect(page.Locator("tr[data-connection=demo-youzan]")).ToBeVisibleAsync();
        await Assertions.Expect(shopify.Locator("progress")).ToHaveAttributeAsync("data-progress", "100", new() { Timeout = 120_000 });
        var manualBefore = (await e2e.Runs.RecentAsync(tenant, 200, default)).Count(r => r.Trigger == "manual");
        await shopify.Locator("button[data-action=fullSync]").ClickAsync();
        await e2e.EventuallyAsync(async () => (await e2e.Runs.RecentAsync(tenant, 200, default)).Where(r => r.Trigger == "manual").ToList(), runs => runs.Count > manualBefore && runs.All(r => r.Status == RunStatus.Succeeded), "the full re-sync to finish", seconds: 120);
        await Assertions.Expect(shopify.Locator("progress")).ToHaveAttributeAsync("data-progress", "100", new() { Timeout = 30_000 });
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "connections.png"), FullPage = true });
        await page.GetByRole(AriaRole.Button, new() { Name = "Sync history" }).ClickAsync();
        await Assertions.Expect(page.Locator("#run-rows")).ToContainTextAsync("manual");

        // Failures: Zoho's own message, the payload with contact data masked; replay one after the fix.
        await page.GetByRole(AriaRole.Button, new() { Name = "Failures" }).ClickAsync();
        var first = page.Locator("#failure-list li[data-profile]").First;
        await Assertions.Expect(first.Locator(".message")).ToContainTextAsync("Lifecycle_Stage");
        var profile = await first.GetAttributeAsync("data-profile");
        var html = await page.ContentAsync();
        Assert.DoesNotContain(token, html, StringComparison.Ordinal);
        Assert.Contains("***@shoppers.example", html, StringComparison.Ordinal);
        Assert.DoesNotMatch(@"[\w.+-]{2,}@shoppers\.example", html); // emails only ever masked
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "failures.png"), FullPage = true });
        lifecycle.Add(removed);
        await first.Locator("button[data-action=replay]").ClickAsync();
        await Assertions.Expect(page.Locator("#failure-note")).ToContainTextAsync("back in the outbox");
        await e2e.EventuallyAsync(
            () => Task.FromResult(scenario.Zoho.Contacts.Any(c => c.Value<string>("Hub_Profile_Id") == profile && c.Value<string>("Lifecycle_Stage") == "New")),
            done => done,
            "the replayed record to reach Zoho");
        await Assertions.Expect(page.Locator($"#failure-list li[data-profile='{profile}']")).ToHaveCountAsync(0, new() { Timeout = 30_000 });

        // Connect a store with the key form: a wrong token is refused in Shopify's words and nothing is stored; the
        // right one is tested, saved encrypted, and never shown again.
        await page.GetByRole(AriaRole.Button, new() { Name = "Connections" }).ClickAsync();
        await page.Locator("#connect-connector").SelectOptionAsync("shopify");
        await page.Locator("#method-key").CheckAsync(); // a custom app's token, not the OAuth install (MappingAndOAuthTests)
        await page.GetByLabel("Connection id").FillAsync("second-shop");
        await page.GetByLabel("Shop domain (name.myshopify.com)").FillAsync(scenario.Shop.Domain);
        await page.GetByLabel("Access token", new() { Exact = true }).Last.FillAsync("shpat_wrong");
        await page.GetByRole(AriaRole.Button, new() { Name = "Test and save" }).ClickAsync();
        await Assertions.Expect(page.Locator("#connect-error")).ToContainTextAsync("second-shop: ");
        output.WriteLine("refusal shown: " + await page.Locator("#connect-error").TextContentAsync());
        Assert.Null(await e2e.Connections.GetAsync(tenant, "second-shop", default));
        await page.GetByLabel("Access token", new() { Exact = true }).Last.FillAsync(scenario.Shop.AccessToken);
        await page.GetByRole(AriaRole.Button, new() { Name = "Test and save" }).ClickAsync();
        await Assertions.Expect(page.Locator("tr[data-connection=second-shop]")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("#connect-error")).ToBeEmptyAsync();
        var saved = (await e2e.Connections.GetAsync(tenant, "second-shop", default))!;
        Assert.DoesNotContain(scenario.Shop.AccessToken, saved.SecretsRef ?? "", StringComparison.Ordinal);
        Assert.DoesNotContain(scenario.Shop.AccessToken, await e2e.Http.GetStringAsync($"api/connections?tenant={tenant}"), StringComparison.Ordinal);
        Assert.DoesNotContain(scenario.Shop.AccessToken, await page.ContentAsync(), StringComparison.Ordinal);

        // Another tenant: its own token shows nothing of this tenant, and cannot open this tenant at all.
        var other = await (await browser.NewContextAsync(new() { Locale = "zh-CN" })).NewPageAsync();
        await SignInAsync(other, setup, otherTenant, otherToken);
        await Assertions.Expect(other.Locator("#who")).ToContainTextAsync(otherTenant);
        await Assertions.Expect(other.Locator("#connections-h")).ToHaveTextAsync("连接"); // Chinese for a zh-CN browser
        await other.Locator("[data-tab=connections]").ClickAsync();
        await Assertions.Expect(other.Locator("#connection-rows tr")).ToHaveCountAsync(0);
        await other.Locator("[data-tab=failures]").ClickAsync();
        await Assertions.Expect(other.Locator("#failure-list")).ToContainTextAsync("没有未解决的失败记录");
        await other.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "other-tenant-zh.png"), FullPage = true });
        await other.Locator("#signout").ClickAsync();
        await SignInAsync(other, setup, tenant, otherToken);
        await Assertions.Expect(other.Locator("#signin-error")).ToContainTextAsync("登录失败"); // refused: 403, the token is another tenant's
        await Assertions.Expect(other.Locator("#signin-error")).ToContainTextAsync("another tenant");

        // The same refusal at the API, for every route the page uses.
        using var probe = new HttpClient { BaseAddress = e2e.Host.BaseAddress };
        probe.DefaultRequestHeaders.Authorization = new("Bearer", otherToken);
        foreach (var path in new[] { "api/connections", "api/runs", "api/profiles", "api/failures", "api/compliance" })
        {
            using var response = await probe.GetAsync($"{path}?tenant={tenant}");
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        }

        using (var replay = await probe.PostAsync($"api/failures/replay?tenant={tenant}", null))
        {
            Assert.Equal(HttpStatusCode.Forbidden, replay.StatusCode);
        }

        using (var pause = await probe.PostAsync($"api/connections/demo-shopify/pause?tenant={tenant}", null))
        {
            Assert.Equal(HttpStatusCode.Forbidden, pause.StatusCode);
        }

        using (var tokens = await probe.PostAsync($"api/tokens?tenant={otherTenant}", null))
        {
            Assert.Equal(HttpStatusCode.Forbidden, tokens.StatusCode); // tenant tokens cannot issue tokens
        }

        probe.DefaultRequestHeaders.Authorization = null;
        using (var anonymous = await probe.GetAsync($"api/connections?tenant={tenant}"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
            Assert.Equal("application/problem+json", anonymous.Content.Headers.ContentType?.MediaType);
        }

        Assert.Equal(ConnectionStatus.Active, (await e2e.Connections.GetAsync(tenant, "demo-shopify", default))!.Status);
        output.WriteLine($"screenshots in {Screenshots}");
    }
}

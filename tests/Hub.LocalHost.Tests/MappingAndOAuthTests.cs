using System.Net;
using System.Text;
using Hub.Testing;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Playwright;
using Newtonsoft.Json.Linq;
using Xunit;
using Xunit.Abstractions;

namespace Hub.LocalHost.Tests;

/// <summary>
/// The integrator's half of the setup page, in Debian's chromium against the local host, the handler, Azurite and the
/// sandboxes: connect a Shopify store and a Zoho CRM through their OAuth flows (the sandboxes' consent screens approve
/// at once and redirect like the platforms), edit a mapping and watch the live preview change, fail to save an invalid
/// one, save, roll back, dry-run; then the same APIs over HTTP: Youzan and HubSpot installs, forged and replayed
/// callbacks, export/import, and another tenant refused everywhere.
/// </summary>
[Collection(AzuriteFixture.Collection)]
public sealed class MappingAndOAuthTests(ITestOutputHelper output)
{
    private static string Screenshots => Path.Combine(AzuriteLauncher.FindRepositoryRoot()!, "artifacts", "screenshots");

    [Fact]
    public async Task Integrator_ConnectsShopifyAndZohoThroughOAuth_EditsAMappingWithLivePreview_SavesRollsBackAndDryRuns()
    {
        await using var scenario = await PipelineScenario.StartAsync(people: 30, shopifyOrders: 40, youzanOrders: 20, days: 20, allCrms: true);
        var tenant = E2E.NewTenant();
        await using var e2e = await E2E.StartAsync(settings: PipelineEndToEndTests.Settings(scenario, tenant), tenant: tenant);
        using var tokenAnswer = await e2e.Http.PostAsync($"api/tokens?tenant={tenant}&label=integrator", null);
        var token = JObject.Parse(await tokenAnswer.Content.ReadAsStringAsync()).Value<string>("token")!;
        var setup = new Uri(e2e.Host.BaseAddress, "api/setup");
        Directory.CreateDirectory(Screenshots);

        using var playwright = await Playwright.CreateAsync();
        Assert.True(File.Exists(SetupPageTests.Chromium), "./hub test installs Debian's chromium");
        await using var browser = await playwright.Chromium.LaunchAsync(new() { ExecutablePath = SetupPageTests.Chromium, Headless = true, Args = ["--no-sandbox"] });
        var context = await browser.NewContextAsync(new() { Locale = "en-US", ViewportSize = new() { Width = 1280, Height = 1000 } });
        var page = await context.NewPageAsync();
        page.PageError += (_, error) => output.WriteLine($"page error: {error}");
        var callbacks = new List<string>();
        page.Request += (_, request) =>
        {
            if (request.Url.Contains("/api/oauth/", StringComparison.Ordinal) && request.Url.Contains("/callback", StringComparison.Ordinal))
            {
                callbacks.Add(request.Url);
            }
        };
        await page.GotoAsync(setup.ToString());
        await page.Locator("#tenant").FillAsync(tenant);
        await page.Locator("#token").FillAsync(token);
        await page.Locator("#signin-form button[type=submit]").ClickAsync();
        await Assertions.Expect(page.Locator("#who")).ToContainTextAsync(tenant);

        // Shopify through OAuth: the shop domain, Shopify's consent, the callback (HMAC, state, browser binding), back here.
        await page.Locator("[data-tab=connections]").ClickAsync();
        await page.Locator("#connect-connector").SelectOptionAsync("shopify");
        await Assertions.Expect(page.Locator("#connect-method")).ToBeVisibleAsync();
        await page.GetByLabel("Connection id").FillAsync("oauth-shop");
        await page.GetByLabel("Shop domain (name.myshopify.com)").FillAsync("https://" + scenario.Shop.Domain + "/");
        await Assertions.Expect(page.Locator("#connect-callback")).ToContainTextAsync("/api/oauth/shopify/callback");
        await page.GetByRole(AriaRole.Button, new() { Name = "Continue to Shopify" }).ClickAsync();
        await Assertions.Expect(page.Locator("#oauth-note")).ToContainTextAsync("oauth-shop connected through OAuth", new() { Timeout = 30_000 });
        await Assertions.Expect(page.Locator("tr[data-connection=oauth-shop]")).ToBeVisibleAsync();
        Assert.DoesNotContain("connected=", page.Url, StringComparison.Ordinal); // the outcome is dropped from the address bar
        var shop = (await e2e.Connections.GetAsync(tenant, "oauth-shop", default))!;
        Assert.Equal(scenario.Shop.Domain, JObject.Parse(shop.SettingsJson!).Value<string>("shop"));
        Assert.DoesNotContain("shpat_", shop.SecretsRef ?? "", StringComparison.Ordinal); // encrypted at rest
        Assert.DoesNotContain("shpat_", await e2e.Http.GetStringAsync($"api/connections?tenant={tenant}"), StringComparison.Ordinal);
        Assert.Contains(scenario.Shopify.Requests, r => r.Path.EndsWith("/admin/oauth/access_token", StringComparison.Ordinal));

        // Zoho through OAuth: the install starts at the chosen data centre; the org lives in another one (eu), whose
        // accounts server the callback names; the tokens are exchanged there and the API domain kept.
        await page.Locator("#connect-connector").SelectOptionAsync("zoho-crm");
        await Assertions.Expect(page.Locator("#connect-method")).ToBeHiddenAsync(); // Zoho connects only with OAuth
        await page.GetByLabel("Connection id").FillAsync("oauth-zoho");
        await page.GetByLabel("Data centre (accounts server)").SelectOptionAsync(scenario.Zoho.AccountsServer("us"));
        await page.GetByRole(AriaRole.Button, new() { Name = "Continue to Zoho CRM" }).ClickAsync();
        await Assertions.Expect(page.Locator("#oauth-note")).ToContainTextAsync("oauth-zoho connected through OAuth", new() { Timeout = 30_000 });
        var zoho = (await e2e.Connections.GetAsync(tenant, "oauth-zoho", default))!;
        Assert.Equal(scenario.Zoho.ApiDomain(scenario.Zoho.UserDataCentre), JObject.Parse(zoho.SettingsJson!).Value<string>("apiDomain"));
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "oauth-connected.png"), FullPage = true });

        // A callback works once: the same link again (even from this browser) and a forged state are refused, in words.
        Assert.Equal(2, callbacks.Count);
        await page.GotoAsync(callbacks[0]);
        await Assertions.Expect(page.Locator("#oauth-note")).ToContainTextAsync("already completed");
        await page.GotoAsync(new Uri(e2e.Host.BaseAddress, "api/oauth/shopify/callback?code=x&state=forged&shop=" + scenario.Shop.Domain).ToString());
        await Assertions.Expect(page.Locator("#oauth-note")).ToContainTextAsync("unknown or was already completed");

        // Mappings: the segment thresholds of segments.json, previewed on live Shopify orders.
        await page.Locator("[data-tab=mappings]").ClickAsync();
        await page.Locator("#mapping-store").SelectOptionAsync("demo-shopify");
        await page.Locator("#mapping-crm").SelectOptionAsync("demo-zoho");
        await page.Locator("#mapping-file").SelectOptionAsync("segments/segments.json");
        await Assertions.Expect(page.Locator("#preview-summary")).ToContainTextAsync("sample record(s) from demo-shopify", new() { Timeout = 30_000 });
        await Assertions.Expect(page.Locator("#preview-out")).ToContainTextAsync("lifecycle: new");
        await Assertions.Expect(page.Locator("#target-fields")).ToContainTextAsync("Lifecycle_Stage");
        await Assertions.Expect(page.Locator("#source-fields")).ToContainTextAsync("$.");
        var previewHtml = await page.Locator("#preview-out").InnerHTMLAsync();
        Assert.DoesNotMatch(@"[\w.+-]{2,}@shoppers\.example", previewHtml); // contact data masked in the preview too
        Assert.Matches("\"First_Order_Date\": \"\\d{4}-\\d{2}-\\d{2}", previewHtml); // dates are not phone numbers
        var newDays = page.Locator("input[data-lifecycle=new]");
        Assert.Equal("30", await newDays.InputValueAsync());
        await newDays.FillAsync("-1"); // nobody is "new" any more: the same customers become "active"
        await newDays.DispatchEventAsync("change");
        await Assertions.Expect(page.Locator("#preview-out")).Not.ToContainTextAsync("lifecycle: new", new() { Timeout = 15_000 });
        await Assertions.Expect(page.Locator("#preview-out")).ToContainTextAsync("lifecycle: active");
        Assert.Contains("-1", await page.Locator("#mapping-json").InputValueAsync(), StringComparison.Ordinal);
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "mapping-editor.png"), FullPage = true });

        // An invalid rule is reported with its file and JSON path and never activated.
        var valid = await page.Locator("#mapping-json").InputValueAsync();
        await page.Locator("#mapping-json").FillAsync(valid.Replace("\"$.metrics.daysSinceLastOrder\"", "\"$.metrics..[\"", StringComparison.Ordinal));
        await Assertions.Expect(page.Locator("#mapping-errors")).ToContainTextAsync("segments/segments.json: $.segments[0]", new() { Timeout = 15_000 });
        await page.GetByRole(AriaRole.Button, new() { Name = "Validate, save and activate" }).ClickAsync();
        await Assertions.Expect(page.Locator("#mapping-note-out")).ToContainTextAsync("Not saved");
        Assert.Equal(0, (await MappingsAsync(e2e, tenant)).Value<int>("active"));

        // The valid edit saves as version 1, active, and the pipeline runs with it.
        await page.Locator("#mapping-json").FillAsync(valid);
        await page.Locator("#mapping-note").FillAsync("no new customers");
        await page.GetByRole(AriaRole.Button, new() { Name = "Validate, save and activate" }).ClickAsync();
        await Assertions.Expect(page.Locator("#mapping-note-out")).ToContainTextAsync("Version 1 is active.");
        await Assertions.Expect(page.Locator("tr[data-version='1']")).ToContainTextAsync("v1 (active)");
        await Assertions.Expect(page.Locator("tr[data-version='1']")).ToContainTextAsync("integrator");
        Assert.Equal(1, (await MappingsAsync(e2e, tenant)).Value<int>("active"));
        await Assertions.Expect(page.Locator("#mapping-note-out")).ToContainTextAsync("Re-applying it to");
        // Re-applied to the stored profiles, not only to new records: nobody is "new" any more.
        await e2e.EventuallyAsync(async () => JObject.Parse(await e2e.Http.GetStringAsync($"api/profiles?tenant={tenant}"))["byLifecycle"]!, l => l["new"] is null && l["active"] is not null, "every stored profile re-segmented", seconds: 90);

        // Dry run against Zoho: what a sync would do, nothing written. First let the backfill's own pushes settle, so
        // any write during the dry run would be the dry run's.
        var settled = -1;
        await e2e.EventuallyAsync(async () =>
        {
            var before = scenario.Zoho.Requests.Count(r => r.Method is "POST" or "PUT");
            await Task.Delay(3000);
            settled = scenario.Zoho.Requests.Count(r => r.Method is "POST" or "PUT");
            return settled == before;
        }, quiet => quiet, "the backfill's pushes to end", seconds: 120);
        var zohoWrites = settled;
        await page.GetByRole(AriaRole.Button, new() { Name = "Dry run (writes nothing)" }).ClickAsync();
        await Assertions.Expect(page.Locator("#dryrun-out")).ToContainTextAsync("Contacts (targets/zoho-crm/contacts.json)");
        Assert.Equal(zohoWrites, scenario.Zoho.Requests.Count(r => r.Method is "POST" or "PUT"));

        // Roll back to the Hub's defaults.
        await page.Locator("tr[data-version='0'] button[data-action=rollback]").ClickAsync();
        await Assertions.Expect(page.Locator("#mapping-note-out")).ToContainTextAsync("Version 0 is active.");
        await Assertions.Expect(page.Locator("input[data-lifecycle=new]")).ToHaveValueAsync("30");
        await e2e.EventuallyAsync(async () => JObject.Parse(await e2e.Http.GetStringAsync($"api/profiles?tenant={tenant}"))["byLifecycle"]!, l => l["new"] is not null, "the defaults re-applied", seconds: 90);
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "mapping-versions.png"), FullPage = true });

        // The dashboard's RFM grid and new-vs-returning chart.
        await page.Locator("[data-tab=dashboard]").ClickAsync();
        await Assertions.Expect(page.Locator("#chart-rfm-grid table")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("#chart-new-returning svg")).ToBeVisibleAsync();
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "dashboard-charts.png"), FullPage = true });

        // On a phone: the same pages in one column, nothing wider than the screen (tables scroll inside their box).
        await page.SetViewportSizeAsync(390, 844);
        foreach (var tab in new[] { "dashboard", "connections", "mappings" })
        {
            await page.Locator($"[data-tab={tab}]").ClickAsync();
            await Assertions.Expect(page.Locator($"#{tab}")).ToBeVisibleAsync();
            var wide = await page.EvaluateAsync<string>("() => [...document.querySelectorAll('body *')].filter(e => e.offsetParent !== null && e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest('.table-wrap')).slice(0, 5).map(e => e.tagName + '#' + e.id + '.' + e.className).join(', ')");
            Assert.True(await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth"), $"{tab} is wider than a phone: {wide}");
        }

        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "mappings-phone.png"), FullPage = true });

        await ApisAsync(e2e, scenario, tenant, token);
    }

    private static async Task<JObject> MappingsAsync(E2E e2e, string tenant) =>
        JObject.Parse(await e2e.Http.GetStringAsync($"api/mappings?tenant={tenant}"));

    /// <summary>The same APIs over HTTP: other installs, the browser binding, export/import, validation and isolation.</summary>
    private async Task ApisAsync(E2E e2e, PipelineScenario scenario, string tenant, string token)
    {
        using var handler = new HttpClientHandler { AllowAutoRedirect = false, UseCookies = true, CookieContainer = new CookieContainer() };
        using var browser = new HttpClient(handler) { BaseAddress = e2e.Host.BaseAddress };
        browser.DefaultRequestHeaders.Authorization = new("Bearer", token);

        async Task<Uri> StartAsync(string connector, string id)
        {
            using var start = await browser.PostAsync($"api/oauth/{connector}/start?tenant={tenant}", Json(new JObject { ["id"] = id, ["account"] = connector == "shopify" ? scenario.Shop.Domain : "" }));
            Assert.True(start.StatusCode == HttpStatusCode.OK, await start.Content.ReadAsStringAsync());
            var authorize = new Uri(JObject.Parse(await start.Content.ReadAsStringAsync()).Value<string>("authorizeUrl")!);
            using var consent = await browser.GetAsync(authorize); // the platform approves and redirects to the callback
            Assert.Equal(HttpStatusCode.Redirect, consent.StatusCode);
            var callback = consent.Headers.Location!;
            Assert.StartsWith(new Uri(e2e.Host.BaseAddress, $"api/oauth/{connector}/callback").ToString(), callback.ToString(), StringComparison.Ordinal);
            return callback;
        }

        // Youzan and HubSpot installs: code exchanged, tokens tested, connection saved.
        foreach (var (connector, id) in new[] { ("youzan", "oauth-youzan"), ("hubspot", "oauth-hubspot") })
        {
            using var back = await browser.GetAsync(await StartAsync(connector, id));
            Assert.Equal(HttpStatusCode.Redirect, back.StatusCode);
            Assert.Equal($"/api/setup?connected={id}#connections", back.Headers.Location!.ToString());
            Assert.NotNull(await e2e.Connections.GetAsync(tenant, id, default));
        }

        // A callback opened in another browser (no binding cookie): refused, nothing stored. This is the OAuth CSRF
        // that would put someone else's shop into this tenant.
        var stolen = await StartAsync("shopify", "stolen-shop");
        using (var elsewhere = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false }))
        using (var refused = await elsewhere.GetAsync(stolen))
        {
            var location = refused.Headers.Location!.ToString();
            Assert.Contains("oauth_error=", location, StringComparison.Ordinal);
            Assert.Contains("another browser", Uri.UnescapeDataString(location), StringComparison.Ordinal);
        }

        Assert.Null(await e2e.Connections.GetAsync(tenant, "stolen-shop", default));

        // Starting needs the tenant's token; a platform without OAuth says so.
        using (var anonymous = await new HttpClient { BaseAddress = e2e.Host.BaseAddress }.PostAsync($"api/oauth/shopify/start?tenant={tenant}", Json(new JObject { ["id"] = "x" })))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        }

        using (var noOAuth = await browser.PostAsync($"api/oauth/woocommerce/start?tenant={tenant}", Json(new JObject { ["id"] = "x" })))
        {
            Assert.Equal(HttpStatusCode.NotFound, noOAuth.StatusCode);
        }

        using (var badShop = await browser.PostAsync($"api/oauth/shopify/start?tenant={tenant}", Json(new JObject { ["id"] = "x", ["account"] = "evil.example.com" })))
        {
            Assert.Equal(HttpStatusCode.BadRequest, badShop.StatusCode);
            Assert.Contains("not a Shopify shop domain", await badShop.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // Save over HTTP: an invalid rule gets 400 problem+json with every error's file and JSON path; nothing activates.
        var before = await MappingsAsync(e2e, tenant);
        using (var invalid = await browser.PostAsync($"api/mappings?tenant={tenant}", Json(new JObject { ["files"] = new JObject { ["targets/zoho-crm/contacts.json"] = "{ \"kind\": \"target\", " } })))
        {
            Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
            Assert.Equal("application/problem+json", invalid.Content.Headers.ContentType?.MediaType);
            var errors = (JArray)JObject.Parse(await invalid.Content.ReadAsStringAsync())["errors"]!;
            Assert.Contains(errors, e => e.Value<string>("file") == "targets/zoho-crm/contacts.json" && e.Value<string>("path")!.StartsWith('$'));
        }

        using (var unknown = await browser.PostAsync($"api/mappings?tenant={tenant}", Json(new JObject { ["files"] = new JObject { ["sources/nowhere/order.json"] = "{}" } })))
        {
            Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);
        }

        Assert.Equal(before.Value<int>("active"), (await MappingsAsync(e2e, tenant)).Value<int>("active"));

        // Export, change one file, import: a new version with exactly that file edited; a stale save is refused.
        var export = JObject.Parse(await browser.GetStringAsync($"api/mappings/export?tenant={tenant}"));
        var files = (JObject)export["files"]!;
        Assert.Contains("segments/segments.json", files.Properties().Select(p => p.Name));
        Assert.Contains("sources/shopify/order.json", files.Properties().Select(p => p.Name));
        files["targets/zoho-crm/contacts.json"]!["description"] = "imported from a file";
        using (var imported = await browser.PostAsync($"api/mappings/import?tenant={tenant}", Json(new JObject { ["files"] = files })))
        {
            Assert.Equal(HttpStatusCode.Created, imported.StatusCode);
            var answer = JObject.Parse(await imported.Content.ReadAsStringAsync());
            Assert.Equal(["targets/zoho-crm/contacts.json"], answer["files"]!.Values<string>());
        }

        var list = await MappingsAsync(e2e, tenant);
        Assert.Equal(2, list.Value<int>("active")); // after v1 from the page
        Assert.True(list["files"]!.First(f => f.Value<string>("file") == "targets/zoho-crm/contacts.json").Value<bool>("edited"));
        using (var stale = await browser.PostAsync($"api/mappings?tenant={tenant}", Json(new JObject { ["baseVersion"] = 1, ["files"] = new JObject { ["segments/segments.json"] = null } })))
        {
            Assert.Equal(HttpStatusCode.Conflict, stale.StatusCode);
        }

        // Target fields from the CRM, custom fields included.
        var fields = JObject.Parse(await browser.GetStringAsync($"api/connections/demo-zoho/fields?tenant={tenant}"));
        Assert.Contains(fields["fields"]!, f => f.Value<string>("apiName") == "Lifecycle_Stage" && f.Value<bool>("custom"));

        // Another tenant's token: 403 on every mapping and OAuth route of this tenant.
        using var otherAnswer = await e2e.Http.PostAsync($"api/tokens?tenant={E2E.NewTenant()}&label=other", null);
        using var other = new HttpClient { BaseAddress = e2e.Host.BaseAddress };
        other.DefaultRequestHeaders.Authorization = new("Bearer", JObject.Parse(await otherAnswer.Content.ReadAsStringAsync()).Value<string>("token"));
        foreach (var path in new[] { "api/mappings", "api/mappings/export", "api/mappings/file?file=segments/segments.json", "api/connections/demo-zoho/fields" })
        {
            using var response = await other.GetAsync(path + (path.Contains('?') ? "&" : "?") + $"tenant={tenant}");
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        }

        foreach (var path in new[] { "api/mappings", "api/mappings/preview", "api/mappings/rollback?version=0", "api/mappings/import", "api/oauth/shopify/start", "api/resegment" })
        {
            using var response = await other.PostAsync(path + (path.Contains('?') ? "&" : "?") + $"tenant={tenant}", Json(new JObject { ["files"] = new JObject() }));
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        }

        Assert.Equal(2, (await MappingsAsync(e2e, tenant)).Value<int>("active"));
        using (var reserved = await e2e.Http.PostAsync("api/resegment?tenant=_system", null))
        {
            Assert.Equal(HttpStatusCode.BadRequest, reserved.StatusCode); // the Hub's own partition is no tenant, even for the admin
        }

        output.WriteLine(QueryHelpers.ParseQuery(stolen.Query).ContainsKey("state") ? "callbacks carry state" : "");
    }

    private static StringContent Json(JObject body) => new(body.ToString(), Encoding.UTF8, "application/json");
}

using System.Diagnostics;
using System.Net;
using System.Text;
using Azure.Data.Tables;
using Hub.Functions.State;
using Hub.Sandbox.Shopify;
using Hub.Testing;
using Newtonsoft.Json.Linq;
using Xunit;
using Xunit.Abstractions;

namespace Hub.LocalHost.Tests;

/// <summary>
/// The sync end to end over real processes: the local host, the handler it starts, Azurite, and the Shopify, Youzan
/// and Zoho sandboxes on real sockets. Two stores with overlapping customers and 10,000 orders end as one Zoho contact
/// per real person with correct metrics; a second full sync writes nothing to Zoho; a webhook updates one contact in
/// seconds; duplicate, out-of-order,
/// forged, malformed, oversized and misaddressed deliveries do what they should and nothing else.
/// </summary>
[Collection(AzuriteFixture.Collection)]
public sealed class PipelineEndToEndTests(ITestOutputHelper output)
{
    private static Dictionary<string, string> Settings(PipelineScenario scenario, string tenant, Dictionary<string, string>? more = null)
    {
        var settings = scenario.Settings.ToDictionary(p => p.Key.Replace(":", "__", StringComparison.Ordinal), p => p.Value, StringComparer.OrdinalIgnoreCase);
        // The handler connects the tenant to the three sandboxes itself (DemoConnections), secrets encrypted.
        settings["Hub__Demo__Tenant"] = tenant;
        settings["Hub__Demo__Shopify__Shop"] = scenario.Shop.Domain;
        settings["Hub__Demo__Shopify__AccessToken"] = scenario.Shop.AccessToken;
        settings["Hub__Demo__Youzan__Json"] = new JObject { ["kdtId"] = scenario.Youzan.KdtId, ["clientId"] = scenario.Youzan.ClientId, ["clientSecret"] = scenario.Youzan.ClientSecret }.ToString(Newtonsoft.Json.Formatting.None);
        settings["Hub__Demo__ZohoCrm__Json"] = new JObject
        {
            ["accountsServer"] = scenario.Zoho.AccountsServer(scenario.Zoho.UserDataCentre),
            ["apiDomain"] = scenario.Zoho.ApiDomain(scenario.Zoho.UserDataCentre),
            ["accessToken"] = scenario.ZohoTokens.Access,
            ["refreshToken"] = scenario.ZohoTokens.Refresh,
        }.ToString(Newtonsoft.Json.Formatting.None);
        settings["Hub__Sync__DefaultLookback"] = $"{scenario.Days + 32}.00:00:00"; // the oldest seeded customer is Days + 30 days old
        settings["Hub__Connectors__Http__AttemptTimeout"] = "00:00:03";
        foreach (var (k, v) in more ?? [])
        {
            settings[k] = v;
        }

        return settings;
    }

    private static int ZohoWrites(PipelineScenario s) =>
        s.Zoho.Requests.Count(r => (r.Method == "POST" && (r.Path.EndsWith("/upsert", StringComparison.Ordinal) || r.Path.Contains("/actions/", StringComparison.Ordinal))) || r.Method == "PUT");

    /// <summary>Record writes only (upserts, and updates of records bound by id), not tag calls.</summary>
    private static int ZohoRecordWrites(PipelineScenario s) =>
        s.Zoho.Requests.Count(r => r.Path.EndsWith("/upsert", StringComparison.Ordinal) || r.Method == "PUT");

    /// <summary>Empty when the Zoho sandbox holds exactly one contact per real person with the right order count; else what is wrong.</summary>
    private static string Mismatch(PipelineScenario scenario, IReadOnlySet<string>? exceptProfiles = null)
    {
        var expected = scenario.ExpectedOrderCounts();
        var contacts = scenario.Zoho.Contacts;
        var byPerson = contacts.GroupBy(PipelineScenario.PersonOf).ToDictionary(g => g.Key, g => g.ToList());
        if (byPerson.ContainsKey(-1))
        {
            return "a contact that is nobody";
        }

        if (byPerson.FirstOrDefault(p => p.Value.Count > 1) is { Value: not null } twice)
        {
            return $"person {twice.Key} has {twice.Value.Count} contacts";
        }

        var missing = expected.Keys.Where(k => !byPerson.ContainsKey(k)).ToList();
        if (missing.Count > 0)
        {
            return $"{missing.Count} of {expected.Count} people have no contact yet";
        }

        foreach (var (person, count) in expected)
        {
            var contact = byPerson[person][0];
            if (exceptProfiles?.Contains(contact.Value<string>("Hub_Profile_Id") ?? "") == true)
            {
                continue;
            }

            if (contact.Value<int?>("Order_Count") != count)
            {
                return $"person {person}: {count} orders, contact says {contact["Order_Count"]}";
            }
        }

        return contacts.Count == expected.Count ? "" : $"{contacts.Count} contacts for {expected.Count} people";
    }

    private static async Task<JObject> PostAsync(E2E e2e, string path)
    {
        using var response = await e2e.Http.PostAsync(path, null);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{path}: {(int)response.StatusCode} {text}");
        return JObject.Parse(text);
    }

    private static async Task<List<RunEntity>> RunsAsync(E2E e2e) => [.. await e2e.Runs.RecentAsync(e2e.Tenant, 1000, default)];

    private static async Task<int> CountAsync(E2E e2e, string table)
    {
        var client = await e2e.Tables.GetAsync(table, default);
        var n = 0;
        await foreach (var _ in client.QueryAsync<TableEntity>(r => r.PartitionKey == e2e.Tenant, select: ["RowKey"]))
        {
            n++;
        }

        return n;
    }

    /// <summary>On failure: what the Hub knows about the people who have more than one contact.</summary>
    private async Task DiagnoseAsync(E2E e2e, PipelineScenario scenario)
    {
        var profiles = await e2e.Tables.GetAsync(HubTables.Profiles, default);
        var ledger = await e2e.Tables.GetAsync(HubTables.Ledger, default);
        foreach (var group in scenario.Zoho.Contacts.GroupBy(PipelineScenario.PersonOf).Where(g => g.Count() > 1).Take(3))
        {
            output.WriteLine($"person {group.Key}:");
            foreach (var contact in group)
            {
                var id = contact.Value<string>("Hub_Profile_Id") ?? "";
                var row = await profiles.GetEntityIfExistsAsync<TableEntity>(e2e.Tenant, id);
                var bound = await ledger.GetEntityIfExistsAsync<TableEntity>(e2e.Tenant, $"demo-zoho|Contacts|{id}");
                output.WriteLine($"  contact {contact["id"]} email {contact["Email"]} mobile {contact["Mobile"]} profile {id}: " +
                    (row.HasValue ? $"merged-into {row.Value!.GetString("MergedInto")} from {row.Value.GetString("MergedFrom")} records {row.Value.GetInt32("RecordCount")}" : "no profile row") +
                    $"; ledger {(bound.HasValue ? bound.Value!.GetString("CrmId") + " " + bound.Value.GetString("Action") : "none")}");
            }
        }
    }

    [Fact]
    public async Task TenThousandOrders_TwoStores_OneContactPerPerson_SecondSyncWritesNothing_WebhookUpdatesOneContact()
    {
        await using var scenario = await PipelineScenario.StartAsync(people: 3000, shopifyOrders: 6000, youzanOrders: 4000, days: 25);
        var tenant = E2E.NewTenant();
        await using var e2e = await E2E.StartAsync(settings: Settings(scenario, tenant), tenant: tenant);
        var clock = Stopwatch.StartNew();

        try
        {
            await e2e.EventuallyAsync(() => Task.FromResult(Mismatch(scenario)), m => m.Length == 0, "one Zoho contact per person with correct metrics", seconds: 600);
        }
        catch (TimeoutException)
        {
            await DiagnoseAsync(e2e, scenario);
            throw;
        }

        output.WriteLine($"backfill of 10,000 orders: {clock.Elapsed.TotalSeconds:F0} s to the last contact; {scenario.Zoho.Contacts.Count} contacts, {ZohoWrites(scenario)} Zoho write calls");
        var upserts = scenario.Zoho.Requests.Count(r => r.Path.EndsWith("/upsert", StringComparison.Ordinal));
        Assert.True(upserts * 100 >= scenario.Zoho.Contacts.Count, "at most 100 records per upsert");

        // A second, full sync of both stores: every record is read again, nothing has changed, nothing is written.
        await e2e.EventuallyAsync(async () => (await RunsAsync(e2e)).Count(r => r.Kind == "pull" && !RunStatus.IsFinished(r.Status)), n => n == 0, "the backfill runs to finish");
        var writes = ZohoWrites(scenario);
        var recordWrites = ZohoRecordWrites(scenario);
        var contactsBefore = scenario.Zoho.Contacts.Count;
        var shopifyReads = scenario.Shopify.Requests.Count;
        await PostAsync(e2e, $"api/sync?tenant={tenant}&connection=demo-shopify&full=true");
        await PostAsync(e2e, $"api/sync?tenant={tenant}&connection=demo-youzan&full=true");
        await e2e.EventuallyAsync(
            async () => (await RunsAsync(e2e)).Where(r => r.Trigger == "manual").ToList(),
            runs => runs.Count == 4 && runs.All(r => r.Status == RunStatus.Succeeded),
            "the manual full re-read to finish",
            seconds: 300);
        await Task.Delay(TimeSpan.FromSeconds(5)); // anything it set off would reach Zoho in this time
        Assert.True(scenario.Shopify.Requests.Count > shopifyReads);
        Assert.Equal(writes, ZohoWrites(scenario));

        // One order refunded on Shopify: its webhook updates that buyer's contact, and nothing else.
        var order = scenario.Shop.Orders.First(o => o.CustomerId is null && o.FinancialStatus == "paid" && o.CancelledAt is null);
        var person = PipelineScenario.IndexOfEmail(order.Email!);
        var before = scenario.ExpectedOrderCounts()[person];
        order.FinancialStatus = "refunded";
        order.Refunded = order.Lines.Sum(l => l.Price * l.Quantity);
        order.UpdatedAt = DateTimeOffset.UtcNow;
        var target = new Uri(e2e.Host.BaseAddress, $"api/webhooks/{tenant}/demo-shopify");
        var sent = Stopwatch.StartNew();
        var status = await scenario.Shopify.DeliverWebhookAsync(target, scenario.Shop.Domain, "orders/updated", ShopifySandbox.RestOrder(scenario.Shop, order));
        Assert.Equal(200, status);
        await e2e.EventuallyAsync(
            () => Task.FromResult(scenario.Zoho.Contacts.Single(c => PipelineScenario.PersonOf(c) == person).Value<int>("Order_Count")),
            n => n == before - 1,
            "the webhook's order to reach the contact",
            seconds: 30);
        output.WriteLine($"webhook to CRM: {sent.ElapsedMilliseconds} ms");
        Assert.Equal(recordWrites + 1, ZohoRecordWrites(scenario)); // one call, for that contact
        Assert.Equal(contactsBefore, scenario.Zoho.Contacts.Count);
        Assert.Equal("", Mismatch(scenario));
    }

    [Fact]
    public async Task Webhooks_DuplicatesAndOutOfOrder_AppliedOnce_NewestWins_BadInputWritesNothing()
    {
        await using var scenario = await PipelineScenario.StartAsync(people: 90, shopifyOrders: 120, youzanOrders: 60, days: 25);
        var tenant = E2E.NewTenant();
        await using var e2e = await E2E.StartAsync(settings: Settings(scenario, tenant), tenant: tenant);
        await e2e.EventuallyAsync(() => Task.FromResult(Mismatch(scenario)), m => m.Length == 0, "the backfill to reach Zoho", seconds: 180);
        await e2e.EventuallyAsync(async () => (await RunsAsync(e2e)).Count(r => r.Kind == "pull" && !RunStatus.IsFinished(r.Status)), n => n == 0, "the backfill runs to finish");
        var target = new Uri(e2e.Host.BaseAddress, $"api/webhooks/{tenant}/demo-shopify");
        var order = scenario.Shop.Orders.First(o => o.CustomerId is null && o.FinancialStatus == "paid" && o.CancelledAt is null);
        var person = PipelineScenario.IndexOfEmail(order.Email!);
        var count = scenario.ExpectedOrderCounts()[person];

        // The newer version (refunded) five times with one event id, then the older version (paid) late.
        var older = ShopifySandbox.RestOrder(scenario.Shop, order);
        order.FinancialStatus = "refunded";
        order.UpdatedAt = DateTimeOffset.UtcNow;
        var newer = ShopifySandbox.RestOrder(scenario.Shop, order);
        var upserts = ZohoRecordWrites(scenario);
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(200, await scenario.Shopify.DeliverWebhookAsync(target, scenario.Shop.Domain, "orders/updated", newer, eventId: "evt-newer"));
        }

        Assert.Equal(200, await scenario.Shopify.DeliverWebhookAsync(target, scenario.Shop.Domain, "orders/updated", older, eventId: "evt-older"));
        await e2e.EventuallyAsync(
            () => Task.FromResult(scenario.Zoho.Contacts.Single(c => PipelineScenario.PersonOf(c) == person).Value<int>("Order_Count")),
            n => n == count - 1,
            "the refund to reach the contact",
            seconds: 30);
        await Task.Delay(TimeSpan.FromSeconds(4));
        Assert.Equal(count - 1, scenario.Zoho.Contacts.Single(c => PipelineScenario.PersonOf(c) == person).Value<int>("Order_Count"));
        Assert.Equal(upserts + 1, ZohoRecordWrites(scenario));
        Assert.Equal(2, await CountAsync(e2e, HubTables.Inbox));

        // Bad input, while a full re-read runs: each gets its status as problem+json and writes nothing.
        await PostAsync(e2e, $"api/sync?tenant={tenant}&connection=demo-shopify&full=true");
        var inbox = await CountAsync(e2e, HubTables.Inbox);
        async Task<(HttpStatusCode Status, string Type)> SendAsync(string path, byte[] body, string? hmac)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(e2e.Host.BaseAddress, path)) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
            request.Headers.Add("X-Shopify-Topic", "orders/updated");
            request.Headers.Add("X-Shopify-Shop-Domain", scenario.Shop.Domain);
            request.Headers.Add("X-Shopify-Event-Id", Guid.NewGuid().ToString());
            if (hmac is not null)
            {
                request.Headers.Add("X-Shopify-Hmac-Sha256", hmac);
            }

            using var response = await e2e.Http.SendAsync(request);
            return (response.StatusCode, response.Content.Headers.ContentType?.MediaType ?? "");
        }

        string Sign(byte[] body) => Convert.ToBase64String(System.Security.Cryptography.HMACSHA256.HashData(Encoding.UTF8.GetBytes(scenario.Shopify.ClientSecret), body));
        var valid = Encoding.UTF8.GetBytes(newer.ToString(Newtonsoft.Json.Formatting.None));
        var malformed = Encoding.UTF8.GetBytes("{\"id\": 1, \"total_price\": ");
        var huge = Encoding.UTF8.GetBytes("{\"id\":1,\"note\":\"" + new string('x', 2 * 1024 * 1024) + "\"}");
        Assert.Equal((HttpStatusCode.Unauthorized, "application/problem+json"), await SendAsync($"api/webhooks/{tenant}/demo-shopify", valid, Sign(Encoding.UTF8.GetBytes("forged"))));
        Assert.Equal((HttpStatusCode.Unauthorized, "application/problem+json"), await SendAsync($"api/webhooks/{tenant}/demo-shopify", valid, null));
        Assert.Equal((HttpStatusCode.BadRequest, "application/problem+json"), await SendAsync($"api/webhooks/{tenant}/demo-shopify", malformed, Sign(malformed)));
        Assert.Equal((HttpStatusCode.RequestEntityTooLarge, "application/problem+json"), await SendAsync($"api/webhooks/{tenant}/demo-shopify", huge, Sign(huge)));
        Assert.Equal((HttpStatusCode.NotFound, "application/problem+json"), await SendAsync($"api/webhooks/{tenant}/no-such-connection", valid, Sign(valid)));
        Assert.Equal((HttpStatusCode.NotFound, "application/problem+json"), await SendAsync($"api/webhooks/another-tenant/demo-shopify", valid, Sign(valid)));
        Assert.Equal(inbox, await CountAsync(e2e, HubTables.Inbox));

        await e2e.EventuallyAsync(
            async () => (await RunsAsync(e2e)).Where(r => r.Trigger == "manual").ToList(),
            runs => runs.Count == 2 && runs.All(r => r.Status == RunStatus.Succeeded),
            "the re-read to finish undisturbed");
        Assert.Equal("", Mismatch(scenario));
    }
}

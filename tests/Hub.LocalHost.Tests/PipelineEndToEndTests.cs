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
/// seconds; chaos at the CRM and a handler killed three times change nothing in the result; duplicate, out-of-order,
/// forged, malformed, oversized and misaddressed deliveries do what they should and nothing else.
/// </summary>
[Collection(AzuriteFixture.Collection)]
public sealed class PipelineEndToEndTests(ITestOutputHelper output)
{
    internal static Dictionary<string, string> Settings(PipelineScenario scenario, string tenant, Dictionary<string, string>? more = null)
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
    /// <param name="rejectedPeople">People whose only payload the CRM refused: they have no contact, and that is right.</param>
    private static string Mismatch(PipelineScenario scenario, IReadOnlySet<string>? exceptProfiles = null, IReadOnlySet<int>? rejectedPeople = null)
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

        var missing = expected.Keys.Where(k => !byPerson.ContainsKey(k) && rejectedPeople?.Contains(k) != true).ToList();
        if (missing.Count > 0)
        {
            return $"{missing.Count} of {expected.Count} people have no contact yet";
        }

        foreach (var (person, count) in expected)
        {
            if (!byPerson.TryGetValue(person, out var theirs))
            {
                continue; // rejected, so absent (checked above)
            }

            var contact = theirs[0];
            if (exceptProfiles?.Contains(contact.Value<string>("Hub_Profile_Id") ?? "") == true)
            {
                continue;
            }

            if (contact.Value<int?>("Order_Count") != count)
            {
                return $"person {person}: {count} orders, contact says {contact["Order_Count"]}";
            }
        }

        var unrejected = expected.Keys.Count(k => byPerson.ContainsKey(k) || rejectedPeople?.Contains(k) != true);
        return contacts.Count == unrejected ? "" : $"{contacts.Count} contacts for {unrejected} people";
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
    public async Task CrmChaosAndAHandlerKilledThreeTimes_EndLikeAQuietRun_WithRejectionsInFailures()
    {
        await using var scenario = await PipelineScenario.StartAsync(people: 450, shopifyOrders: 700, youzanOrders: 500, days: 25);
        var tenant = E2E.NewTenant();
        await using var e2e = await E2E.StartAsync(settings: Settings(scenario, tenant, new()
        {
            ["Hub__Sync__PushRetryBase"] = "00:00:01",
            ["Hub__Sync__PushMaxAttempts"] = "30",
            ["Hub__Connectors__Http__MaxRetries"] = "2",
        }), tenant: tenant);
        // 20% of Zoho calls fail (429 with Retry-After, 500, or a hang), and Zoho refuses "New" lifecycles (a rejection).
        scenario.Zoho.FailRandomly(0.2, "/crm/v8/", seed: 5, 429, 500, 0);
        var lifecycle = (JArray)scenario.Zoho.Fields["Lifecycle_Stage"]["pick_list_values"]!;
        lifecycle.First(v => v.Value<string>("actual_value") == "New").Remove();

        for (var kill = 0; kill < 3; kill++)
        {
            await e2e.EventuallyAsync(async () => await CountAsync(e2e, HubTables.Profiles), n => n > (kill + 1) * 100, $"the backfill to reach kill {kill + 1}", seconds: 120);
            var starts = e2e.Host.Handler.Starts;
            e2e.Host.Handler.Kill();
            // The next kill hits the restarted handler, not one that is still starting.
            await e2e.EventuallyAsync(() => Task.FromResult(e2e.Host.Handler.Starts), n => n > starts, $"the handler to come back after kill {kill + 1}");
        }

        var push = new PushStore(e2e.Tables);
        await e2e.EventuallyAsync(
            async () =>
            {
                var failures = await push.FailuresAsync(tenant, "demo-zoho", "open", 5000, default);
                var rejected = failures.Select(f => f.GetString("ProfileId")!).ToHashSet();
                var rejectedPeople = failures.Select(f => PipelineScenario.PersonOf((JObject)Packed.Read(f, "Payload")!)).ToHashSet();
                var pending = await CountAsync(e2e, HubTables.Pending);
                return (Mismatch(scenario, rejected, rejectedPeople), pending, failures.Count);
            },
            r => r.Item1.Length == 0 && r.pending == 0,
            "the CRM to settle despite the chaos",
            seconds: 600);

        scenario.Zoho.StopFailing();
        // Batching keeps the calls few (a few dozen for some 400 contacts), so 20% of them is a handful; every one must have been survived.
        Assert.True(scenario.Zoho.ChaosFailures >= 3, $"only {scenario.Zoho.ChaosFailures} injected failures in {scenario.Zoho.Requests.Count} calls");
        Assert.True(e2e.Host.Handler.Starts >= 4);
        var open = await push.FailuresAsync(tenant, "demo-zoho", "open", 5000, default);
        Assert.NotEmpty(open);
        Assert.All(open, f =>
        {
            Assert.Equal("rejected", f.GetString("Kind"));
            Assert.Equal("INVALID_DATA", f.GetString("Code"));
            Assert.Contains("Lifecycle_Stage", f.GetString("Message"), StringComparison.Ordinal);
        });
        Assert.DoesNotContain(scenario.Zoho.Contacts, c => c.Value<string>("Lifecycle_Stage") == "New");
        output.WriteLine($"{scenario.Zoho.ChaosFailures} injected Zoho failures, {e2e.Host.Handler.Starts} handler starts, {open.Count} rejected profiles kept in Failures");
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

        // The order as it is, in the REST shape of a webhook (the backfill read it by GraphQL: other names, money as
        // strings, the shop's offset on every time): the same version, so nothing is stored or resolved.
        var older = ShopifySandbox.RestOrder(scenario.Shop, order);
        var orders = await e2e.Tables.GetAsync(HubTables.Orders, default);
        var stored = (await orders.GetEntityAsync<TableEntity>(tenant, Packed.RowKey($"o:shopify:demo-shopify:{order.Id}"))).Value;
        Assert.Equal(200, await scenario.Shopify.DeliverWebhookAsync(target, scenario.Shop.Domain, "orders/updated", older, eventId: "evt-same"));
        var inboxTable = await e2e.Tables.GetAsync(HubTables.Inbox, default);
        var same = await e2e.EventuallyAsync(
            async () => (await inboxTable.GetEntityIfExistsAsync<TableEntity>(tenant, InboxStore.KeyOf("demo-shopify", "orders/updated|evt-same"))) is { HasValue: true } r ? r.Value : null,
            row => row?.GetString("Status") == "ingested",
            "the delivery of the unchanged order to be ingested");
        Assert.Equal("0 stored, 1 unchanged, 0 older, 0 invalid", same!.GetString("Note"));
        var after = await orders.GetEntityAsync<TableEntity>(tenant, stored.RowKey);
        Assert.Equal((stored.ETag, stored.GetString("Version")), (after.Value.ETag, after.Value.GetString("Version")));

        // The newer version (refunded) five times with one event id, then the older version (paid) late.
        order.FinancialStatus = "refunded";
        order.UpdatedAt = DateTimeOffset.UtcNow;
        var newer = ShopifySandbox.RestOrder(scenario.Shop, order);
        var upserts = ZohoRecordWrites(scenario);
        // At once, as a platform's retries can be: the ones that arrive while the first is stored share one Inbox
        // transaction and one ingest message, and are told apart as duplicates there.
        var deliveries = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => scenario.Shopify.DeliverWebhookAsync(target, scenario.Shop.Domain, "orders/updated", newer, eventId: "evt-newer")));
        Assert.All(deliveries, status => Assert.Equal(200, status));

        Assert.Equal(200, await scenario.Shopify.DeliverWebhookAsync(target, scenario.Shop.Domain, "orders/updated", older, eventId: "evt-older"));
        await e2e.EventuallyAsync(
            () => Task.FromResult(scenario.Zoho.Contacts.Single(c => PipelineScenario.PersonOf(c) == person).Value<int>("Order_Count")),
            n => n == count - 1,
            "the refund to reach the contact",
            seconds: 30);
        await Task.Delay(TimeSpan.FromSeconds(4));
        Assert.Equal(count - 1, scenario.Zoho.Contacts.Single(c => PipelineScenario.PersonOf(c) == person).Value<int>("Order_Count"));
        Assert.Equal(upserts + 1, ZohoRecordWrites(scenario));
        Assert.Equal(3, await CountAsync(e2e, HubTables.Inbox));

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

        // Dry run: every profile is in Zoho as it is now, so all are unchanged; with a live store page too; nothing written.
        var writes = ZohoWrites(scenario);
        var dry = await PostAsync(e2e, $"api/dryrun?tenant={tenant}&connection=demo-zoho");
        Assert.False(dry.Value<bool>("written"));
        var counts = dry["targets"]!.Single(t => t.Value<string>("module") == "Contacts")["counts"]!;
        Assert.Equal(scenario.Zoho.Contacts.Count, dry.Value<int>("profiles"));
        Assert.Equal((dry.Value<int>("profiles"), 0, 0, 0), (counts.Value<int>("unchanged"), counts.Value<int>("create"), counts.Value<int>("update"), counts.Value<int>("invalid")));
        var live = await PostAsync(e2e, $"api/dryrun?tenant={tenant}&connection=demo-zoho&store=demo-shopify&sample=50");
        Assert.InRange(live.Value<int>("profiles"), 1, 50);
        Assert.Equal(live.Value<int>("profiles"), ((JObject)live["targets"]![0]!["counts"]!).Properties().Sum(p => (int)p.Value));
        using (var unknown = await e2e.Http.PostAsync($"api/dryrun?tenant={tenant}&connection=nope", null))
        {
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        }

        Assert.Equal(writes, ZohoWrites(scenario));

        // customers/redact: the customer's member and order rows become tombstones without data, the log says what
        // was done (without the email), and a later full read does not store the customer again.
        var customer = scenario.Shop.Customers.First(c => scenario.Shop.Orders.Any(o => o.CustomerId == c.Id));
        var theirOrders = scenario.Shop.Orders.Where(o => o.CustomerId == customer.Id).Select(o => o.Id).ToList();
        var redact = new JObject
        {
            ["shop_id"] = 1,
            ["shop_domain"] = scenario.Shop.Domain,
            ["customer"] = new JObject { ["id"] = customer.Id, ["email"] = customer.Email, ["phone"] = customer.Phone },
            ["orders_to_redact"] = new JArray(theirOrders),
        };
        Assert.Equal(200, await scenario.Shopify.DeliverWebhookAsync(target, scenario.Shop.Domain, "customers/redact", redact));
        var request = new JObject { ["shop_id"] = 1, ["shop_domain"] = scenario.Shop.Domain, ["customer"] = new JObject { ["id"] = customer.Id, ["email"] = customer.Email }, ["orders_requested"] = new JArray(theirOrders), ["data_request"] = new JObject { ["id"] = 9 } };
        Assert.Equal(200, await scenario.Shopify.DeliverWebhookAsync(target, scenario.Shop.Domain, "customers/data_request", request));
        var log = await e2e.EventuallyAsync(
            async () => JObject.Parse(await e2e.Http.GetStringAsync($"api/compliance?tenant={tenant}")),
            j => j["entries"]!.Count() == 2,
            "both privacy requests to be logged");
        Assert.DoesNotContain(customer.Email!, log.ToString(), StringComparison.OrdinalIgnoreCase);
        var redacted = log["entries"]!.Single(e => e.Value<string>("topic") == "customers/redact");
        Assert.Equal(1 + theirOrders.Count, redacted.Value<int>("records"));
        Assert.Single(redacted["profiles"]!);
        await AssertErasedAsync();

        await PostAsync(e2e, $"api/sync?tenant={tenant}&connection=demo-shopify&full=true");
        await e2e.EventuallyAsync(
            async () => (await RunsAsync(e2e)).Where(r => r.Trigger == "manual").ToList(),
            runs => runs.Count == 4 && runs.All(r => r.Status == RunStatus.Succeeded),
            "a full re-read after the redaction");
        await AssertErasedAsync();

        async Task AssertErasedAsync()
        {
            foreach (var (table, id) in new[] { (HubTables.Members, customer.Id) }.Concat(theirOrders.Select(o => (HubTables.Orders, o))))
            {
                var client = await e2e.Tables.GetAsync(table, default);
                var rows = new List<TableEntity>();
                await foreach (var row in client.QueryAsync<TableEntity>(r => r.PartitionKey == tenant))
                {
                    if (row.GetString("RecordKey")?.EndsWith(":" + id.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal) == true)
                    {
                        rows.Add(row);
                    }
                }

                var tombstone = Assert.Single(rows);
                Assert.True(tombstone.GetBoolean("Redacted"));
                Assert.DoesNotContain(tombstone.Keys, k => k.StartsWith("Raw", StringComparison.Ordinal));
            }
        }
    }
}

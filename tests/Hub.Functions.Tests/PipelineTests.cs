using Azure.Data.Tables;
using Hub.Functions.Functions;
using Hub.Functions.State;
using Hub.Testing;
using Microsoft.Extensions.DependencyInjection;
using Newtonsoft.Json.Linq;
using Xunit;

namespace Hub.Functions.Tests;

/// <summary>
/// The whole pipeline in process (PullStream → ResolveProfiles → PushCrm), over the real connectors and the Shopify,
/// Youzan and Zoho sandboxes, with Azurite: the CRM ends with one contact per real person and correct metrics, a
/// second sync writes nothing, and failures are kept with the CRM's words and can be replayed.
/// </summary>
[Collection(AzuriteFixture.Collection)]
public sealed class PipelineTests : IAsyncLifetime
{
    private const string AdminToken = "pipeline-admin-token-0123456789";
    private PipelineScenario _scenario = null!;

    public async Task InitializeAsync() => _scenario = await PipelineScenario.StartAsync(people: 150, shopifyOrders: 260, youzanOrders: 200);

    public async Task DisposeAsync() => await _scenario.DisposeAsync();

    // No push linger: the driver runs a batch of invocations and waits for all, so lingering would only slow it.
    private SyncHarness Harness(Action<Dictionary<string, string?>>? more = null) => new(values =>
    {
        values["Hub:Sync:PushLinger"] = "00:00:00";
        values["Hub:AdminToken"] = AdminToken;
        foreach (var (k, v) in _scenario.Settings)
        {
            values[k] = v;
        }

        more?.Invoke(values);
    }, realClock: true);

    /// <summary>Connects the sandboxes at the harness's clock set to now, and runs the scheduler's first sync to the end.</summary>
    private async Task<PipelineDriver> BackfillAsync(SyncHarness h)
    {
        h.Clock.SetUtcNow(DateTimeOffset.UtcNow);
        await ConnectAsync(h);
        var driver = new PipelineDriver(h);
        await driver.InvokeTimerAsync(ScheduleSync.Name);
        await driver.RunAsync();
        return driver;
    }

    private async Task ConnectAsync(SyncHarness h)
    {
        var secrets = h.Services.GetRequiredService<ISecretStore>();
        foreach (var (id, connector, settings, secret) in _scenario.Connections(h.Clock.GetUtcNow()))
        {
            await h.Connections.UpsertAsync(new ConnectionEntity
            {
                PartitionKey = h.Tenant,
                RowKey = id,
                ConnectorId = connector,
                SettingsJson = settings.ToString(),
                SecretsRef = await secrets.SaveAsync(h.Tenant, id, secret, default),
                Status = ConnectionStatus.Active,
                BackfillStart = _scenario.BackfillStart,
                CreatedAt = h.Clock.GetUtcNow(),
            }, default);
        }
    }

    private int ZohoWrites() => _scenario.Zoho.Requests.Count(r => (r.Method == "POST" && (r.Path.EndsWith("/upsert", StringComparison.Ordinal) || r.Path.Contains("/actions/", StringComparison.Ordinal))) || r.Method == "PUT");

    private void AssertOneContactPerPerson()
    {
        var expected = _scenario.ExpectedOrderCounts();
        var contacts = _scenario.Zoho.Contacts;
        var byPerson = contacts.GroupBy(PipelineScenario.PersonOf).ToDictionary(g => g.Key, g => g.ToList());
        Assert.False(byPerson.ContainsKey(-1), "a contact that is nobody: " + byPerson.GetValueOrDefault(-1)?.FirstOrDefault());
        var duplicated = byPerson.Where(p => p.Value.Count > 1).Select(p => p.Key).ToList();
        Assert.True(duplicated.Count == 0, $"{duplicated.Count} people have more than one contact, e.g. person {duplicated.FirstOrDefault()}");
        Assert.Equal(expected.Keys.Order(), byPerson.Keys.Order());
        foreach (var (person, count) in expected)
        {
            Assert.True(count == byPerson[person][0].Value<int>("Order_Count"), $"person {person}: {count} orders expected, contact says {byPerson[person][0]["Order_Count"]}");
        }

        Assert.Equal(contacts.Count, contacts.Select(c => c.Value<string>("Hub_Profile_Id")).Distinct().Count());
    }

    [Fact]
    public async Task DailySweep_WithUnchangedRulesWritesNothing_AfterAMappingChangeRecomputesEveryProfileAndPushesTheChange()
    {
        await using var h = Harness(v => v["Hub:Rules:Recheck"] = "00:00:00");
        await ConnectAsync(h);
        var driver = new PipelineDriver(h);
        await driver.InvokeTimerAsync(ScheduleSync.Name);
        await driver.RunAsync();
        AssertOneContactPerPerson();
        var newcomers = _scenario.Zoho.Contacts.Count(c => c.Value<string>("Lifecycle_Stage") == "New");
        Assert.True(newcomers > 0);

        // The sweep resolves every profile again; nothing changed, so the Ledger lets no write through.
        var writes = ZohoWrites();
        var sweep = await driver.InvokeTimerAsync(ResegmentDaily.Name);
        Assert.NotEmpty(sweep.Messages(ResegmentDaily.ResolveOutput));
        await driver.RunAsync();
        Assert.Equal(writes, ZohoWrites());

        // An integrator activates a lifecycle without "new" (its day limit below zero): the next sweep moves every
        // newcomer to "active" in Zoho, with one contact per person still.
        var store = h.Services.GetRequiredService<MappingStore>();
        var segments = h.Services.GetRequiredService<Hub.Functions.Sync.RulesProvider>().Current.Export("segments");
        segments["segments"]![0]!["rules"]![0]!["when"]!["all"]![1]!["lte"]![1] = -1;
        var (_, etag) = await store.ActiveAsync(h.Tenant, default);
        await store.SaveAsync(h.Tenant, new Dictionary<string, string> { ["segments/segments.json"] = segments.ToString() }, "no newcomers", "test", etag, h.Clock.GetUtcNow(), default);
        await driver.InvokeTimerAsync(ResegmentDaily.Name);
        await driver.RunAsync();

        Assert.Empty(driver.Errors);
        Assert.DoesNotContain(_scenario.Zoho.Contacts, c => c.Value<string>("Lifecycle_Stage") == "New");
        Assert.True(ZohoWrites() > writes);
        AssertOneContactPerPerson();
    }

    [Fact]
    public async Task Backfill_TwoOverlappingStores_OneContactPerPerson_ThenASecondSyncWritesNothing()
    {
        await using var h = Harness(v => v["Hub:Sync:ReconcileWindow"] = "200.00:00:00");
        var driver = await BackfillAsync(h);

        Assert.Empty(driver.Errors);
        AssertOneContactPerPerson();
        var writes = ZohoWrites();

        // Reconcile re-reads every window: every record is unchanged, so nothing is resolved or pushed.
        await driver.InvokeTimerAsync(Reconcile.Name);
        await driver.RunAsync();

        Assert.Empty(driver.Errors);
        Assert.Equal(writes, ZohoWrites());
        AssertOneContactPerPerson();
        var runs = await h.Runs.RecentAsync(h.Tenant, 200, default);
        Assert.Contains(runs, r => r.Kind == "pull" && r.Trigger == "reconcile" && r.Status == RunStatus.Succeeded);
        Assert.DoesNotContain(runs, r => r.Kind == "pull" && r.Status != RunStatus.Succeeded);
    }

    [Fact]
    public async Task RejectedRecord_IsKeptWithZohosMessage_AndReplayAfterTheFixWritesIt()
    {
        await using var h = Harness();
        h.Clock.SetUtcNow(DateTimeOffset.UtcNow);
        await ConnectAsync(h);
        var driver = new PipelineDriver(h);
        // Zoho refuses Lifecycle_Stage values outside its picklist: take "New" out of it.
        var field = _scenario.Zoho.Fields["Lifecycle_Stage"];
        var allowed = (JArray)field["pick_list_values"]!;
        var removed = allowed.First(v => v.Value<string>("actual_value") == "New");
        removed.Remove();

        await driver.InvokeTimerAsync(ScheduleSync.Name);
        await driver.RunAsync();

        var push = h.Services.GetRequiredService<PushStore>();
        var failures = await push.FailuresAsync(h.Tenant, "zoho", "open", 1000, default);
        Assert.NotEmpty(failures);
        Assert.All(failures, f =>
        {
            Assert.Equal("rejected", f.GetString("Kind"));
            Assert.Equal("INVALID_DATA", f.GetString("Code"));
            Assert.Contains("Lifecycle_Stage", f.GetString("Message"), StringComparison.Ordinal);
            Assert.Equal("New", Packed.Read(f, "Payload")!["Lifecycle_Stage"]!.ToString());
        });
        var rejected = failures.Select(f => f.GetString("ProfileId")!).ToHashSet();
        // A refused update leaves the contact as it was (or absent): never with the refused value.
        Assert.DoesNotContain(_scenario.Zoho.Contacts, c => c.Value<string>("Lifecycle_Stage") == "New");

        // A second sync does not send the same refused payload again.
        var writes = ZohoWrites();
        await driver.InvokeTimerAsync(Reconcile.Name);
        await driver.RunAsync();
        Assert.Equal(writes, ZohoWrites());

        // Nor does the push when the rows come unchecked (as the planner puts them in while a backfill holds pushes):
        // the push finds the open failure of the same payload, leaves it as it is and clears the rows.
        var attempts = failures.ToDictionary(f => f.GetString("ProfileId")!, f => f.GetInt32("Attempts"));
        await push.EnqueueAsync(h.Tenant, "zoho", "Contacts", rejected.Select(id => (id, "unchecked", false, false)), default);
        driver.Enqueue("push", new Sync.PushMessage(h.Tenant, "zoho", "Contacts"));
        await driver.RunAsync();
        Assert.Empty(driver.Errors);
        Assert.Equal(writes, ZohoWrites());
        Assert.Empty(await push.DueAsync(h.Tenant, "zoho", "Contacts", 10, DateTimeOffset.UtcNow, default));
        Assert.Equal(attempts, (await push.FailuresAsync(h.Tenant, "zoho", "open", 1000, default)).ToDictionary(f => f.GetString("ProfileId")!, f => f.GetInt32("Attempts")));

        // The fix (the CRM accepts the value again), then a replay of everything open.
        allowed.Add(removed);
        var replay = h.Services.GetRequiredKeyedService<Hub.Functions.Hosting.IFunction>(ReplayFailures.Name);
        Hub.Functions.Hosting.Invocation Request(string? token) => Hub.Functions.Hosting.Invocation.Parse(ReplayFailures.Name, "r1", JObject.FromObject(new
        {
            Data = new { req = new { Method = "POST", Query = new { tenant = h.Tenant, connection = "zoho" }, Headers = token is null ? new JObject() : new JObject { ["Authorization"] = new JArray("Bearer " + token) } } },
            Metadata = new { },
        }));

        // Without a token, or with a wrong one, nothing is replayed.
        foreach (var (token, status) in new[] { ((string?)null, "401"), ("not-the-token", "401") })
        {
            var refused = (await replay.InvokeAsync(Request(token), default)).ToJson()["Outputs"]!;
            Assert.Equal(status, refused["res"]!.Value<string>("statusCode"));
            Assert.Null(refused["push"]);
        }

        var answer = await replay.InvokeAsync(Request(AdminToken), default);
        driver.Collect(ReplayFailures.Name, answer);
        await driver.RunAsync();

        Assert.Empty(await push.FailuresAsync(h.Tenant, "zoho", "open", 1000, default));
        Assert.All(rejected, id => Assert.Contains(_scenario.Zoho.Contacts, c => c.Value<string>("Hub_Profile_Id") == id && c.Value<string>("Lifecycle_Stage") == "New"));
        AssertOneContactPerPerson();
    }

    [Fact]
    public async Task ParallelResolvesAndRedeliveries_EndInTheSameContactsAsAQuietRun()
    {
        await using var h = Harness();
        h.Clock.SetUtcNow(DateTimeOffset.UtcNow);
        await ConnectAsync(h);
        var driver = new PipelineDriver(h)
        {
            // Every first delivery of a resolve or push fails once: the host redelivers, nothing is lost or doubled.
            FailBefore = (function, _, delivery) => function is nameof(ResolveProfiles) or nameof(PushCrm) && delivery == 1 && Random.Shared.Next(3) == 0,
        };

        await driver.InvokeTimerAsync(ScheduleSync.Name);
        await driver.RunAsync(parallel: 16);

        Assert.Empty(driver.Errors);
        AssertOneContactPerPerson();
        var tables = h.Services.GetRequiredService<HubTables>();
        var orders = await tables.GetAsync(HubTables.Orders, default);
        var unresolved = 0;
        await foreach (var row in orders.QueryAsync<TableEntity>(r => r.PartitionKey == h.Tenant, select: ["Unresolved"]))
        {
            unresolved += row.GetBoolean("Unresolved") == true ? 1 : 0;
        }

        Assert.Equal(0, unresolved);
    }

    [Fact]
    public async Task ABackfillResolvedInManyBatchesAndHandOvers_WritesEachPersonsHeldOutboxRowOnce_AndEndsLikeAQuietRun()
    {
        // The whole backfill waits in the backlog (a holder that then dies), and is resolved in batches of 40, each
        // invocation handing over to the next: a person's orders are spread over many batches of one hold.
        await using var h = Harness(v =>
        {
            v["Hub:Sync:ResolveBacklogStaleAfter"] = "00:00:00";
            v["Hub:Sync:ResolveBatch"] = "40";
            v["Hub:Sync:ResolveBudget"] = "00:00:00";
        });
        h.Clock.SetUtcNow(DateTimeOffset.UtcNow);
        await ConnectAsync(h);
        var driver = new PipelineDriver(h);
        var push = h.Services.GetRequiredService<PushStore>();
        var holder = await push.TryLeaseAsync(h.Tenant, ResolveGate.Connection, ResolveGate.Module, "dead-holder", DateTimeOffset.UtcNow, TimeSpan.FromMinutes(5), default);
        Assert.NotNull(holder);
        await driver.InvokeTimerAsync(ScheduleSync.Name);
        await driver.RunAsync();
        Assert.True(await push.RenewLeaseAsync(holder, DateTimeOffset.UtcNow.AddSeconds(1), default));
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        var before = ResolveCounters.Snapshot();

        await driver.InvokeTimerAsync(ScheduleSync.Name);
        await driver.RunAsync();

        Assert.Empty(driver.Errors);
        AssertOneContactPerPerson();
        var after = ResolveCounters.Snapshot();
        long Delta(string name) => after.Value<long>(name) - before.Value<long>(name);
        var profiles = _scenario.Zoho.Contacts.Count;
        var (written, known) = (Delta("heldOutboxRowsWritten"), Delta("heldOutboxRowsKnown"));
        Assert.True(Delta("batches") >= 10, $"{Delta("batches")} batches");
        // Most people changed in more than one batch, and their row was written once. Without that, every change
        // wrote it again; without the mark carried through each hand-over, every batch started knowing none.
        Assert.True(known > profiles, $"{known} rows known to be there already, {written} written, for {profiles} contacts");
        // One row per profile the hold saw: the contacts, and the profiles merged into them on the way.
        Assert.True(written >= profiles && written < profiles + known / 4, $"{written} rows written ({known} known there) for {profiles} contacts");
        Assert.Empty(await push.DueAsync(h.Tenant, "zoho", "Contacts", 10, DateTimeOffset.UtcNow, default));
    }

    [Fact]
    public async Task HeldOutboxRows_AreLeftWhileAResolutionThatRemembersThemHoldsTheGate_AndGoOnceItLeaves()
    {
        // No settling: once the pull has ended the hold is off, even while a resolution holds the gate (as after a
        // settle that ran out), so the drain takes held rows.
        await using var h = Harness(v => v["Hub:Sync:BackfillSettle"] = "00:00:00");
        var driver = await BackfillAsync(h);
        Assert.Empty(driver.Errors);
        var push = h.Services.GetRequiredService<PushStore>();
        var gate = h.Services.GetRequiredService<ResolveGate>();
        var ids = _scenario.Zoho.Contacts.Take(5).Select(c => c.Value<string>("Hub_Profile_Id")!).ToList();
        var writes = ZohoWrites();

        // Held rows (as a backfill's planner writes them), and a resolution that remembers them holds the gate.
        await push.EnqueueAsync(h.Tenant, "zoho", "Contacts", ids.Select(id => (id, "", false, false)), default);
        var holder = await gate.TryEnterAsync(h.Tenant, default);
        Assert.NotNull(holder);
        Assert.True(await holder.KeepOutboxAsync(default));
        driver.Enqueue("push", new Sync.PushMessage(h.Tenant, "zoho", "Contacts"));
        await driver.RunAsync();

        Assert.Empty(driver.Errors);
        Assert.Equal(writes, ZohoWrites()); // unchanged profiles: nothing to write
        Assert.Equal(5, (await push.DueAsync(h.Tenant, "zoho", "Contacts", 10, DateTimeOffset.UtcNow, default)).Count);
        Assert.False(await h.Services.GetRequiredService<Sync.BackfillHold>().HoldsAsync(h.Tenant, default));

        await holder.DisposeAsync();
        driver.Enqueue("push", new Sync.PushMessage(h.Tenant, "zoho", "Contacts"));
        await driver.RunAsync();

        Assert.Empty(driver.Errors);
        Assert.Equal(writes, ZohoWrites());
        Assert.Empty(await push.DueAsync(h.Tenant, "zoho", "Contacts", 10, DateTimeOffset.UtcNow, default));
    }

    [Fact]
    public async Task AResolutionPastItsBudget_HandsTheGateAndItsKeptRowsToTheNextInvocation_AndEndsLikeAQuietRun()
    {
        // Every batch is past the budget: each invocation resolves one batch and hands over.
        await using var h = Harness(v =>
        {
            v["Hub:Sync:ResolveBudget"] = "00:00:00";
            v["Hub:Sync:ResolveBatch"] = "60";
        });
        var driver = await BackfillAsync(h);

        Assert.Empty(driver.Errors);
        AssertOneContactPerPerson();
        var handedOver = driver.Logs.Count(l => l.StartsWith(ResolveProfiles.Name, StringComparison.Ordinal) && l.Contains("handed over", StringComparison.Ordinal));
        var wentOn = driver.Logs.Count(l => l.StartsWith(ResolveProfiles.Name, StringComparison.Ordinal) && l.Contains("the holder before kept", StringComparison.Ordinal));
        Assert.True(handedOver >= 5, $"{handedOver} hand-overs");
        Assert.True(wentOn >= handedOver / 2, $"{wentOn} of {handedOver} hand-overs passed the rows the holder kept");
        Assert.False(await h.Services.GetRequiredService<ResolveGate>().IsTakenAsync(h.Tenant, default));
    }

    [Fact]
    public async Task ResolveMessagesThatFindTheGateTaken_WaitInTheBacklog_AndADeadHoldersBacklogIsResolvedInFewBatches()
    {
        await using var h = Harness(v => v["Hub:Sync:ResolveBacklogStaleAfter"] = "00:00:00");
        h.Clock.SetUtcNow(DateTimeOffset.UtcNow);
        await ConnectAsync(h);
        var driver = new PipelineDriver(h);
        var push = h.Services.GetRequiredService<PushStore>();
        var backlog = h.Services.GetRequiredService<ResolveBacklog>();

        // A resolution holds the gate throughout the sync.
        var holder = await push.TryLeaseAsync(h.Tenant, ResolveGate.Connection, ResolveGate.Module, "dead-holder", DateTimeOffset.UtcNow, TimeSpan.FromMinutes(5), default);
        Assert.NotNull(holder);
        var before = ResolveCounters.Snapshot();

        await driver.InvokeTimerAsync(ScheduleSync.Name);
        await driver.RunAsync();

        // Every resolve message left its records to the holder: nothing resolved, nothing pushed, nothing lost.
        Assert.Empty(driver.Errors);
        Assert.Empty(_scenario.Zoho.Contacts);
        var waiting = await backlog.TakeAsync(h.Tenant, 5000, default);
        var stored = _scenario.ExpectedOrderCounts().Values.Sum();
        Assert.True(waiting.Records.Count >= stored, $"{waiting.Records.Count} records wait, {stored} orders were stored");
        var after = ResolveCounters.Snapshot();
        Assert.Equal(before.Value<long>("batches"), after.Value<long>("batches"));
        Assert.True(after.Value<long>("deferred") - before.Value<long>("deferred") >= driver.Invocations.GetValueOrDefault(ResolveProfiles.Name));

        // Then it dies without letting go: its last renewal runs out a second later. The scheduler sees a backlog
        // nobody takes and nudges it; one resolution takes it all.
        Assert.True(await push.RenewLeaseAsync(holder, DateTimeOffset.UtcNow.AddSeconds(1), default));
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        var tick = await driver.InvokeTimerAsync(ScheduleSync.Name);
        Assert.Single(tick.Messages(ScheduleSync.ResolveOutput));
        await driver.RunAsync();

        Assert.Empty(driver.Errors);
        AssertOneContactPerPerson();
        Assert.False(await backlog.AnyAsync(h.Tenant, default));
        var batches = ResolveCounters.Snapshot().Value<long>("batches") - after.Value<long>("batches");
        var most = (waiting.Count + 499) / 500;
        Assert.True(batches <= most, $"{waiting.Count} waiting records and profiles took {batches} batches; batches of 500 need {most}");

        // Nothing is left to nudge.
        Assert.Empty((await driver.InvokeTimerAsync(ScheduleSync.Name)).Messages(ScheduleSync.ResolveOutput));
    }

    [Fact]
    public async Task GraphRowsAGateHolderKept_ServeItsLaterBatches_WithTheETagsItsWritesGot_AndAStaleOneCostsOneRetry()
    {
        await using var h = Harness();
        h.Clock.SetUtcNow(DateTimeOffset.UtcNow);
        await ConnectAsync(h);

        // Every page is read and stored; nothing is resolved yet.
        var driver = new PipelineDriver(h) { SetAside = (queue, _) => queue == "resolve" };
        await driver.InvokeTimerAsync(ScheduleSync.Name);
        await driver.RunAsync();
        Assert.Empty(driver.Errors);
        var tables = h.Services.GetRequiredService<HubTables>();
        var keys = new List<string>();
        foreach (var name in new[] { HubTables.Members, HubTables.Orders })
        {
            keys.AddRange(await (await tables.GetAsync(name, default)).QueryAsync<TableEntity>(r => r.PartitionKey == h.Tenant, select: ["RecordKey"]).Select(r => r.GetString("RecordKey")!).ToListAsync());
        }

        // One hold, three batches: the later batches meet people of the earlier ones, and their keys are updated (new
        // keys of known people, merges) on the ETags the earlier writes answered, without a conflict.
        var graph = h.Services.GetRequiredService<ProfileGraph>();
        var held = new HeldGraphRows(h.Tenant);
        var exclusive = (CancellationToken _) => Task.FromResult(true);
        foreach (var batch in keys.Order(StringComparer.Ordinal).Chunk((keys.Count / 3) + 1))
        {
            var outcome = await graph.ResolveAsync(h.Tenant, batch, [], default, null, exclusive, held);
            Assert.Equal(1, outcome.Attempts);
        }

        Assert.True(held.Trusted);
        Assert.True(held.Count > 0);
        // Every row the holder kept is the table's row, with the table's ETag; most rows were kept.
        async Task<List<TableEntity>> HeldAsExpected(string name, HeldRow tryGet, string field)
        {
            var all = await (await tables.GetAsync(name, default)).QueryAsync<TableEntity>(r => r.PartitionKey == h.Tenant).ToListAsync();
            var kept = 0;
            foreach (var row in all)
            {
                if (tryGet(row.RowKey, out var mine))
                {
                    Assert.NotNull(mine);
                    Assert.Equal(row.ETag, mine!.ETag);
                    Assert.Equal(row.GetString(field), mine.GetString(field));
                    kept++;
                }
            }

            Assert.True(kept > all.Count / 2, $"{kept} of {all.Count} {name} rows held");
            return all;
        }

        var identities = await HeldAsExpected(HubTables.Identities, held.TryGetIdentity, "Profiles");
        await HeldAsExpected(HubTables.Profiles, held.TryGetProfile, "Stamp");


        // A row the holder believes absent that is there (a resolution wrote it while the hold was broken): the write
        // conflicts, and the resolution drops what it kept, reads everything again and is right.
        var record = (await h.Services.GetRequiredService<RecordStore>().GetManyAsync(h.Tenant, [keys[0]], default))[keys[0]];
        var profileRow = (await (await tables.GetAsync(HubTables.Profiles, default)).GetEntityAsync<TableEntity>(h.Tenant, record.ProfileId)).Value;
        var someKey = identities.First(r => r.RowKey == ProfileGraph.Strings(profileRow, "Keys").First());
        var stale = new HeldGraphRows(h.Tenant);
        stale.SawIdentity(someKey.RowKey, null);
        var again = await graph.ResolveAsync(h.Tenant, [keys[0]], [], default, null, exclusive, stale);
        Assert.Equal(2, again.Attempts);
        Assert.True(stale.TryGetIdentity(someKey.RowKey, out var fresh));
        Assert.Equal(someKey.ETag, fresh!.ETag);
        Assert.Equal(record.ProfileId, again.Assignments[keys[0]]);

        // A resolution that cannot confirm its hold was undisturbed keeps nothing for its next batch.
        var disturbed = new HeldGraphRows(h.Tenant);
        await graph.ResolveAsync(h.Tenant, [keys[0]], [], default, null, _ => Task.FromResult(false), disturbed);
        Assert.Equal(0, disturbed.Count);

        // The set-aside resolve messages change nothing more; the pushes give one contact per person.
        driver.Release();
        await driver.RunAsync();
        Assert.Empty(driver.Errors);
        AssertOneContactPerPerson();
    }

    [Fact]
    public async Task WhileABackfillReads_ItsProfilesWaitAndAWebhooksChangeDoesNot_ThenEachIsPushedWhenItEnds()
    {
        await using var h = Harness();
        h.Clock.SetUtcNow(DateTimeOffset.UtcNow);
        await ConnectAsync(h);
        var upserts = () => _scenario.Zoho.Requests.Count(r => r.Method == "POST" && r.Path.EndsWith("/upsert", StringComparison.Ordinal));

        // The Youzan order backfill stops after its first page (its next pages wait): the backfill is still running.
        var driver = new PipelineDriver(h) { SetAside = (queue, body) => queue == "pull" && body.Value<string>("connectionId") == "yz" && body.Value<string>("stream") == "orders" && body.Value<int>("seq") >= 1 };
        await driver.InvokeTimerAsync(ScheduleSync.Name);
        await driver.RunAsync();

        Assert.Empty(driver.Errors);
        Assert.Equal(0, upserts());
        var pending = await (await h.Services.GetRequiredService<HubTables>().GetAsync(HubTables.Pending, default))
            .QueryAsync<TableEntity>(r => r.PartitionKey == h.Tenant).Where(r => r.RowKey.StartsWith("zoho|Contacts|", StringComparison.Ordinal) && !r.RowKey.EndsWith(PushStore.LeaseSuffix, StringComparison.Ordinal)).ToListAsync();
        Assert.NotEmpty(pending);
        Assert.All(pending, r => Assert.NotEqual(true, r.GetBoolean("Live")));

        // The scheduler's tick does not nudge what is held.
        Assert.Empty((await driver.InvokeTimerAsync(ScheduleSync.Name)).Messages(ScheduleSync.PushOutput));

        // A webhook's change (IngestEvent marks its resolve message live) goes at once: one call, one contact.
        var orders = await h.Services.GetRequiredService<HubTables>().GetAsync(HubTables.Orders, default);
        var order = await orders.QueryAsync<TableEntity>(r => r.PartitionKey == h.Tenant && r.GetString("ConnectionId") == "shop", maxPerPage: 1, select: ["RecordKey", "ProfileId"]).FirstAsync();
        driver.Enqueue("resolve", new Sync.ResolveMessage(h.Tenant, [order.GetString("RecordKey")]) { Live = true });
        await driver.RunAsync();

        Assert.Empty(driver.Errors);
        Assert.Equal(1, upserts());
        Assert.Equal(order.GetString("ProfileId"), Assert.Single(_scenario.Zoho.Contacts).Value<string>("Hub_Profile_Id"));

        // The same profile resolved again by the backfill (not live): its outbox row goes in unchecked, without the
        // Ledger and Failures reads (the Ledger holds this very payload now), and waits; the push checks it later.
        var pendingTable = await h.Services.GetRequiredService<HubTables>().GetAsync(HubTables.Pending, default);
        var pendingKey = PushStore.Key("zoho", "Contacts", order.GetString("ProfileId")!);
        Assert.False((await pendingTable.GetEntityIfExistsAsync<TableEntity>(h.Tenant, pendingKey)).HasValue);
        driver.Enqueue("resolve", new Sync.ResolveMessage(h.Tenant, [], [order.GetString("ProfileId")!]));
        await driver.RunAsync();
        Assert.Empty(driver.Errors);
        Assert.True((await pendingTable.GetEntityIfExistsAsync<TableEntity>(h.Tenant, pendingKey)).HasValue);
        Assert.Equal(1, upserts());

        // The backfill reads its last pages and ends: every profile is pushed, in full batches.
        Assert.True(driver.Release() > 0);
        await driver.RunAsync();

        Assert.Empty(driver.Errors);
        AssertOneContactPerPerson();
        var people = _scenario.ExpectedOrderCounts().Count;
        var batches = (people + 99) / 100;
        Assert.True(upserts() <= 1 + (2 * batches), $"{upserts()} upserts for {people} people; held pushes go in {batches} batch(es), the last page's people at most once more");
    }

    [Fact]
    public async Task EarlierRecordsComeFromTheCacheOfMappedRecords_ButARedactedRecordNeverComesBackFromIt()
    {
        await using var h = Harness();
        h.Clock.SetUtcNow(DateTimeOffset.UtcNow);
        await ConnectAsync(h);
        var driver = new PipelineDriver(h);
        var before = ResolveCounters.Snapshot();

        await driver.InvokeTimerAsync(ScheduleSync.Name);
        await driver.RunAsync();

        Assert.Empty(driver.Errors);
        AssertOneContactPerPerson();
        Assert.True(ResolveCounters.Snapshot().Value<long>("recordsFromCache") > before.Value<long>("recordsFromCache"), "no earlier record came from the cache");

        // A person with records in both stores: their Shopify records are erased (customers/redact), and a
        // resolution of one of their Youzan records, which would find the erased ones in the cache, runs before the
        // profile's recomputation does.
        var tables = h.Services.GetRequiredService<HubTables>();
        var profilesTable = await tables.GetAsync(HubTables.Profiles, default);
        var person = await profilesTable.QueryAsync<TableEntity>(r => r.PartitionKey == h.Tenant).Select(r => (Row: r, Records: ProfileGraph.Strings(r, "Records").ToList()))
            .FirstAsync(p => p.Row.GetString("MergedInto") is null && p.Records.Count(k => k.Contains(":shop:", StringComparison.Ordinal)) >= 2 && p.Records.Any(k => k.Contains(":yz:", StringComparison.Ordinal)));
        var erased = person.Records.Where(k => k.Contains(":shop:", StringComparison.Ordinal)).ToList();
        var kept = person.Records.Where(k => k.Contains(":yz:", StringComparison.Ordinal)).ToList();
        var store = h.Services.GetRequiredService<RecordStore>();
        var recompute = await store.RedactAsync(h.Tenant, "shop", erased, default);
        driver.Enqueue("resolve", new Sync.ResolveMessage(h.Tenant, [kept[0]]));
        await driver.RunAsync();
        await AssertNoProfileHoldsTheErasedAsync();

        driver.Enqueue("resolve", new Sync.ResolveMessage(h.Tenant, [], recompute));
        await driver.RunAsync();
        await AssertNoProfileHoldsTheErasedAsync();

        async Task AssertNoProfileHoldsTheErasedAsync()
        {
            Assert.Empty(driver.Errors);
            await foreach (var row in profilesTable.QueryAsync<TableEntity>(r => r.PartitionKey == h.Tenant))
            {
                if (row.GetString("MergedInto") is null)
                {
                    Assert.DoesNotContain(ProfileGraph.Strings(row, "Records"), erased.Contains);
                    Assert.DoesNotContain(((JObject?)Packed.Read(row, "Versions"))?.Properties().Select(p => p.Name) ?? [], erased.Contains);
                }
            }
        }

        var survivor = Assert.Single(await profilesTable.QueryAsync<TableEntity>(r => r.PartitionKey == h.Tenant).Where(r => r.GetString("MergedInto") is null && ProfileGraph.Strings(r, "Records").Contains(kept[0])).ToListAsync());
        Assert.Equal(kept.Count(k => k.StartsWith("o:", StringComparison.Ordinal)), survivor.GetInt32("OrderCount"));
    }

    [Fact]
    public async Task TwoProfilesPushedSeparately_ThenJoinedByANewPhone_AreMergedInZohoIntoOneContact()
    {
        await using var h = Harness();
        h.Clock.SetUtcNow(DateTimeOffset.UtcNow);
        await ConnectAsync(h);
        // Phase 1: Shopify knows its people by email only, Youzan by phone only: two profiles, two contacts each.
        foreach (var customer in _scenario.Shop.Customers)
        {
            customer.Phone = null;
        }

        foreach (var order in _scenario.Shop.Orders)
        {
            order.Phone = null;
        }

        var driver = new PipelineDriver(h);
        await driver.InvokeTimerAsync(ScheduleSync.Name);
        await driver.RunAsync();
        var before = _scenario.Zoho.Contacts.Count;

        // Phase 2: the guest orders get their buyers' phone numbers back; Reconcile reads the change, and each such
        // order joins the buyer's Shopify profile (email) with the Youzan one (phone).
        foreach (var order in _scenario.Shop.Orders.Where(o => o.CustomerId is null))
        {
            var person = _scenario.People[PipelineScenario.IndexOfEmail(order.Email!)];
            order.Phone = "+86" + Hub.Sandbox.Youzan.YouzanSandbox.Mobile(person);
            order.UpdatedAt = DateTimeOffset.UtcNow.AddSeconds(-5);
        }

        await driver.InvokeTimerAsync(Reconcile.Name);
        await driver.RunAsync();

        Assert.Empty(driver.Errors);
        var merges = _scenario.Zoho.Requests.Count(r => r.Path.EndsWith("/actions/merge", StringComparison.Ordinal));

        Assert.True(merges > 0, "no merge call");
        Assert.Equal(before - merges, _scenario.Zoho.Contacts.Count); // every merge call removed one duplicate
        AssertOneContactPerPerson();
        var runs = await h.Runs.RecentAsync(h.Tenant, 200, default);
        Assert.Equal(merges, runs.Where(r => r.Kind == "push").Sum(r => r.Merged));
    }

    [Fact]
    public async Task TwoHubSpotContactsOfOnePerson_AreMergedWhenAnOrderJoinsTheirProfiles_AndTheLedgerFollowsTheNewContact()
    {
        await _scenario.DisposeAsync();
        _scenario = await PipelineScenario.StartAsync(people: 60, shopifyOrders: 100, youzanOrders: 80, allCrms: true);
        _scenario.Fxiaoke!.CallsPerWindow = 100_000;
        var hubspot = _scenario.HubSpot!;
        var shop = _scenario.Shop;
        // Phase 1: five Shopify customers also checked out once as guests under a second email: two profiles, and in
        // HubSpot (which matches on email) two contacts each.
        var customers = shop.Customers.Take(5).ToList();
        var guestOrders = customers.Select(c => shop.AddOrder(null, DateTimeOffset.UtcNow.AddDays(-3),
            [new Hub.Sandbox.Shopify.ShopifyLine { Sku = "SKU-100", Title = "Tea", Quantity = 1, Price = 20m }],
            $"second.{PipelineScenario.IndexOfEmail(c.Email!)}@othermail.cn")).ToList();
        await using var h = Harness(v => v["Hub:Connectors:Fxiaoke:CallsPerWindow"] = "100000");
        var driver = await BackfillAsync(h);
        var before = hubspot.Contacts.Count;
        Assert.All(guestOrders, o => Assert.Contains(hubspot.Contacts, c => c.Value<string>("email") == o.Email));

        // Phase 2: each customer signs in, and Shopify attaches the guest order to the account; Reconcile reads it.
        for (var i = 0; i < customers.Count; i++)
        {
            var customerId = customers[i].Id;
            shop.UpdateOrder(guestOrders[i].Id, o => o.CustomerId = customerId);
        }

        await driver.InvokeTimerAsync(Reconcile.Name);
        await driver.RunAsync();

        Assert.Empty(driver.Errors);
        var merges = hubspot.Requests.Count(r => r.Path.EndsWith("/contacts/merge", StringComparison.Ordinal));
        Assert.Equal(customers.Count, merges);
        Assert.True(before - merges == hubspot.Contacts.Count, $"{before} before, {merges} merges, {hubspot.Contacts.Count} now: " + string.Join(" | ", hubspot.Contacts.Select(c => $"{c["id"]} {c["email"]} [{c["hs_additional_emails"]}] {c["hub_profile_id"]} {c["hub_order_count"]}"))); // each merge left one contact of two
        var expected = _scenario.ExpectedOrderCounts();
        var byPerson = hubspot.Contacts.GroupBy(c => PipelineScenario.IndexOfEmail(c.Value<string>("email")!)).ToDictionary(g => g.Key, g => g.ToList());
        Assert.All(byPerson, p => Assert.Single(p.Value));
        foreach (var customer in customers)
        {
            var contact = byPerson[PipelineScenario.IndexOfEmail(customer.Email!)][0];
            var emails = new[] { contact.Value<string>("email") }.Concat((contact.Value<string>("hs_additional_emails") ?? "").Split(';')).ToHashSet();
            Assert.Superset(new HashSet<string?> { customer.Email!.ToLowerInvariant(), $"second.{PipelineScenario.IndexOfEmail(customer.Email!)}@othermail.cn" }, emails);
            Assert.Equal(expected[PipelineScenario.IndexOfEmail(customer.Email!)], contact.Value<int>("hub_order_count"));
        }

        // Every HubSpot binding in the Ledger names a contact that exists: the survivors follow their new contacts.
        var ledger = await (await h.Services.GetRequiredService<HubTables>().GetAsync(HubTables.Ledger, default))
            .QueryAsync<TableEntity>(r => r.PartitionKey == h.Tenant).Where(r => r.RowKey.StartsWith("hubspot|", StringComparison.Ordinal) && !r.RowKey.EndsWith(PushStore.LeaseSuffix, StringComparison.Ordinal)).ToListAsync();
        Assert.Equal(hubspot.Contacts.Select(c => c.Value<string>("id")).Order(), ledger.Select(r => r.GetString("CrmId")).Order());
        var runs = await h.Runs.RecentAsync(h.Tenant, 200, default);
        Assert.True(runs.Where(r => r.Kind == "push").Sum(r => r.Merged) >= merges);

        // Settled: the next Reconcile calls HubSpot for nothing.
        var calls = hubspot.Requests.Count;
        await driver.InvokeTimerAsync(Reconcile.Name);
        await driver.RunAsync();
        Assert.Equal(calls, hubspot.Requests.Count);
    }

    [Fact]
    public async Task EveryCrmAndModule_AcceptsWhatThePipelineSends_HubSpot_FxiaokeContactAndAccount_Zoho()
    {
        await _scenario.DisposeAsync();
        _scenario = await PipelineScenario.StartAsync(people: 60, shopifyOrders: 100, youzanOrders: 80, allCrms: true);
        var fx = _scenario.Fxiaoke!;
        fx.CallsPerWindow = 100_000; // the pacing is the connector tests' business; here only the payloads matter
        await using var h = Harness(v => v["Hub:Connectors:Fxiaoke:CallsPerWindow"] = "100000");
        var driver = await BackfillAsync(h);

        Assert.Empty(driver.Errors);
        AssertOneContactPerPerson();
        var expected = _scenario.ExpectedOrderCounts();
        var push = h.Services.GetRequiredService<PushStore>();
        Assert.Empty(await push.FailuresAsync(h.Tenant, "zoho", "open", 1000, default));
        Assert.Empty(await push.FailuresAsync(h.Tenant, "fx", "open", 1000, default));

        // HubSpot matches on email: every profile with one is a contact; those without are kept as MAPPING failures.
        var hubspot = _scenario.HubSpot!.Contacts;
        var hubspotFailures = await push.FailuresAsync(h.Tenant, "hubspot", "open", 1000, default);
        Assert.All(hubspotFailures, f => Assert.Equal("MAPPING", f.GetString("Code")));
        Assert.Equal(expected.Count, hubspot.Count + hubspotFailures.Count);
        Assert.NotEmpty(hubspot);
        Assert.All(hubspot, c =>
        {
            Assert.Equal(expected[PipelineScenario.IndexOfEmail(c.Value<string>("email")!)], c.Value<int>("hub_order_count"));
            Assert.False(string.IsNullOrEmpty(c.Value<string>("hub_rfm_tier")));
            Assert.False(string.IsNullOrEmpty(c.Value<string>("hub_vip_level")));
        });

        // 纷享销客: one ContactObj and one AccountObj per real person, each carrying the segments.
        foreach (var module in new[] { "ContactObj", "AccountObj" })
        {
            var records = fx.RecordsOf(module);
            Assert.Equal(expected.Count, records.Count);
            Assert.Equal(expected.Count, records.Select(r => r.Value<string>("hub_profile_id__c")).Distinct().Count());
            Assert.All(records, r => Assert.False(string.IsNullOrEmpty(r.Value<string>("rfm_tier__c"))));
            Assert.Equal(expected.Values.Order(), records.Select(r => r.Value<int>("order_count__c")).Order());
        }

        Assert.Contains(fx.RecordsOf("AccountObj"), r => r["tel"] is not null);
    }

    private delegate bool HeldRow(string key, out TableEntity? row);
}

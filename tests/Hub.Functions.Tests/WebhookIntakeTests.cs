using System.Collections.Concurrent;
using Hub.Connectors;
using Hub.Functions.Functions;
using Hub.Functions.Hosting;
using Hub.Functions.State;
using Hub.Functions.Sync;
using Hub.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Newtonsoft.Json.Linq;
using Xunit;

namespace Hub.Functions.Tests;

/// <summary>
/// The webhook answer waits for the Inbox write only (ADR 0023). Ingest messages follow it: at once for a quiet
/// connection, else several events to a message after the linger, in the order the events were stored. An event whose message never went is sent by Reconcile, so an
/// acknowledged delivery is never lost.
/// </summary>
[Collection(AzuriteFixture.Collection)]
public sealed class WebhookIntakeTests
{
    /// <summary>An ingest queue whose sends wait for the test, then fail or are kept here (none reaches Azurite's shared queue).</summary>
    private sealed class HeldQueue(IConfiguration configuration) : IngestQueue(configuration)
    {
        public SemaphoreSlim Release { get; } = new(0);

        public bool Refuse { get; set; }

        public int Attempts;

        public ConcurrentQueue<string[]> Sent { get; } = new();

        public override async Task SendAsync(string tenant, string connectionId, IReadOnlyList<string> inboxKeys, CancellationToken ct)
        {
            Interlocked.Increment(ref Attempts);
            await Release.WaitAsync(ct);
            if (Refuse)
            {
                throw new Azure.RequestFailedException(503, "The queue service is unavailable.");
            }

            Sent.Enqueue([.. inboxKeys]);
        }
    }

    private static SyncHarness Harness(out HeldQueue queue, string linger = "00:00:00.050")
    {
        HeldQueue? made = null;
        var harness = new SyncHarness(v => v["Hub:Sync:IngestLinger"] = linger, replace: (services, configuration) =>
        {
            made = new HeldQueue(configuration);
            services.AddSingleton<IngestQueue>(made);
        });
        queue = made!;
        return harness;
    }

    private static WebhookEvent Upsert(string id) =>
        new("orders/updated", $"orders/updated|{id}", WebhookEventKind.Upsert, "orders", [new JObject { ["id"] = id }], null);

    private static string Key(string id) => InboxStore.KeyOf("c1", $"orders/updated|{id}");

    [Fact]
    public async Task TheAnswerWaitsForTheInboxOnly_EventsStoredWhileAMessageIsSentShareTheNextOne()
    {
        await using var h = Harness(out var queue);
        var intake = h.Services.GetRequiredService<WebhookIntake>();
        var inbox = h.Services.GetRequiredService<InboxStore>();

        // Answered before any message goes: the event is in the Inbox.
        Assert.Equal((true, InboxStore.Received), await intake.AddAsync(h.Tenant, "c1", Upsert("1"), 100, default).WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(InboxStore.Received, (await inbox.GetAsync(h.Tenant, Key("1"), default))!.Status);
        await Until.TrueAsync(() => queue.Attempts == 1); // after the linger; the send is held

        // Three more deliveries (one of them twice) are answered while that message is held, and share the next one.
        foreach (var id in new[] { "2", "3", "2", "4" })
        {
            await intake.AddAsync(h.Tenant, "c1", Upsert(id), 100, default).WaitAsync(TimeSpan.FromSeconds(10));
        }

        queue.Release.Release(10);
        await Until.TrueAsync(() => queue.Sent.Count == 2);
        Assert.Equal([[Key("1")], [Key("2"), Key("3"), Key("4")]], queue.Sent.ToList());
        Assert.Equal(0, h.Services.GetRequiredService<IngestBatcher>().Unsent);
    }

    [Fact]
    public async Task AQuietConnectionsEventGoesAtOnce_TheNextOnesWaitOutTheLinger_AndADeleteGoesAtOnceAfterThem()
    {
        await using var h = Harness(out var queue, linger: "00:10:00"); // a linger the test would never see end
        queue.Release.Release(10);
        var intake = h.Services.GetRequiredService<WebhookIntake>();

        // Nothing sent lately for this connection: its message goes without waiting for the linger.
        await intake.AddAsync(h.Tenant, "c1", Upsert("1"), 100, default);
        await Until.TrueAsync(() => queue.Sent.Count == 1);
        Assert.Equal([Key("1")], queue.Sent.Single());

        // Within the linger of that message: these wait, and a delete takes them along at once, ahead of itself.
        await intake.AddAsync(h.Tenant, "c1", Upsert("2"), 100, default);
        await intake.AddAsync(h.Tenant, "c1", Upsert("3"), 100, default);
        await Task.Delay(200);
        Assert.Single(queue.Sent);
        var delete = new WebhookEvent("orders/delete", "orders/delete|1", WebhookEventKind.Delete, "orders", [new JObject { ["id"] = "1" }], null);
        await intake.AddAsync(h.Tenant, "c1", delete, 100, default);

        await Until.TrueAsync(() => queue.Sent.Count == 3);
        Assert.Equal([[Key("1")], [Key("2"), Key("3")], [InboxStore.KeyOf("c1", "orders/delete|1")]], queue.Sent.ToList());

        // Another connection is quiet: its event does not wait behind c1's linger.
        await intake.AddAsync(h.Tenant, "c2", Upsert("9"), 100, default);
        await Until.TrueAsync(() => queue.Sent.Count == 4);
        Assert.Equal([InboxStore.KeyOf("c2", "orders/updated|9")], queue.Sent.Last());
    }

    [Fact]
    public async Task AnAcknowledgedEventWhoseIngestMessageIsRefused_StaysInTheInbox_AndReconcileSendsIt()
    {
        await using var h = Harness(out var queue);
        queue.Refuse = true;
        queue.Release.Release(10);
        await h.AddConnectionAsync(new { });
        var intake = h.Services.GetRequiredService<WebhookIntake>();
        var batcher = h.Services.GetRequiredService<IngestBatcher>();

        Assert.Equal((true, InboxStore.Received), await intake.AddAsync(h.Tenant, "c1", Upsert("7"), 100, default));
        await Until.TrueAsync(() => batcher.Unsent == 1);
        Assert.Empty(queue.Sent);

        // Not yet: the event is younger than the redrive delay (its message may still be on its way).
        var reconcile = h.Services.GetRequiredKeyedService<IFunction>(Reconcile.Name);
        var early = await reconcile.InvokeAsync(SyncHarness.Timer(), default);
        Assert.DoesNotContain(early.Messages(Reconcile.IngestOutput), m => m.Value<string>("tenantId") == h.Tenant);

        h.Clock.Advance(TimeSpan.FromMinutes(3));
        var later = await reconcile.InvokeAsync(SyncHarness.Timer(), default);
        var resent = Assert.Single(later.Messages(Reconcile.IngestOutput), m => m.Value<string>("tenantId") == h.Tenant);
        Assert.Equal(Key("7"), resent.Value<string>("inboxKey"));
    }
}

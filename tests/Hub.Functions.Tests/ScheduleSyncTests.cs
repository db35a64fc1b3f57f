using Hub.Functions.Functions;
using Hub.Functions.State;
using Hub.Testing;
using Xunit;

namespace Hub.Functions.Tests;

[Collection(AzuriteFixture.Collection)]
public class ScheduleSyncTests
{
    [Fact]
    public async Task ScheduleSync_DueStream_QueuesOneRunAndRecordsTheTick()
    {
        await using var h = new SyncHarness();
        await h.AddConnectionAsync(new { pages = 1 });

        var result = await h.TickAsync();

        var message = SyncHarness.Message(result, ScheduleSync.PullOutput);
        Assert.Equal((h.Tenant, "c1", "orders", 0), (message.TenantId, message.ConnectionId, message.Stream, message.Seq));
        var run = await h.Runs.GetAsync(h.Tenant, message.RunId, default);
        Assert.Equal(RunStatus.Queued, run!.Status);
        var ticks = await h.Runs.RecentAsync(HubTables.SystemPartition, 5, default);
        Assert.Equal(1, Assert.Single(ticks).Enqueued);
    }

    [Fact]
    public async Task ScheduleSync_RunInProgress_QueuesNothingMore()
    {
        await using var h = new SyncHarness();
        var connection = await h.AddConnectionAsync(new { pages = 1 });
        connection.IntervalMinutes = 5;
        await h.Connections.UpsertAsync(connection, default);
        await h.TickAsync();
        h.Clock.Advance(TimeSpan.FromMinutes(10)); // due again, but the first run has not finished (nor is it stale)

        var second = await h.TickAsync();

        Assert.Equal(0, second.MessageCount(ScheduleSync.PullOutput));
    }

    [Fact]
    public async Task ScheduleSync_AfterInterval_StartsNextRunFromTheBookmark()
    {
        await using var h = new SyncHarness();
        await h.AddConnectionAsync(new { pages = 1, perPage = 3 }, backfillStart: h.Clock.GetUtcNow().AddDays(-1));
        var first = SyncHarness.Message(await h.TickAsync(), ScheduleSync.PullOutput);
        await h.PullAsync(first);
        h.Clock.Advance(TimeSpan.FromMinutes(30));
        Assert.Equal(0, (await h.TickAsync()).MessageCount(ScheduleSync.PullOutput)); // not due yet (hourly)
        h.Clock.Advance(TimeSpan.FromMinutes(31));

        var next = SyncHarness.Message(await h.TickAsync(), ScheduleSync.PullOutput);

        var cursor = await h.Cursors.GetAsync(h.Tenant, "c1", "orders", default);
        Assert.NotEqual(first.RunId, next.RunId);
        Assert.Equal(cursor!.Bookmark, cursor.WindowStart);
        Assert.Equal(h.Clock.GetUtcNow(), cursor.WindowEnd);
    }

    [Fact]
    public async Task ScheduleSync_StuckRun_ResendsItsPendingPage()
    {
        await using var h = new SyncHarness(OnePagePerMessage);
        await h.AddConnectionAsync(new { pages = 3 });
        var first = SyncHarness.Message(await h.TickAsync(), ScheduleSync.PullOutput);
        await h.PullAsync(first); // page 1's message is then lost
        h.Clock.Advance(TimeSpan.FromMinutes(16));

        var resent = SyncHarness.Message(await h.TickAsync(), ScheduleSync.PullOutput);

        Assert.Equal((first.RunId, 1), (resent.RunId, resent.Seq));
        Assert.Equal(0, (await h.TickAsync()).MessageCount(ScheduleSync.PullOutput)); // progress stamped: not again at once
    }

    private static void OnePagePerMessage(Dictionary<string, string?> c) => c["Hub:Sync:PullPages"] = "1";

    [Fact]
    public async Task ScheduleSync_PrunesItsOwnTicksPastRetention_AndKeepsRecentOnes()
    {
        await using var h = new SyncHarness();
        await h.TickAsync();
        await h.TickAsync();
        h.Clock.Advance(TimeSpan.FromDays(8));
        await h.TickAsync();

        var ticks = await h.Runs.RecentAsync(HubTables.SystemPartition, 10, default);

        var tick = Assert.Single(ticks);
        Assert.Equal(h.Clock.GetUtcNow(), tick.StartedAt);
    }

    [Fact]
    public async Task ScheduleSync_PausedConnection_IsSkipped()
    {
        await using var h = new SyncHarness();
        await h.AddConnectionAsync(new { pages = 1 }, status: ConnectionStatus.Paused);

        Assert.Equal(0, (await h.TickAsync()).MessageCount(ScheduleSync.PullOutput));
    }

    [Fact]
    public async Task ScheduleSync_TwoSchedulersAtOnce_StartOneRun()
    {
        await using var h = new SyncHarness();
        await h.AddConnectionAsync(new { pages = 1 });

        var results = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => h.TickAsync()));

        Assert.Equal(1, results.Sum(r => r.MessageCount(ScheduleSync.PullOutput)));
    }
}

using Hub.Functions.Functions;
using Hub.Functions.State;
using Hub.Functions.Sync;
using Hub.Testing;
using Hub.Testing.Connectors;
using Xunit;

namespace Hub.Functions.Tests;

[Collection(AzuriteFixture.Collection)]
public class PullStreamTests
{
    /// <summary>The page-per-message rules (redelivery, duplicates) are easiest to see one page at a time.</summary>
    private static void OnePagePerMessage(Dictionary<string, string?> c) => c["Hub:Sync:PullPages"] = "1";

    [Fact]
    public async Task PullStream_SeveralPagesInOneInvocation_EachFetchedOnce_ThenHandsOnTheRest()
    {
        await using var h = new SyncHarness(c => c["Hub:Sync:PullPages"] = "2");
        await h.AddConnectionAsync(new { pages = 5, perPage = 3 }, backfillStart: h.Clock.GetUtcNow().AddDays(-2));
        var first = SyncHarness.Message(await h.TickAsync(), ScheduleSync.PullOutput);

        var one = await h.PullAsync(first);
        var third = SyncHarness.Message(one, PullStream.NextOutput);
        Assert.Equal(2, third.Seq);
        Assert.Equal(2, ScriptedStoreConnector.Calls(h.Tenant, "c1")); // no page fetched ahead beyond the two
        var fifth = SyncHarness.Message(await h.PullAsync(third), PullStream.NextOutput);
        var last = await h.PullAsync(fifth);

        Assert.Equal(0, last.MessageCount(PullStream.NextOutput));
        Assert.Equal(5, ScriptedStoreConnector.Calls(h.Tenant, "c1"));
        var run = await h.Runs.GetAsync(h.Tenant, first.RunId, default);
        Assert.Equal((RunStatus.Succeeded, 5, 15), (run!.Status, run.Pages, run.Records));
        var cursor = await h.Cursors.GetAsync(h.Tenant, "c1", "orders", default);
        Assert.Equal((5, (string?)null), (cursor!.Seq, cursor.PageCursor));
        Assert.Equal(cursor.WindowStart!.Value.AddMinutes(15), cursor.Bookmark);
    }

    [Fact]
    public async Task PullStream_ALaterPageFails_ThePagesBeforeItKeepTheirResolveMessages_AndAFreshMessageRetriesIt()
    {
        await using var h = new SyncHarness();
        await h.AddConnectionAsync(new { pages = 3, perPage = 2, failTimes = 1, failFromPage = 2 });
        var first = SyncHarness.Message(await h.TickAsync(), ScheduleSync.PullOutput);

        // No exception: pages 0 and 1 are stored, page 2 fails. Returning (not throwing) is what sends the resolve
        // messages of the two pages (PipelineTests backfill through it with the Shopify sandbox).
        var one = await h.PullAsync(first);

        var retry = SyncHarness.Message(one, PullStream.NextOutput);
        Assert.Equal(2, retry.Seq);
        var run = await h.Runs.GetAsync(h.Tenant, first.RunId, default);
        Assert.Equal((RunStatus.Running, 2, 1), (run!.Status, run.Pages, run.Failures));
        Assert.Contains("Scripted failure", run.Error, StringComparison.Ordinal);

        var two = await h.PullAsync(retry);

        Assert.Equal(0, two.MessageCount(PullStream.NextOutput));
        run = await h.Runs.GetAsync(h.Tenant, first.RunId, default);
        Assert.Equal((RunStatus.Succeeded, 3, 6), (run!.Status, run.Pages, run.Records));
        Assert.Equal(4, ScriptedStoreConnector.Calls(h.Tenant, "c1")); // three pages and the failed attempt
    }

    [Fact]
    public async Task PullStream_TwoDeliveriesOfOnePageAtOnce_OneMovesTheCursor_TheOtherEndsQuietlyWithoutANextPage()
    {
        await using var h = new SyncHarness(OnePagePerMessage);
        await h.AddConnectionAsync(new { pages = 3, perPage = 2, delayMs = 300 });
        var first = SyncHarness.Message(await h.TickAsync(), ScheduleSync.PullOutput);

        var both = await Task.WhenAll(h.PullAsync(first), h.PullAsync(first)); // neither throws

        Assert.Equal(1, both.Sum(r => r.MessageCount(PullStream.NextOutput)));
        Assert.Single(both, r => r.Logs.Any(l => l.Contains("moved by another invocation", StringComparison.Ordinal)));
        Assert.Equal(1, (await h.Runs.GetAsync(h.Tenant, first.RunId, default))!.Pages);
        Assert.Equal(1, (await h.Cursors.GetAsync(h.Tenant, "c1", "orders", default))!.Seq);
    }

    [Fact]
    public async Task PullStream_RedeliveryAfterSeveralPagesWereWritten_SendsTheFirstPageNotDone()
    {
        await using var h = new SyncHarness(c => c["Hub:Sync:PullPages"] = "3");
        await h.AddConnectionAsync(new { pages = 5, perPage = 2 });
        var first = SyncHarness.Message(await h.TickAsync(), ScheduleSync.PullOutput);
        await h.PullAsync(first); // three pages stored; the output is "lost" and the host redelivers the trigger

        var redelivered = await h.PullAsync(first, deliveryCount: 2);

        Assert.Equal(3, SyncHarness.Message(redelivered, PullStream.NextOutput).Seq);
        Assert.Equal(3, ScriptedStoreConnector.Calls(h.Tenant, "c1")); // nothing fetched again
        Assert.Equal(3, (await h.Runs.GetAsync(h.Tenant, first.RunId, default))!.Pages);
    }

    [Fact]
    public async Task PullStream_ThreePages_FollowsCursorToTheEndAndSetsBookmark()
    {
        await using var h = new SyncHarness(OnePagePerMessage);
        await h.AddConnectionAsync(new { pages = 3, perPage = 4 }, backfillStart: h.Clock.GetUtcNow().AddDays(-2));
        var first = SyncHarness.Message(await h.TickAsync(), ScheduleSync.PullOutput);

        var second = SyncHarness.Message(await h.PullAsync(first), PullStream.NextOutput);
        var third = SyncHarness.Message(await h.PullAsync(second), PullStream.NextOutput);
        var last = await h.PullAsync(third);

        Assert.Equal(0, last.MessageCount(PullStream.NextOutput));
        var run = await h.Runs.GetAsync(h.Tenant, first.RunId, default);
        Assert.Equal(RunStatus.Succeeded, run!.Status);
        Assert.Equal(3, run.Pages);
        Assert.Equal(12, run.Records);
        var cursor = await h.Cursors.GetAsync(h.Tenant, "c1", "orders", default);
        // The scripted store's last record is 12 minutes after the window start: bookmark = min(syncStart, maxSeen).
        Assert.Equal(cursor!.WindowStart!.Value.AddMinutes(12), cursor.Bookmark);
        Assert.Null(cursor.PageCursor);
        Assert.Equal(3, cursor.Seq);
    }

    [Fact]
    public async Task PullStream_MaxSeenAfterSyncStart_BookmarkStopsAtSyncStart()
    {
        await using var h = new SyncHarness();
        // Window of 5 minutes, records stamped up to 12 minutes in: updated during the read.
        await h.AddConnectionAsync(new { pages = 1, perPage = 12 }, backfillStart: h.Clock.GetUtcNow().AddMinutes(-5));
        var first = SyncHarness.Message(await h.TickAsync(), ScheduleSync.PullOutput);

        await h.PullAsync(first);

        var cursor = await h.Cursors.GetAsync(h.Tenant, "c1", "orders", default);
        Assert.Equal(cursor!.WindowEnd, cursor.Bookmark);
    }

    [Fact]
    public async Task PullStream_DuplicateDelivery_PullsThePageOnce()
    {
        await using var h = new SyncHarness(OnePagePerMessage);
        await h.AddConnectionAsync(new { pages = 2, perPage = 5 });
        var first = SyncHarness.Message(await h.TickAsync(), ScheduleSync.PullOutput);

        await h.PullAsync(first);
        var duplicate = await h.PullAsync(first);

        Assert.Equal(0, duplicate.MessageCount(PullStream.NextOutput));
        var run = await h.Runs.GetAsync(h.Tenant, first.RunId, default);
        Assert.Equal(1, run!.Pages);
        Assert.Equal(5, run.Records);
    }

    [Fact]
    public async Task PullStream_RedeliveryAfterCursorWasWritten_SendsTheNextPageAgain()
    {
        await using var h = new SyncHarness(OnePagePerMessage);
        await h.AddConnectionAsync(new { pages = 3, perPage = 2 });
        var first = SyncHarness.Message(await h.TickAsync(), ScheduleSync.PullOutput);
        await h.PullAsync(first); // its output is "lost": the host redelivers the trigger

        var redelivered = await h.PullAsync(first, deliveryCount: 2);

        var next = SyncHarness.Message(redelivered, PullStream.NextOutput);
        Assert.Equal(1, next.Seq);
        Assert.Equal(1, (await h.Runs.GetAsync(h.Tenant, first.RunId, default))!.Pages);
    }

    [Fact]
    public async Task PullStream_TransientFailure_ThrowsSoTheHostRedelivers_ThenSucceeds()
    {
        await using var h = new SyncHarness();
        await h.AddConnectionAsync(new { pages = 1, perPage = 2, failTimes = 1 });
        var first = SyncHarness.Message(await h.TickAsync(), ScheduleSync.PullOutput);

        await Assert.ThrowsAsync<Hub.Connectors.ConnectorTransientException>(() => h.PullAsync(first));
        await h.PullAsync(first, deliveryCount: 2);

        var run = await h.Runs.GetAsync(h.Tenant, first.RunId, default);
        Assert.Equal(RunStatus.Succeeded, run!.Status);
        Assert.Equal(2, run.Attempts);
        Assert.Equal(1, run.Failures);
        Assert.Equal(2, run.LastDeliveryCount);
    }

    [Fact]
    public async Task PullStream_FailureOnLastDelivery_MarksRunFailedButKeepsTheCursorForReplay()
    {
        await using var h = new SyncHarness(c => c["Hub:Sync:MaxDeliveryCount"] = "3");
        await h.AddConnectionAsync(new { alwaysFail = true });
        var first = SyncHarness.Message(await h.TickAsync(), ScheduleSync.PullOutput);

        await Assert.ThrowsAsync<Hub.Connectors.ConnectorTransientException>(() => h.PullAsync(first, deliveryCount: 3));

        var run = await h.Runs.GetAsync(h.Tenant, first.RunId, default);
        Assert.Equal(RunStatus.Failed, run!.Status);
        Assert.Contains("dead-lettered", run.Error, StringComparison.Ordinal);
        var cursor = await h.Cursors.GetAsync(h.Tenant, "c1", "orders", default);
        Assert.Equal(first.RunId, cursor!.RunId);
        Assert.Equal(0, cursor.Seq);
    }

    [Fact]
    public async Task PullStream_ValidationError_FailsTheRunWithoutRetry()
    {
        await using var h = new SyncHarness();
        await h.AddConnectionAsync(new { validationError = true });
        var first = SyncHarness.Message(await h.TickAsync(), ScheduleSync.PullOutput);

        var result = await h.PullAsync(first); // no exception: the host must not retry

        Assert.Equal(0, result.MessageCount(PullStream.NextOutput));
        var run = await h.Runs.GetAsync(h.Tenant, first.RunId, default);
        Assert.Equal(RunStatus.Failed, run!.Status);
        Assert.Contains("rejected the credentials", run.Error, StringComparison.Ordinal);
        Assert.Null((await h.Cursors.GetAsync(h.Tenant, "c1", "orders", default))!.RunId);
    }

    [Fact]
    public async Task PullStream_ConnectorSaysMoreButGivesNoCursor_FailsTheRunWithoutRetry()
    {
        await using var h = new SyncHarness();
        await h.AddConnectionAsync(new { moreWithoutCursor = true });
        var first = SyncHarness.Message(await h.TickAsync(), ScheduleSync.PullOutput);

        var result = await h.PullAsync(first); // no exception: redelivering would fail the same way

        Assert.Equal(0, result.MessageCount(PullStream.NextOutput));
        var run = await h.Runs.GetAsync(h.Tenant, first.RunId, default);
        Assert.Equal(RunStatus.Failed, run!.Status);
        Assert.Contains("no cursor", run.Error, StringComparison.Ordinal);
        var cursor = await h.Cursors.GetAsync(h.Tenant, "c1", "orders", default);
        Assert.Null(cursor!.RunId);
        Assert.Null(cursor.Bookmark); // nothing advanced
    }

    [Fact]
    public async Task PullStream_MessageOfAnOlderRun_IsIgnored()
    {
        await using var h = new SyncHarness();
        await h.AddConnectionAsync(new { pages = 1 });
        var first = SyncHarness.Message(await h.TickAsync(), ScheduleSync.PullOutput);

        var result = await h.PullAsync(first with { RunId = "an-older-run" });

        Assert.Equal(0, result.MessageCount(PullStream.NextOutput));
        Assert.Equal(0, (await h.Runs.GetAsync(h.Tenant, first.RunId, default))!.Pages);
    }

    [Fact]
    public async Task PullStream_PausedConnection_CancelsTheRun()
    {
        await using var h = new SyncHarness();
        var connection = await h.AddConnectionAsync(new { pages = 2 });
        var first = SyncHarness.Message(await h.TickAsync(), ScheduleSync.PullOutput);
        connection.Status = ConnectionStatus.Paused;
        await h.Connections.UpsertAsync(connection, default);

        await h.PullAsync(first);

        Assert.Equal(RunStatus.Cancelled, (await h.Runs.GetAsync(h.Tenant, first.RunId, default))!.Status);
    }

    [Fact]
    public async Task PullStream_MalformedMessage_IsADecodingError()
    {
        await using var h = new SyncHarness();

        await Assert.ThrowsAsync<Hub.Functions.Hosting.InvocationDecodingException>(() =>
            h.Puller.InvokeAsync(SyncHarness.ServiceBus(new { tenantId = "t" }, 1), default));
    }
}

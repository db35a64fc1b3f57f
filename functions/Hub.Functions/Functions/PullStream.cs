using Hub.Connectors;
using Hub.Functions.Hosting;
using Hub.Functions.State;
using Hub.Functions.Sync;
using Microsoft.Extensions.Options;

namespace Hub.Functions.Functions;

/// <summary>
/// <c>pull</c> trigger. Pulls the page a message names from the connection's store connector, and up to
/// <c>Hub:Sync:PullPages</c> pages after it (each fetched while the one before is stored), stores the new cursor (ETag)
/// and the outcome on the Run once for them all, and sends the next page's message while more remains (ADR 0022).
/// Idempotent: the message carries the page sequence it expects, and a page already done is not pulled again.
/// When a window ends the bookmark becomes min(syncStart, maxSeen), so a record updated during the read is read
/// again next time rather than skipped.
/// </summary>
public sealed class PullStream(
    ConnectionStore connections,
    CursorStore cursors,
    RunStore runs,
    ConnectionContexts contexts,
    RecordStore records,
    RulesProvider rules,
    PushPlanner planner,
    IServiceProvider services,
    TimeProvider clock,
    IOptions<SyncOptions> options,
    ILogger<PullStream> logger) : IFunction
{
    public const string Name = nameof(PullStream);
    public const string NextOutput = "next";
    public const string ResolveOutput = "resolve";
    public const string PushOutput = "push";

    public async Task<InvocationResult> InvokeAsync(Invocation invocation, CancellationToken cancellationToken)
    {
        var message = invocation.Read<PullMessage>("message");
        ValidateMessage(message);
        var result = new InvocationResult();
        var tenant = message.TenantId;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var cursor = await cursors.GetAsync(tenant, message.ConnectionId, message.Stream, cancellationToken);
        if (cursor is null || cursor.RunId != message.RunId)
        {
            result.Logs.Add($"Stale pull for run {message.RunId}: the stream has moved on to run {cursor?.RunId ?? "(none)"}.");
            return result;
        }

        if (cursor.Seq != message.Seq)
        {
            // Already done. If this is a redelivery, the previous attempt may have written the cursor (for one page or
            // several) and then failed before its output was sent: send the next page again (a duplicate is harmless).
            if (cursor.Seq > message.Seq && invocation.DeliveryCount > 1 && cursor.PageCursor is not null && cursor.RunId == message.RunId)
            {
                result.Send(NextOutput, message with { Seq = cursor.Seq });
            }

            result.Logs.Add($"Page {message.Seq} of run {message.RunId} already done (cursor at {cursor.Seq}).");
            return result;
        }

        var now = clock.GetUtcNow();
        var run = await runs.GetAsync(tenant, message.RunId, cancellationToken) ?? new RunEntity
        {
            PartitionKey = tenant,
            RowKey = message.RunId,
            Kind = "pull",
            Trigger = "recovered",
            ConnectionId = message.ConnectionId,
            Stream = message.Stream,
            StartedAt = now,
            WindowStart = cursor.WindowStart,
            WindowEnd = cursor.WindowEnd,
        };
        if (RunStatus.IsFinished(run.Status) && run.Status != RunStatus.Failed)
        {
            result.Logs.Add($"Run {run.RowKey} is already {run.Status}.");
            return result;
        }

        run.Status = RunStatus.Running;
        run.Attempts++;
        run.LastDeliveryCount = invocation.DeliveryCount;
        run.UpdatedAt = now;
        run.FinishedAt = null;

        var connection = await connections.GetAsync(tenant, message.ConnectionId, cancellationToken);
        if (connection is null || connection.Status != ConnectionStatus.Active)
        {
            await FinishAsync(cursor, run, RunStatus.Cancelled, connection is null ? "connection removed" : "connection paused", cancellationToken);
            return result;
        }

        var connector = services.GetKeyedService<IStoreConnector>(connection.ConnectorId);
        if (connector is null || connector.Info.FindStream(message.Stream) is null)
        {
            await FinishAsync(cursor, run, RunStatus.Failed, $"connector '{connection.ConnectorId}' has no stream '{message.Stream}'", cancellationToken);
            return result;
        }

        // A refreshed OAuth token is stored at once: the old refresh token no longer works (Shopify rotates it).
        var context = await contexts.ForAsync(connection, cancellationToken);
        var windowStart = cursor.WindowStart ?? now - options.Value.DefaultLookback;
        var windowEnd = cursor.WindowEnd ?? now;
        var ruleSet = await rules.ForTenantAsync(tenant, cancellationToken);
        var region = context.Settings.Value<string>("region");
        // A connector that throws before its first await still gives a faulted task, handled where the page is awaited.
        async Task<PullPage> Fetch(string? pageCursor) => await connector.PullAsync(new PullRequest(context, message.Stream, pageCursor, windowStart, windowEnd), cancellationToken);

        // Up to PullPages pages in one invocation, each fetched while the one before it is stored, so the store's
        // pace (its throttle) is the pull's pace. The cursor moves past them all at the end, just before the resolve
        // messages of all of them go: a crash in between re-reads the pages (storing is idempotent, and records still
        // unresolved are sent to resolve again), so no resolve message is lost with the process.
        var fetch = Fetch(cursor.PageCursor);
        var seq = message.Seq;
        var pagesHere = 0;
        string? stopped = null;
        while (true)
        {
            var fetchStart = watch.ElapsedMilliseconds;
            PullPage page;
            try
            {
                page = await fetch;
            }
            catch (ConnectorValidationException ex)
            {
                // Retrying cannot help: fail the run with the platform's words, free the stream for the next schedule.
                await FinishAsync(cursor, run, RunStatus.Failed, ex.Message, cancellationToken);
                result.Logs.Add($"Run {run.RowKey} failed: {ex.Message}");
                return result;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                run.Failures++;
                run.Error = $"delivery {invocation.DeliveryCount}: {ex.Message}";
                if (pagesHere > 0)
                {
                    // A later page of this invocation: the pages before it are stored, and the cursor moves past them
                    // as their resolve messages go. A fresh message tries this page again, with its own deliveries
                    // (throwing would have the host redeliver the first page, already done).
                    stopped = $"page {seq} failed and is sent again: {ex.Message}";
                    break;
                }

                if (invocation.DeliveryCount >= options.Value.MaxDeliveryCount)
                {
                    // Last delivery: the host dead-letters the message. The run says so; the cursor keeps its place, so
                    // replaying the dead-lettered message resumes this very page.
                    run.Status = RunStatus.Failed;
                    run.Error = $"gave up after {invocation.DeliveryCount} deliveries; message dead-lettered: {ex.Message}";
                    run.FinishedAt = clock.GetUtcNow();
                }

                await runs.UpsertAsync(run, cancellationToken);
                throw;
            }

            if (page.HasMore && page.NextCursor is null)
            {
                // A connector bug: retrying cannot fix it, so the run fails now instead of after every redelivery.
                await FinishAsync(cursor, run, RunStatus.Failed, $"connector '{connection.ConnectorId}' said more pages follow but gave no cursor", cancellationToken);
                return result;
            }

            pagesHere++;
            var fetchMs = watch.ElapsedMilliseconds - fetchStart;
            Task<PullPage>? next = page.HasMore && pagesHere < options.Value.PullPages && watch.Elapsed < options.Value.PullBudget ? Fetch(page.NextCursor) : null;
            try
            {
                // Store the records before the cursor moves: a crash in between re-reads the page, and storing is
                // idempotent. A backfill's records are mostly new: added without reading first (RecordStore).
                var storeStart = watch.ElapsedMilliseconds;
                var ingest = await records.IngestAsync(tenant, connection.ConnectorId, connection.RowKey, EntityOf(message.Stream), page.Records, ruleSet, region, clock.GetUtcNow(), cancellationToken, expectNew: cursor.Backfill == true);
                var storeMs = watch.ElapsedMilliseconds - storeStart;
                foreach (var resolve in ResolveMessage.Chunk(tenant, ingest.ToResolve, added: ingest.Added))
                {
                    result.Send(ResolveOutput, resolve);
                }

                await AdvanceAsync(result, cursor, run, page, ingest, seq, windowStart, windowEnd, cancellationToken);
                seq = cursor.Seq;
                result.Logs.Add($"Run {run.RowKey} page {seq - 1}: {page.Records.Count} record(s), more: {page.HasMore}.");
                logger.LogInformation("Pulled page {Seq} of {Tenant}/{Connection}/{Stream}: {Count} records, more {More} in {Ms} ms (fetch {FetchMs} after the store before it, store {StoreMs}, next fetched meanwhile {Prefetch})", seq - 1, tenant, message.ConnectionId, message.Stream, page.Records.Count, page.HasMore, watch.ElapsedMilliseconds - fetchStart, fetchMs, storeMs, next is not null);
            }
            catch (Exception ex) when (pagesHere > 1 && ex is not OperationCanceledException)
            {
                await ObserveAsync(next);
                run.Failures++;
                run.Error = $"page {seq}: {ex.Message}";
                stopped = $"storing page {seq} failed and it is sent again: {ex.Message}";
                break;
            }
            catch
            {
                await ObserveAsync(next);
                throw;
            }

            if (page.HasMore && next is not null)
            {
                fetch = next;
                continue;
            }

            break;
        }

        // If the write itself fails, this throws: the host redelivers, and the pages are read again.
        if (!await SaveAsync(cursor, run, cancellationToken))
        {
            // Another invocation moved the cursor (a duplicate message, or a new run): it carries on from there, and
            // no next message goes from here. These pages' records are stored; their resolve messages still go.
            result.Logs.Add($"Run {run.RowKey}: the cursor was moved by another invocation; stopped after {pagesHere} page(s).");
            return result;
        }

        if (cursor.PageCursor is not null)
        {
            result.Send(NextOutput, message with { Seq = cursor.Seq });
        }

        if (stopped is not null)
        {
            result.Logs.Add($"Run {run.RowKey}: {stopped}");
        }

        return result;
    }

    /// <summary>Writes the cursor (ETag-checked) and then the run; false when someone else moved the cursor.</summary>
    private async Task<bool> SaveAsync(CursorEntity cursor, RunEntity run, CancellationToken ct)
    {
        if (!await cursors.TryWriteAsync(cursor, ct))
        {
            return false;
        }

        run.UpdatedAt = cursor.LastProgressAt ?? clock.GetUtcNow();
        await runs.UpsertAsync(run, ct);
        return true;
    }

    /// <summary>Moves the cursor past a stored page and records the page on the run, in memory (<see cref="SaveAsync"/> writes them).</summary>
    private async Task AdvanceAsync(InvocationResult result, CursorEntity cursor, RunEntity run, PullPage page, IngestResult ingest, int seq, DateTimeOffset windowStart, DateTimeOffset windowEnd, CancellationToken ct)
    {
        cursor.Seq = seq + 1;
        cursor.PageCursor = page.HasMore ? page.NextCursor : null;
        cursor.LastProgressAt = clock.GetUtcNow();
        if (page.MaxUpdatedAt is { } maxOnPage && (cursor.MaxSeen is null || maxOnPage > cursor.MaxSeen))
        {
            cursor.MaxSeen = maxOnPage;
        }

        run.Pages++;
        run.Records += page.Records.Count;
        run.Stored += ingest.Stored;
        run.Invalid += ingest.InvalidCount;
        if (cursor.MaxSeen is { } seen && windowEnd > windowStart)
        {
            run.Progress = Math.Clamp((seen - windowStart) / (windowEnd - windowStart), run.Progress ?? 0, 1);
        }

        var warnings = page.Warnings.Concat(ingest.Invalid.Take(5)).ToList();
        if (warnings.Count > 0)
        {
            var known = (run.Warnings ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries);
            run.Warnings = string.Join('\n', known.Concat(warnings).Distinct(StringComparer.Ordinal).Take(20));
        }

        run.Error = null;
        if (!page.HasMore)
        {
            // min(syncStart, maxSeen): never past the last record seen, never past the moment the read began.
            var maxSeen = cursor.MaxSeen;
            cursor.Bookmark = maxSeen is null ? windowStart : (maxSeen < windowEnd ? maxSeen : windowEnd);
            cursor.LastSuccessAt = cursor.LastProgressAt;
            run.Status = RunStatus.Succeeded;
            run.Progress = 1;
            run.FinishedAt = cursor.LastProgressAt;
            if (cursor.Backfill == true)
            {
                // The pushes held while the backfill read (HoldPushesDuringBackfill) go once its records are resolved.
                cursor.Backfill = null;
                cursor.BackfillEndedAt = cursor.LastProgressAt;
                await NudgePushesAsync(result, run.PartitionKey, ct);
            }
        }

    }

    /// <summary>Waits for a page fetched ahead that will not be stored here, so its failure is not left unobserved.</summary>
    private static async Task ObserveAsync(Task<PullPage>? fetch)
    {
        if (fetch is null)
        {
            return;
        }

        try
        {
            await fetch;
        }
        catch (Exception)
        {
            // The page is fetched again by whoever carries on.
        }
    }

    private async Task NudgePushesAsync(InvocationResult result, string tenant, CancellationToken ct)
    {
        foreach (var target in await planner.TargetsAsync(tenant, ct))
        {
            result.Send(PushOutput, new PushMessage(tenant, target.ConnectionId, target.Module));
        }
    }

    private async Task FinishAsync(CursorEntity cursor, RunEntity run, string status, string? error, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        cursor.RunId = null;
        cursor.Backfill = null;
        cursor.PageCursor = null;
        cursor.LastProgressAt = now;
        if (!await cursors.TryWriteAsync(cursor, ct))
        {
            throw new InvalidOperationException($"Cursor {cursor.RowKey} changed while finishing run {run.RowKey}.");
        }

        run.Status = status;
        run.Error = error;
        run.UpdatedAt = now;
        run.FinishedAt = now;
        await runs.UpsertAsync(run, ct);
    }

    /// <summary>The source rules' entity of a stream: <c>orders</c> hold orders, every other stream members.</summary>
    internal static string EntityOf(string stream) => stream == "orders" ? "order" : "member";

    private static void ValidateMessage(PullMessage message)
    {
        if (string.IsNullOrEmpty(message.TenantId) || string.IsNullOrEmpty(message.ConnectionId) || string.IsNullOrEmpty(message.Stream) || string.IsNullOrEmpty(message.RunId) || message.Seq < 0)
        {
            throw new InvocationDecodingException("A pull message needs tenantId, connectionId, stream, runId and a non-negative seq.");
        }
    }
}

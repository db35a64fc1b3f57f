using Azure;
using Azure.Data.Tables;

namespace Hub.Functions.State;

/// <summary>Connections table: one row per tenant connection.</summary>
public sealed class ConnectionStore(HubTables tables)
{
    public async Task<ConnectionEntity?> GetAsync(string tenantId, string connectionId, CancellationToken ct)
    {
        var table = await tables.GetAsync(HubTables.Connections, ct);
        var response = await table.GetEntityIfExistsAsync<ConnectionEntity>(tenantId, connectionId, cancellationToken: ct);
        return response.HasValue ? response.Value : null;
    }

    public async Task<IReadOnlyList<ConnectionEntity>> ListAsync(string tenantId, CancellationToken ct)
    {
        var table = await tables.GetAsync(HubTables.Connections, ct);
        var list = new List<ConnectionEntity>();
        await foreach (var row in table.QueryAsync<ConnectionEntity>(c => c.PartitionKey == tenantId, cancellationToken: ct))
        {
            list.Add(row);
        }

        return list;
    }

    /// <summary>Every active connection of every tenant: only the scheduler asks this.</summary>
    public async IAsyncEnumerable<ConnectionEntity> ListActiveAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        var table = await tables.GetAsync(HubTables.Connections, ct);
        await foreach (var row in table.QueryAsync<ConnectionEntity>(c => c.Status == ConnectionStatus.Active, cancellationToken: ct))
        {
            yield return row;
        }
    }

    /// <summary>
    /// Points the connection at newly stored secrets (a refreshed token) without overwriting anything else changed
    /// meanwhile (pause, settings): ETag-checked, re-read on conflict.
    /// </summary>
    public async Task UpdateSecretsRefAsync(string tenantId, string connectionId, string secretsRef, CancellationToken ct)
    {
        var table = await tables.GetAsync(HubTables.Connections, ct);
        for (var attempt = 0; ; attempt++)
        {
            var current = await GetAsync(tenantId, connectionId, ct) ?? throw new InvalidOperationException($"Connection {connectionId} was removed.");
            current.SecretsRef = secretsRef;
            try
            {
                await table.UpdateEntityAsync(current, current.ETag, TableUpdateMode.Replace, ct);
                return;
            }
            catch (RequestFailedException ex) when (ex.Status == 412 && attempt < 5)
            {
            }
        }
    }

    public async Task UpsertAsync(ConnectionEntity connection, CancellationToken ct)
    {
        HubTables.ValidateKey(connection.PartitionKey, "tenant");
        HubTables.ValidateKey(connection.RowKey, "connection id");
        var table = await tables.GetAsync(HubTables.Connections, ct);
        await table.UpsertEntityAsync(connection, TableUpdateMode.Replace, ct);
    }
}

/// <summary>Cursors table: per (connection, stream) bookmark and the run that owns the stream.</summary>
public sealed class CursorStore(HubTables tables)
{
    public async Task<CursorEntity?> GetAsync(string tenantId, string connectionId, string stream, CancellationToken ct)
    {
        var table = await tables.GetAsync(HubTables.Cursors, ct);
        var response = await table.GetEntityIfExistsAsync<CursorEntity>(tenantId, CursorEntity.Key(connectionId, stream), cancellationToken: ct);
        return response.HasValue ? response.Value : null;
    }

    /// <summary>
    /// The tenant's backfills: whether one is reading and still makes progress (a stalled one, waiting for the
    /// scheduler to re-send its page, does not count), and when the last one finished reading. One query of the
    /// tenant's few cursor rows.
    /// </summary>
    public async Task<(bool Reading, DateTimeOffset? LastEnded)> BackfillsAsync(string tenantId, DateTimeOffset now, TimeSpan staleAfter, CancellationToken ct)
    {
        var table = await tables.GetAsync(HubTables.Cursors, ct);
        DateTimeOffset? ended = null;
        await foreach (var cursor in table.QueryAsync<CursorEntity>(c => c.PartitionKey == tenantId, select: ["RunId", "Backfill", "BackfillEndedAt", "LastProgressAt"], cancellationToken: ct))
        {
            if (cursor.RunId is not null && cursor.Backfill == true && now - (cursor.LastProgressAt ?? now) < staleAfter)
            {
                return (true, null);
            }

            if (cursor.BackfillEndedAt is { } at && (ended is null || at > ended))
            {
                ended = at;
            }
        }

        return (false, ended);
    }

    /// <summary>
    /// Writes the cursor if nobody changed it since it was read (ETag); a new cursor only if none exists.
    /// Returns false when another writer won: the caller re-reads and decides again.
    /// </summary>
    public async Task<bool> TryWriteAsync(CursorEntity cursor, CancellationToken ct)
    {
        var table = await tables.GetAsync(HubTables.Cursors, ct);
        try
        {
            Response response = cursor.ETag == default
                ? await table.AddEntityAsync(cursor, ct)
                : await table.UpdateEntityAsync(cursor, cursor.ETag, TableUpdateMode.Replace, ct);
            cursor.ETag = response.Headers.ETag ?? cursor.ETag;
            return true;
        }
        catch (RequestFailedException ex) when (ex.Status is 409 or 412)
        {
            return false;
        }
    }
}

/// <summary>Runs table: sync runs and scheduler ticks, newest first.</summary>
public sealed class RunStore(HubTables tables, TimeProvider clock)
{
    /// <summary>A run id that sorts newest first (inverted ticks) and stays unique.</summary>
    public string NewRunId()
    {
        var inverted = DateTimeOffset.MaxValue.UtcTicks - clock.GetUtcNow().UtcTicks;
        return $"{inverted:D19}-{Guid.NewGuid():N}"[..32];
    }

    public async Task<RunEntity?> GetAsync(string partition, string runId, CancellationToken ct)
    {
        var table = await tables.GetAsync(HubTables.Runs, ct);
        var response = await table.GetEntityIfExistsAsync<RunEntity>(partition, runId, cancellationToken: ct);
        return response.HasValue ? response.Value : null;
    }

    public async Task UpsertAsync(RunEntity run, CancellationToken ct)
    {
        var table = await tables.GetAsync(HubTables.Runs, ct);
        var response = await table.UpsertEntityAsync(run, TableUpdateMode.Replace, ct);
        run.ETag = response.Headers.ETag ?? run.ETag;
    }

    /// <summary>
    /// Deletes up to <paramref name="max"/> rows of <paramref name="partition"/> that started before <paramref name="before"/>.
    /// Run ids sort newest first, so the old rows are those whose id sorts after the cut-off's id.
    /// </summary>
    public async Task<int> PruneAsync(string partition, DateTimeOffset before, int max, CancellationToken ct)
    {
        var table = await tables.GetAsync(HubTables.Runs, ct);
        var cutoff = $"{DateTimeOffset.MaxValue.UtcTicks - before.UtcTicks:D19}";
        var deleted = 0;
        await foreach (var row in table.QueryAsync<RunEntity>(r => r.PartitionKey == partition && r.RowKey.CompareTo(cutoff) > 0, maxPerPage: max, select: ["PartitionKey", "RowKey"], cancellationToken: ct))
        {
            await table.DeleteEntityAsync(row.PartitionKey, row.RowKey, ETag.All, ct);
            if (++deleted >= max)
            {
                break;
            }
        }

        return deleted;
    }

    public async Task<IReadOnlyList<RunEntity>> RecentAsync(string partition, int top, CancellationToken ct)
    {
        var table = await tables.GetAsync(HubTables.Runs, ct);
        var list = new List<RunEntity>(top);
        await foreach (var row in table.QueryAsync<RunEntity>(r => r.PartitionKey == partition, maxPerPage: Math.Min(top, 1000), cancellationToken: ct))
        {
            list.Add(row);
            if (list.Count >= top)
            {
                break;
            }
        }

        return list;
    }
}

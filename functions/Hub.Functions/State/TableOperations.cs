using System.Collections.Concurrent;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Data.Tables;

namespace Hub.Functions.State;

/// <summary>
/// Counts the requests this process sends to Table Storage (a batch transaction is one request, as it is billed),
/// in all and by method and table, shown on <c>GET /api/health</c> so the end-to-end benchmark can report operations
/// per order and where they go.
/// </summary>
public static class TableOperations
{
    private static long _count;
    private static readonly ConcurrentDictionary<string, long> ByKind = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, long> RowsInBatches = new(StringComparer.Ordinal);

    public static long Count => Interlocked.Read(ref _count);

    /// <summary>Requests by kind: the method, the Hub table (without the prefix) and whether one row was named, e.g. <c>GET Identities row</c>; transactions are <c>POST $batch</c>.</summary>
    public static IReadOnlyDictionary<string, long> ByKindSnapshot() => ByKind.OrderByDescending(p => p.Value).ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);

    /// <summary>
    /// Rows written inside transactions, by action and table (<c>UpsertReplace Pending</c>): a transaction counts once
    /// as a request, but each of its rows costs the store a write.
    /// </summary>
    public static IReadOnlyDictionary<string, long> RowsInBatchesSnapshot() => RowsInBatches.OrderByDescending(p => p.Value).ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);

    internal static void CountBatch(string tableName, IEnumerable<TableTransactionAction> actions)
    {
        var table = HubTableOf(tableName) ?? "other";
        foreach (var group in actions.GroupBy(a => a.ActionType))
        {
            RowsInBatches.AddOrUpdate($"{group.Key} {table}", group.Count(), (_, n) => n + group.Count());
        }
    }

    public static TableClientOptions Options()
    {
        var options = new TableClientOptions();
        options.AddPolicy(new CountingPolicy(), HttpPipelinePosition.PerCall);
        return options;
    }

    /// <summary>The kind a request is counted under (see <see cref="ByKindSnapshot"/>).</summary>
    internal static string KindOf(string method, string path)
    {
        var segment = path[(path.LastIndexOf('/') + 1)..];
        var paren = segment.IndexOf('(', StringComparison.Ordinal);
        var name = paren < 0 ? segment : segment[..paren];
        var table = HubTableOf(name) ?? (name.StartsWith('$') ? name : "other");
        var row = paren >= 0 && segment.Length > paren + 2 ? " row" : "";
        return $"{method} {table}{row}";
    }

    /// <summary>The Hub table a (prefixed) table name is, or null.</summary>
    private static string? HubTableOf(string name) => HubTables.All.FirstOrDefault(t => name.EndsWith(t, StringComparison.Ordinal));

    private sealed class CountingPolicy : HttpPipelineSynchronousPolicy
    {
        public override void OnSendingRequest(HttpMessage message)
        {
            Interlocked.Increment(ref _count);
            ByKind.AddOrUpdate(KindOf(message.Request.Method.Method, message.Request.Uri.Path), 1, (_, n) => n + 1);
        }
    }
}

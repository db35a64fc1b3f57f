using Azure.Data.Tables;
using Hub.Functions.Hosting;
using Hub.Functions.State;
using Hub.Functions.Sync;
using Newtonsoft.Json.Linq;

namespace Hub.Functions.Functions;

/// <summary>
/// Every live profile of a tenant as <c>resolve</c> messages of at most 100 profile ids: resolving them again
/// recomputes metrics and segments from the profile's records under the tenant's active rules and today's date, and
/// the Ledger lets only payloads that changed reach the CRM.
/// </summary>
public sealed class ProfileSweep(HubTables tables, TimeProvider clock)
{
    public async Task<IReadOnlyList<ResolveMessage>> MessagesAsync(string tenant, CancellationToken ct)
    {
        var table = await tables.GetAsync(HubTables.Profiles, ct);
        var ids = new List<string>();
        await foreach (var row in table.QueryAsync<TableEntity>(r => r.PartitionKey == tenant, select: ["RowKey", "MergedInto"], cancellationToken: ct))
        {
            if (row.GetString("MergedInto") is null)
            {
                ids.Add(row.RowKey);
            }
        }

        // Resolved with rules read after now, so a mapping saved a moment ago applies even where a read is cached.
        var asOf = clock.GetUtcNow();
        return ids.Chunk(ResolveMessage.MaxRecords).Select(chunk => new ResolveMessage(tenant, [], chunk) { RulesAsOf = asOf }).ToList();
    }
}

/// <summary>
/// <c>POST /api/resegment?tenant=</c> (function <c>Resegment</c>, enveloped HTTP with a <c>resolve</c> output): applies
/// the tenant's active mapping to every stored profile now. The setup page calls it after a mapping is saved, rolled
/// back or imported: without it a new rule would reach only customers whose records change. Answers 202 with the
/// number of profiles queued.
/// </summary>
public sealed class Resegment(ProfileSweep sweep, HubAccess access) : IFunction
{
    public const string Name = nameof(Resegment);
    public const string ResolveOutput = "resolve";

    public async Task<InvocationResult> InvokeAsync(Invocation invocation, CancellationToken cancellationToken)
    {
        var request = invocation.ReadObject("req");
        var result = new InvocationResult();
        var (tenant, denied) = await EnvelopedHttp.AuthorizeAsync(access, request, cancellationToken);
        if (denied is not null)
        {
            return result.Set("res", denied);
        }

        var messages = await sweep.MessagesAsync(tenant, cancellationToken);
        foreach (var message in messages)
        {
            result.Send(ResolveOutput, message);
        }

        return result.Set("res", EnvelopedHttp.Response(202, new JObject { ["tenant"] = tenant, ["profiles"] = messages.Sum(m => m.Profiles!.Count), ["messages"] = messages.Count }));
    }
}

/// <summary>
/// Timer <c>%ResegmentCron%</c> (daily in Azure): the re-segmentation sweep. Segments that depend on the date (a
/// customer who stops ordering moves from active to sleeping to churned; RFM recency) change without any new record,
/// so every live profile of every tenant with an active connection is resolved again once a day; only payloads that
/// changed are pushed.
/// </summary>
public sealed class ResegmentDaily(ProfileSweep sweep, ConnectionStore connections, ILogger<ResegmentDaily> logger) : IFunction
{
    public const string Name = nameof(ResegmentDaily);
    public const string ResolveOutput = "resolve";

    public async Task<InvocationResult> InvokeAsync(Invocation invocation, CancellationToken cancellationToken)
    {
        var result = new InvocationResult();
        var tenants = new SortedSet<string>(StringComparer.Ordinal);
        await foreach (var connection in connections.ListActiveAsync(cancellationToken))
        {
            tenants.Add(connection.PartitionKey);
        }

        var total = 0;
        foreach (var tenant in tenants)
        {
            var messages = await sweep.MessagesAsync(tenant, cancellationToken);
            foreach (var message in messages)
            {
                result.Send(ResolveOutput, message);
                total += message.Profiles!.Count;
            }
        }

        logger.LogInformation("Re-segmentation sweep: {Profiles} profile(s) of {Tenants} tenant(s) queued", total, tenants.Count);
        result.Logs.Add($"Queued {total} profile(s) of {tenants.Count} tenant(s) for re-segmentation.");
        return result;
    }
}

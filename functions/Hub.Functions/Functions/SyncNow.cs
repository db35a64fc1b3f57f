using Hub.Connectors;
using Hub.Functions.Hosting;
using Hub.Functions.State;
using Hub.Functions.Sync;
using Microsoft.Extensions.Options;
using Newtonsoft.Json.Linq;

namespace Hub.Functions.Functions;

/// <summary>
/// <c>POST /api/sync?tenant=&amp;connection=[&amp;full=true]</c> (function <c>SyncNow</c>, enveloped HTTP: it sends
/// <c>pull</c> messages through its output binding). Starts a run of every stream of a store connection now, from its
/// bookmark, or with <c>full=true</c> from the backfill start date (a complete re-read: unchanged records cost nothing
/// downstream). A stream already running is left alone and reported. Answers 202 with the runs started.
/// </summary>
public sealed class SyncNow(ConnectionStore connections, ScheduleSync scheduler, HubAccess access, IServiceProvider services, TimeProvider clock, IOptions<SyncOptions> options) : IFunction
{
    public const string Name = nameof(SyncNow);
    public const string PullOutput = "pull";

    public async Task<InvocationResult> InvokeAsync(Invocation invocation, CancellationToken cancellationToken)
    {
        var request = invocation.ReadObject("req");
        string? Q(string name) => EnvelopedHttp.Query(request, name);
        var result = new InvocationResult();
        var (tenant, denied) = await EnvelopedHttp.AuthorizeAsync(access, request, cancellationToken);
        if (denied is not null)
        {
            return result.Set("res", denied);
        }

        var id = Q("connection");
        try
        {
            HubTables.ValidateKey(id ?? "", "connection");
        }
        catch (ArgumentException ex)
        {
            return result.Set("res", EnvelopedHttp.Problem(400, "Invalid query", ex.Message));
        }

        var connection = await connections.GetAsync(tenant, id!, cancellationToken);
        if (connection is null || services.GetKeyedService<IStoreConnector>(connection.ConnectorId) is not { } connector)
        {
            return result.Set("res", EnvelopedHttp.Problem(404, "Unknown connection", "This tenant has no store connection with that id."));
        }

        if (connection.Status != ConnectionStatus.Active)
        {
            return result.Set("res", EnvelopedHttp.Problem(409, "Connection paused", "Resume the connection before syncing it."));
        }

        var now = clock.GetUtcNow();
        var full = string.Equals(Q("full"), "true", StringComparison.OrdinalIgnoreCase);
        var started = new JArray();
        var busy = new JArray();
        foreach (var stream in connector.Info.Streams)
        {
            var from = full ? connection.BackfillStart ?? now - options.Value.DefaultLookback : now;
            if (await scheduler.ScheduleStreamAsync(connection, stream, now, cancellationToken, from, "manual") is { } pull)
            {
                result.Send(PullOutput, pull);
                started.Add(new JObject { ["stream"] = stream.Name, ["runId"] = pull.RunId });
            }
            else
            {
                busy.Add(stream.Name);
            }
        }

        return result.Set("res", EnvelopedHttp.Response(202, new JObject { ["tenant"] = tenant, ["connection"] = id, ["full"] = full, ["started"] = started, ["alreadyRunning"] = busy }));
    }
}

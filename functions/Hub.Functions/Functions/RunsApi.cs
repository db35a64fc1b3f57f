using System.Text;
using Hub.Functions.Hosting;
using Hub.Functions.State;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Hub.Functions.Functions;

/// <summary>
/// <c>GET /api/runs</c> (function <c>Runs</c>, forwarded HTTP): the tenant's recent sync runs and the scheduler's
/// recent ticks, newest first. <c>?tenant=</c> names the tenant (the bearer must be allowed to act for it), <c>?top=</c> 1-200.
/// </summary>
public static class RunsApi
{
    public static IEndpointRouteBuilder MapRunsApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/runs", ListAsync);
        return app;
    }

    private static async Task<IResult> ListAsync(HttpContext http, RunStore runs, CancellationToken ct)
    {
        var (tenant, problem) = await PipelineApi.AuthorizeAsync(http, ct);
        if (problem is not null)
        {
            return problem;
        }

        var topText = http.Request.Query["top"].ToString();
        var top = 50;
        if (!string.IsNullOrEmpty(topText) && (!int.TryParse(topText, out top) || top is < 1 or > 200))
        {
            return InvocationEndpoints.Problem(StatusCodes.Status400BadRequest, "Invalid query", "top must be an integer from 1 to 200.");
        }

        var tenantRuns = await runs.RecentAsync(tenant, top, ct);
        var ticks = await runs.RecentAsync(HubTables.SystemPartition, Math.Min(top, 20), ct);
        var body = new JObject
        {
            ["tenant"] = tenant,
            ["runs"] = new JArray(tenantRuns.Select(ToJson)),
            ["scheduler"] = new JArray(ticks.Select(ToJson)),
        };
        return Results.Text(body.ToString(Formatting.None), "application/json", Encoding.UTF8);
    }

    internal static JObject ToJson(RunEntity run)
    {
        var json = new JObject
        {
            ["id"] = run.RowKey,
            ["kind"] = run.Kind,
            ["trigger"] = run.Trigger,
            ["status"] = run.Status,
            ["startedAt"] = run.StartedAt,
            ["updatedAt"] = run.UpdatedAt,
            ["finishedAt"] = run.FinishedAt,
            ["attempts"] = run.Attempts,
            ["error"] = run.Error,
            ["warnings"] = new JArray((run.Warnings ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries)),
        };
        if (run.Kind == "schedule")
        {
            json["dueStreams"] = run.DueStreams;
            json["enqueued"] = run.Enqueued;
        }
        else if (run.Kind == "push")
        {
            json["connectionId"] = run.ConnectionId;
            json["module"] = run.Stream;
            json["records"] = run.Records;
            json["created"] = run.Created;
            json["updated"] = run.Updated;
            json["unchanged"] = run.Unchanged;
            json["rejected"] = run.Rejected;
            json["retried"] = run.Retried;
            json["merged"] = run.Merged;
            json["calls"] = run.Calls;
            json["credits"] = run.Credits;
        }
        else
        {
            json["stored"] = run.Stored;
            json["invalid"] = run.Invalid;
            json["progress"] = run.Progress;
            // Estimated from the vendor time covered so far (records are read oldest change first).
            json["estimatedSecondsRemaining"] = run.Progress is > 0 and < 1 && !RunStatus.IsFinished(run.Status)
                ? Math.Round((run.UpdatedAt - run.StartedAt).TotalSeconds * (1 - run.Progress.Value) / run.Progress.Value)
                : null;
            json["connectionId"] = run.ConnectionId;
            json["stream"] = run.Stream;
            json["windowStart"] = run.WindowStart;
            json["windowEnd"] = run.WindowEnd;
            json["pages"] = run.Pages;
            json["records"] = run.Records;
            json["failures"] = run.Failures;
            json["lastDeliveryCount"] = run.LastDeliveryCount;
        }

        return json;
    }
}

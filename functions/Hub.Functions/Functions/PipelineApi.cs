using System.Text;
using Azure.Data.Tables;
using Hub.Connectors;
using Hub.Functions.Hosting;
using Hub.Functions.State;
using Hub.Functions.Sync;
using Hub.Mappings;
using Hub.Mappings.Rules;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Hub.Functions.Functions;

/// <summary>
/// Read side of the pipeline (forwarded HTTP functions): <c>GET /api/profiles</c> (counts by segment and the newest
/// profiles, without contact data), <c>GET /api/profiles/{id}</c> (one profile's view, for data requests),
/// <c>GET /api/failures</c> (rejected records with the CRM's message, payload and attempts), <c>GET /api/compliance</c>,
/// and <c>POST /api/dryrun</c>: the whole path for a CRM connection without writing to the CRM.
/// Every route takes <c>?tenant=</c>, reads that tenant's partition only, and answers only a bearer who may act for
/// that tenant (<see cref="HubAccess"/>).
/// </summary>
public static class PipelineApi
{
    public static IEndpointRouteBuilder MapPipelineApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/profiles", ProfilesAsync);
        app.MapGet("/api/profiles/{id}", ProfileAsync);
        app.MapGet("/api/failures", FailuresAsync);
        app.MapGet("/api/compliance", ComplianceAsync);
        app.MapPost("/api/dryrun", DryRunAsync);
        return app;
    }

    internal static string? Tenant(HttpContext http, out IResult? problem)
    {
        var tenant = http.Request.Query["tenant"].ToString();
        problem = null;
        try
        {
            HubTables.ValidateKey(tenant, "tenant");
            if (tenant == HubTables.SystemPartition)
            {
                throw new ArgumentException("That tenant id is reserved.");
            }

            return tenant;
        }
        catch (ArgumentException ex)
        {
            problem = InvocationEndpoints.Problem(StatusCodes.Status400BadRequest, "Invalid query", ex.Message);
            return null;
        }
    }

    /// <summary>
    /// The request's <c>?tenant=</c>, once the bearer may act for it (<see cref="HubAccess"/>); else the 400/401/403
    /// problem to answer. Every route of the setup page's APIs starts here.
    /// </summary>
    internal static async Task<(string Tenant, IResult? Problem)> AuthorizeAsync(HttpContext http, CancellationToken ct)
    {
        if (Tenant(http, out var problem) is not { } tenant)
        {
            return ("", problem);
        }

        var access = http.RequestServices.GetRequiredService<HubAccess>();
        var decision = await access.CheckAsync(http.Request.Headers.Authorization.ToString(), tenant, ct);
        return decision.IsAllowed ? (tenant, null) : ("", InvocationEndpoints.Problem(decision.Status, decision.Title, decision.Detail));
    }

    private static IResult Json(JToken body) => Results.Text(body.ToString(Formatting.None), "application/json", Encoding.UTF8);

    private static async Task<IResult> ProfilesAsync(HttpContext http, HubTables tables, CancellationToken ct)
    {
        var (tenant, problem) = await AuthorizeAsync(http, ct);
        if (problem is not null)
        {
            return problem;
        }

        var table = await tables.GetAsync(HubTables.Profiles, ct);
        var lifecycle = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var valueTier = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var rfmTier = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var list = new List<JObject>();
        var total = 0;
        // RFM grid: recency score (rows, 5 = most recent) × frequency score (columns), as the segment rules scored them.
        var grid = new int[6, 6];
        // New vs returning per month, the last 12: a customer is new in the month of their first order and returning
        // in every later month they order in.
        var now = http.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow().UtcDateTime;
        var months = Enumerable.Range(0, 12).Select(i => new DateTime(now.Year, now.Month, 1, 0, 0, 0, DateTimeKind.Utc).AddMonths(i - 11).ToString("yyyy-MM", System.Globalization.CultureInfo.InvariantCulture)).ToList();
        var newBy = months.ToDictionary(m => m, _ => 0, StringComparer.Ordinal);
        var returningBy = months.ToDictionary(m => m, _ => 0, StringComparer.Ordinal);
        await foreach (var row in table.QueryAsync<TableEntity>(r => r.PartitionKey == tenant, select: ["RowKey", "MergedInto", "Lifecycle", "ValueTier", "RfmTier", "RfmR", "RfmF", "OrderMonths", "OrderCount", "TotalSpent", "Currency", "LastOrderAt", "Platforms", "UpdatedAt"], cancellationToken: ct))
        {
            if (row.GetString("MergedInto") is not null)
            {
                continue;
            }

            total++;
            Count(lifecycle, row.GetString("Lifecycle") ?? "none");
            Count(valueTier, row.GetString("ValueTier") ?? "none");
            Count(rfmTier, row.GetString("RfmTier") ?? "none");
            if (row.GetInt32("RfmR") is { } r and >= 1 and <= 5 && row.GetInt32("RfmF") is { } f and >= 1 and <= 5)
            {
                grid[r, f]++;
            }

            var ordered = (row.GetString("OrderMonths") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries);
            for (var i = 0; i < ordered.Length; i++)
            {
                var by = i == 0 ? newBy : returningBy;
                if (by.TryGetValue(ordered[i], out var n))
                {
                    by[ordered[i]] = n + 1;
                }
            }

            if (list.Count < 100)
            {
                list.Add(new JObject
                {
                    ["id"] = row.RowKey,
                    ["lifecycle"] = row.GetString("Lifecycle"),
                    ["valueTier"] = row.GetString("ValueTier"),
                    ["rfmTier"] = row.GetString("RfmTier"),
                    ["orderCount"] = row.GetInt32("OrderCount"),
                    ["totalSpent"] = row.GetDouble("TotalSpent"),
                    ["currency"] = row.GetString("Currency"),
                    ["lastOrderAt"] = row.GetDateTimeOffset("LastOrderAt"),
                    ["platforms"] = row.GetString("Platforms"),
                });
            }
        }

        return Json(new JObject
        {
            ["tenant"] = tenant,
            ["total"] = total,
            ["byLifecycle"] = JObject.FromObject(lifecycle),
            ["byValueTier"] = JObject.FromObject(valueTier),
            ["byRfmTier"] = JObject.FromObject(rfmTier),
            ["rfmGrid"] = new JArray(Enumerable.Range(1, 5).Reverse().Select(r => new JArray(Enumerable.Range(1, 5).Select(f => grid[r, f])))),
            ["newVsReturning"] = new JArray(months.Select(m => new JObject { ["month"] = m, ["new"] = newBy[m], ["returning"] = returningBy[m] })),
            ["profiles"] = new JArray(list),
        });
    }

    private static void Count(SortedDictionary<string, int> counts, string key) => counts[key] = counts.GetValueOrDefault(key) + 1;

    private static async Task<IResult> ProfileAsync(string id, HttpContext http, ProfileGraph graph, CancellationToken ct)
    {
        var (tenant, problem) = await AuthorizeAsync(http, ct);
        if (problem is not null)
        {
            return problem;
        }

        var views = await graph.ViewsAsync(tenant, [id], ct);
        return views.TryGetValue(id, out var view)
            ? Json(view)
            : InvocationEndpoints.Problem(StatusCodes.Status404NotFound, "Unknown profile", "This tenant has no profile with that id.");
    }

    private static async Task<IResult> FailuresAsync(HttpContext http, PushStore push, CancellationToken ct)
    {
        var (tenant, problem) = await AuthorizeAsync(http, ct);
        if (problem is not null)
        {
            return problem;
        }

        var connection = http.Request.Query["connection"].ToString();
        var status = http.Request.Query["status"].ToString();
        var rows = await push.FailuresAsync(tenant, connection.Length > 0 ? connection : null, status.Length > 0 ? status : "open", 500, ct);
        return Json(new JObject
        {
            ["tenant"] = tenant,
            ["failures"] = new JArray(rows.Select(FailureJson)),
        });
    }

    internal static JObject FailureJson(TableEntity row) => new()
    {
        ["connectionId"] = row.GetString("ConnectionId"),
        ["module"] = row.GetString("Module"),
        ["profileId"] = row.GetString("ProfileId"),
        ["status"] = row.GetString("Status"),
        ["kind"] = row.GetString("Kind"),
        ["code"] = row.GetString("Code"),
        ["message"] = row.GetString("Message"),
        ["attempts"] = row.GetInt32("Attempts"),
        ["firstFailedAt"] = row.GetDateTimeOffset("FirstFailedAt"),
        ["lastFailedAt"] = row.GetDateTimeOffset("LastFailedAt"),
        ["replayedAt"] = row.GetDateTimeOffset("ReplayedAt"),
        ["payload"] = Packed.Read(row, "Payload"),
    };

    private static async Task<IResult> ComplianceAsync(HttpContext http, ComplianceLog log, CancellationToken ct)
    {
        var (tenant, problem) = await AuthorizeAsync(http, ct);
        if (problem is not null)
        {
            return problem;
        }

        var rows = await log.ListAsync(tenant, 100, ct);
        return Json(new JObject
        {
            ["tenant"] = tenant,
            ["entries"] = new JArray(rows.Select(r => new JObject
            {
                ["at"] = r.GetDateTimeOffset("At"),
                ["connectionId"] = r.GetString("ConnectionId"),
                ["topic"] = r.GetString("Topic"),
                ["action"] = r.GetString("Action"),
                ["records"] = r.GetInt32("Records"),
                ["profiles"] = new JArray((r.GetString("Profiles") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries)),
            })),
        });
    }

    /// <summary>
    /// <c>POST /api/dryrun?tenant=&amp;connection={crm}[&amp;store={store}][&amp;sample=N]</c>. Without <c>store</c>: every stored
    /// profile is mapped for the CRM connection and compared with the Ledger. With <c>store</c>: one page of the store's
    /// last days is pulled through its connector and mapped, resolved with the stored assignments, and compared.
    /// Reports creates/updates/unchanged/invalid with examples (profile ids, changed field names, issues); writes nothing.
    /// </summary>
    private static async Task<IResult> DryRunAsync(HttpContext http, ConnectionStore connections, ConnectionContexts contexts, PushPlanner planner, PushStore push, RecordStore records, RulesProvider rules, IServiceProvider services, TimeProvider clock, HubTables tables, CancellationToken ct)
    {
        var (tenant, problem) = await AuthorizeAsync(http, ct);
        if (problem is not null)
        {
            return problem;
        }

        var crmId = http.Request.Query["connection"].ToString();
        var storeId = http.Request.Query["store"].ToString();
        var sample = int.TryParse(http.Request.Query["sample"], out var s) ? Math.Clamp(s, 1, 5000) : 1000;
        var crm = crmId.Length > 0 ? await connections.GetAsync(tenant, crmId, ct) : null;
        if (crm is null || services.GetKeyedService<ICrmConnector>(crm.ConnectorId) is not { } crmConnector)
        {
            return InvocationEndpoints.Problem(StatusCodes.Status404NotFound, "Unknown connection", "connection must name one of this tenant's CRM connections.");
        }

        var now = clock.GetUtcNow();
        var ruleSet = await rules.ForTenantAsync(tenant, ct);
        var views = new List<(string Id, JObject View)>();
        var recordReport = new JArray();
        if (storeId.Length > 0)
        {
            var store = await connections.GetAsync(tenant, storeId, ct);
            if (store is null || services.GetKeyedService<IStoreConnector>(store.ConnectorId) is not { } storeConnector)
            {
                return InvocationEndpoints.Problem(StatusCodes.Status404NotFound, "Unknown connection", "store must name one of this tenant's store connections.");
            }

            var context = await contexts.ForAsync(store, ct);
            PullPage page;
            try
            {
                page = await storeConnector.PullAsync(new PullRequest(context, "orders", null, now.AddDays(-7), now), ct);
            }
            catch (ConnectorValidationException ex)
            {
                return InvocationEndpoints.Problem(StatusCodes.Status400BadRequest, "The store refused the read", ex.Message);
            }

            var sampleRecords = page.Records.Take(sample).Cast<JToken>().ToList();
            var previous = new Dictionary<string, string>(StringComparer.Ordinal);
            var source = ruleSet.Source(store.ConnectorId, "order");
            var ctx = source.Context(now, context.Settings.Value<string>("region"));
            var keys = sampleRecords.Select(r => source.MapOrder(r, store.RowKey, ctx).Value?.Source).OfType<Hub.Mappings.Model.SourceRef>().Select(src => RecordStore.KeyOf("order", src)).ToList();
            foreach (var (key, stored) in await records.GetManyAsync(tenant, keys, ct))
            {
                if (stored.ProfileId is not null)
                {
                    previous[key] = stored.ProfileId;
                }
            }

            var preview = Preview.Run(ruleSet, new PreviewRequest(store.ConnectorId, "order", store.RowKey, sampleRecords) { Previous = previous }, now);
            foreach (var record in preview.Records.Where(r => !r.Valid).Take(5))
            {
                recordReport.Add(new JObject { ["index"] = record.Index, ["issues"] = new JArray(record.Issues.Select(i => $"{i.Field}: {i.Message}")) });
            }

            views.AddRange(preview.Profiles.Select(p => (p.Value<string>("id")!, p)));
        }
        else
        {
            var table = await tables.GetAsync(HubTables.Profiles, ct);
            await foreach (var row in table.QueryAsync<TableEntity>(r => r.PartitionKey == tenant, cancellationToken: ct))
            {
                if (row.GetString("MergedInto") is null && Packed.Read(row, "View") is JObject view)
                {
                    views.Add((row.RowKey, view));
                    if (views.Count >= sample)
                    {
                        break;
                    }
                }
            }
        }

        var report = new JArray();
        foreach (var target in planner.TargetsOf(crm, crmConnector, ruleSet))
        {
            var ledger = await push.ReadAsync(HubTables.Ledger, tenant, crm.RowKey, target.Module, views.Select(v => v.Id), ct);
            var ctx = new EvalContext(now);
            var counts = new Dictionary<string, int>(StringComparer.Ordinal) { ["create"] = 0, ["update"] = 0, ["unchanged"] = 0, ["invalid"] = 0 };
            var examples = new JObject();
            foreach (var (id, view) in views)
            {
                var payload = target.Rule.Map(view, ctx);
                var action = !payload.IsValid ? "invalid"
                    : ledger.TryGetValue(id, out var bound) ? (bound.GetString("Hash") == payload.Hash ? "unchanged" : "update")
                    : "create";
                counts[action]++;
                var list = examples[action] as JArray ?? (JArray)(examples[action] = new JArray());
                if (list.Count < 5)
                {
                    list.Add(new JObject
                    {
                        ["profileId"] = id,
                        ["fields"] = new JArray(payload.Payload.Properties().Where(p => p.Value.Type != JTokenType.Null).Select(p => p.Name)),
                        ["tags"] = new JArray(payload.Tags),
                        ["issues"] = new JArray(payload.Issues.Select(i => $"{i.Field}: {i.Message}")),
                    });
                }
            }

            report.Add(new JObject
            {
                ["module"] = target.Module,
                ["rule"] = target.Rule.File,
                ["counts"] = JObject.FromObject(counts),
                ["examples"] = examples,
            });
        }

        return Json(new JObject
        {
            ["tenant"] = tenant,
            ["connection"] = crm.RowKey,
            ["store"] = storeId.Length > 0 ? storeId : null,
            ["profiles"] = views.Count,
            ["invalidRecords"] = recordReport,
            ["targets"] = report,
            ["written"] = false,
        });
    }
}

using System.Reflection;
using System.Text;
using Hub.Connectors;
using Hub.Functions.Hosting;
using Hub.Functions.State;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Hub.Functions.Functions;

/// <summary>
/// What the setup page serves and calls besides the pipeline's read APIs (forwarded HTTP functions):
/// <list type="bullet">
/// <item><c>GET /api/setup[/{asset}]</c> (function <c>Setup</c>, anonymous): the page itself, its script, styles
/// and texts, with a strict Content-Security-Policy. The page holds no data; everything it shows comes from the
/// APIs below, which check the bearer.</item>
/// <item><c>GET /api/connections?tenant=</c>: each connection with its status, backfill start, last and next sync,
/// records pulled or pushed, and the running backfill's progress. Never a secret.</item>
/// <item><c>POST /api/connections/{id}/pause|resume?tenant=</c>, <c>DELETE /api/connections/{id}?tenant=</c>
/// (disconnect: its secrets are deleted with it).</item>
/// <item><c>GET|POST /api/tokens?tenant=</c>, <c>DELETE /api/tokens/{id}?tenant=</c> (function <c>Tokens</c>, admin
/// only): tenant tokens, shown once when issued.</item>
/// </list>
/// </summary>
public static class SetupApi
{
    private static readonly Dictionary<string, string> ContentTypes = new(StringComparer.OrdinalIgnoreCase)
    {
        [".html"] = "text/html; charset=utf-8",
        [".js"] = "text/javascript; charset=utf-8",
        [".css"] = "text/css; charset=utf-8",
        [".json"] = "application/json; charset=utf-8",
        [".svg"] = "image/svg+xml",
    };

    public static IEndpointRouteBuilder MapSetupApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/setup", (HttpContext http) => Asset(null, http));
        app.MapGet("/api/setup/{asset}", Asset);
        app.MapGet("/api/connections", ConnectionsAsync);
        app.MapPost("/api/connections", ConnectAsync);
        app.MapGet("/api/connectors", ConnectorsAsync);
        app.MapPost("/api/connections/{id}/{action}", ConnectionActionAsync);
        app.MapGet("/api/connections/{id}/fields", FieldsAsync);
        app.MapDelete("/api/connections/{id}", DisconnectAsync);
        app.MapGet("/api/tokens", TokensAsync);
        app.MapPost("/api/tokens", IssueAsync);
        app.MapDelete("/api/tokens/{id}", RevokeAsync);
        return app;
    }

    /// <summary>Headers every setup response carries: no framing, no sniffing, no referrer, scripts from here only.</summary>
    private static void SecurityHeaders(HttpResponse response)
    {
        response.Headers["Content-Security-Policy"] = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
        response.Headers["X-Content-Type-Options"] = "nosniff";
        response.Headers["Referrer-Policy"] = "no-referrer";
        response.Headers["X-Frame-Options"] = "DENY";
        response.Headers["Cache-Control"] = "no-store";
    }

    private static IResult Asset(string? asset, HttpContext http)
    {
        var name = string.IsNullOrEmpty(asset) ? "index.html" : asset;
        var extension = Path.GetExtension(name);
        using var stream = name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_') && ContentTypes.ContainsKey(extension)
            ? Assembly.GetExecutingAssembly().GetManifestResourceStream("setup/" + name)
            : null;
        SecurityHeaders(http.Response);
        if (stream is null)
        {
            return InvocationEndpoints.Problem(StatusCodes.Status404NotFound, "Not found", "The setup page has no such file.");
        }

        using var reader = new StreamReader(stream, Encoding.UTF8);
        return Results.Text(reader.ReadToEnd(), ContentTypes[extension]);
    }

    private static IResult Json(HttpContext http, JToken body, int status = 200)
    {
        SecurityHeaders(http.Response);
        return Results.Text(body.ToString(Formatting.None), "application/json", Encoding.UTF8, status);
    }

    private static async Task<IResult> ConnectionsAsync(HttpContext http, ConnectionStore connections, CursorStore cursors, RunStore runs, PushStore push, IServiceProvider services, CancellationToken ct)
    {
        var (tenant, problem) = await PipelineApi.AuthorizeAsync(http, ct);
        if (problem is not null)
        {
            return problem;
        }

        var recent = await runs.RecentAsync(tenant, 200, ct);
        var openFailures = await push.OpenFailureCountsAsync(tenant, ct);
        var list = new JArray();
        foreach (var connection in await connections.ListAsync(tenant, ct))
        {
            var store = services.GetKeyedService<IStoreConnector>(connection.ConnectorId);
            var crm = services.GetKeyedService<ICrmConnector>(connection.ConnectorId);
            var theirs = recent.Where(r => r.ConnectionId == connection.RowKey && r.Kind is "pull" or "push").ToList();
            var last = theirs.Where(r => RunStatus.IsFinished(r.Status)).MaxBy(r => r.FinishedAt ?? r.UpdatedAt);
            var running = theirs.Where(r => !RunStatus.IsFinished(r.Status)).ToList();
            DateTimeOffset? next = null;
            var streams = new JArray();
            foreach (var stream in store?.Info.Streams ?? [])
            {
                var cursor = await cursors.GetAsync(tenant, connection.RowKey, stream.Name, ct);
                streams.Add(new JObject { ["name"] = stream.Name, ["bookmark"] = cursor?.Bookmark, ["nextDueAt"] = cursor?.NextDueAt, ["lastSuccessAt"] = cursor?.LastSuccessAt });
                if (cursor?.NextDueAt is { } due && (next is null || due < next))
                {
                    next = due;
                }
            }

            list.Add(new JObject
            {
                ["id"] = connection.RowKey,
                ["connector"] = connection.ConnectorId,
                ["displayName"] = connection.DisplayName ?? connection.RowKey,
                ["kind"] = store is not null ? "store" : crm is not null ? "crm" : "unknown",
                ["status"] = connection.Status,
                ["intervalMinutes"] = connection.IntervalMinutes,
                ["backfillStart"] = connection.BackfillStart,
                ["createdAt"] = connection.CreatedAt,
                ["lastSync"] = last is null ? null : new JObject { ["status"] = last.Status, ["finishedAt"] = last.FinishedAt ?? last.UpdatedAt, ["error"] = last.Error },
                ["nextSync"] = connection.Status == ConnectionStatus.Active ? next : null,
                ["pulled"] = theirs.Where(r => r.Kind == "pull").Sum(r => r.Records),
                ["pushed"] = theirs.Where(r => r.Kind == "push").Sum(r => r.Created + r.Updated),
                ["rejected"] = crm is null ? 0 : openFailures.GetValueOrDefault(connection.RowKey), // open failures now
                ["running"] = new JArray(running.Select(RunsApi.ToJson)),
                ["streams"] = streams,
            });
        }

        return Json(http, new JObject { ["tenant"] = tenant, ["connections"] = list });
    }

    /// <summary>
    /// <c>POST /api/connections?tenant=</c> with <c>{"id","connector","displayName","settings":{},"secrets":{},
    /// "backfillStart","intervalMinutes"}</c>: the key/secret form (WooCommerce, Youzan, Tmall, HubSpot private
    /// apps, Fxiaoke, a Shopify custom app). The credentials are tested against the platform first; a refusal comes
    /// back as 400 with the platform's own words and nothing is stored. On success the secrets are encrypted
    /// (Data Protection / Key Vault) and never returned again.
    /// </summary>
    private static async Task<IResult> ConnectAsync(HttpContext http, ConnectionStore connections, ISecretStore secrets, IServiceProvider services, TimeProvider clock, ILoggerFactory loggers, CancellationToken ct)
    {
        var (tenant, problem) = await PipelineApi.AuthorizeAsync(http, ct);
        if (problem is not null)
        {
            return problem;
        }

        JObject body;
        try
        {
            using var reader = new StreamReader(http.Request.Body, Encoding.UTF8);
            var buffer = new char[64 * 1024 + 1];
            var read = await reader.ReadBlockAsync(buffer, ct);
            if (read > 64 * 1024)
            {
                return InvocationEndpoints.Problem(StatusCodes.Status413PayloadTooLarge, "Too large", "A connection form is at most 64 KiB.");
            }

            body = JObject.Parse(new string(buffer, 0, read));
        }
        catch (JsonException ex)
        {
            return InvocationEndpoints.Problem(StatusCodes.Status400BadRequest, "Malformed form", ex.Message);
        }

        var id = body.Value<string>("id") ?? "";
        var connectorId = body.Value<string>("connector") ?? "";
        var settings = body["settings"] as JObject ?? [];
        var secretValues = body["secrets"] as JObject ?? [];
        try
        {
            HubTables.ValidateKey(id, "id");
        }
        catch (ArgumentException ex)
        {
            return InvocationEndpoints.Problem(StatusCodes.Status400BadRequest, "Invalid connection id", ex.Message);
        }

        var store = services.GetKeyedService<IStoreConnector>(connectorId);
        var crm = services.GetKeyedService<ICrmConnector>(connectorId);
        if (store is null && crm is null)
        {
            return InvocationEndpoints.Problem(StatusCodes.Status400BadRequest, "Unknown connector", $"'{connectorId}' is not a connector of this Hub (GET /api/connectors lists them).");
        }

        if (secretValues.Properties().Any(p => p.Value.Type != JTokenType.String || string.IsNullOrWhiteSpace(p.Value.ToString())))
        {
            return InvocationEndpoints.Problem(StatusCodes.Status400BadRequest, "Incomplete credentials", "Every credential field needs a value.");
        }

        DateTimeOffset? backfill = null;
        if (body["backfillStart"] is { Type: not JTokenType.Null } start)
        {
            if (!DateTimeOffset.TryParse(start.ToString(), System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var parsed) || parsed > clock.GetUtcNow())
            {
                return InvocationEndpoints.Problem(StatusCodes.Status400BadRequest, "Invalid backfill start", "backfillStart must be a date in the past (yyyy-MM-dd).");
            }

            backfill = parsed;
        }

        var context = new ConnectionContext(tenant, id, connectorId, (JObject)settings.DeepClone()) { };
        context.Settings["secrets"] = secretValues.DeepClone();
        try
        {
            await (store is not null ? store.TestConnectionAsync(context, ct) : crm!.TestConnectionAsync(context, ct));
        }
        catch (ConnectorTransientException ex)
        {
            return InvocationEndpoints.Problem(StatusCodes.Status502BadGateway, "The platform did not answer", $"Try again in a minute: {ex.Message}");
        }
        catch (ConnectorException ex)
        {
            // The platform's own words (wrong key, missing scope, unknown shop), never the secrets themselves.
            loggers.CreateLogger("Hub.Setup").LogInformation("Connection test of {Tenant}/{Connection} ({Connector}) refused", tenant, id, connectorId);
            return InvocationEndpoints.Problem(StatusCodes.Status400BadRequest, "The platform refused these credentials", ex.Message);
        }

        var existing = await connections.GetAsync(tenant, id, ct);
        if (existing is not null && existing.ConnectorId != connectorId)
        {
            return InvocationEndpoints.Problem(StatusCodes.Status409Conflict, "Id in use", $"{id} is already a {existing.ConnectorId} connection.");
        }

        var row = existing ?? new ConnectionEntity { PartitionKey = tenant, RowKey = id, CreatedAt = clock.GetUtcNow() };
        row.ConnectorId = connectorId;
        row.DisplayName = body.Value<string>("displayName") is { Length: > 0 and <= 100 } name ? name : id;
        row.SettingsJson = settings.ToString(Formatting.None);
        row.SecretsRef = await secrets.SaveAsync(tenant, id, secretValues, ct);
        row.Status = ConnectionStatus.Active;
        row.BackfillStart = backfill ?? row.BackfillStart;
        row.IntervalMinutes = body.Value<int?>("intervalMinutes") is { } minutes and >= 1 and <= 1440 ? minutes : row.IntervalMinutes;
        await connections.UpsertAsync(row, ct);
        return Json(http, new JObject { ["id"] = id, ["connector"] = connectorId, ["status"] = row.Status, ["tested"] = true }, StatusCodes.Status201Created);
    }

    private static IResult ConnectorsAsync(HttpContext http, IEnumerable<RegisteredConnector> registered, IServiceProvider services)
    {
        var list = new JArray();
        foreach (var c in registered.DistinctBy(c => c.Id))
        {
            var info = c.Kind == ConnectorKind.Store ? services.GetKeyedService<IStoreConnector>(c.Id)?.Info : services.GetKeyedService<ICrmConnector>(c.Id)?.Info;
            if (info is not null)
            {
                var oauth = services.GetKeyedService<IOAuthInstaller>(c.Id) is not null;
                list.Add(new JObject
                {
                    ["id"] = info.Id,
                    ["displayName"] = info.DisplayName,
                    ["kind"] = c.Kind == ConnectorKind.Store ? "store" : "crm",
                    ["authScheme"] = info.AuthScheme,
                    ["oauth"] = oauth,
                    // Where the merchant's account lives, when the platform asks before the install: Zoho's data centres.
                    ["accounts"] = info.Id == "zoho-crm" ? new JArray(services.GetRequiredService<Microsoft.Extensions.Options.IOptions<Hub.Connectors.ZohoCrm.ZohoCrmOptions>>().Value.AccountsServers.Distinct()) : null,
                    ["callbackUrl"] = oauth ? $"{OAuthApi.PublicBase(http)}/api/oauth/{info.Id}/callback" : null,
                    ["rateLimit"] = info.RateLimit,
                    ["docsUrl"] = info.DocsUrl,
                });
            }
        }

        return Json(http, new JObject { ["connectors"] = list });
    }

    /// <summary>
    /// <c>GET /api/connections/{id}/fields?tenant=&amp;module=</c>: a CRM connection's fields as the CRM describes them
    /// (custom fields included, with types, lengths, picklist options, mandatory and read-only), for the mapping
    /// editor's target column. One describe call to the CRM per request.
    /// </summary>
    private static async Task<IResult> FieldsAsync(string id, HttpContext http, ConnectionStore connections, Hub.Functions.Sync.ConnectionContexts contexts, Hub.Functions.Sync.RulesProvider rules, IServiceProvider services, CancellationToken ct)
    {
        var (tenant, problem) = await PipelineApi.AuthorizeAsync(http, ct);
        if (problem is not null)
        {
            return problem;
        }

        if (await connections.GetAsync(tenant, id, ct) is not { } connection || services.GetKeyedService<ICrmConnector>(connection.ConnectorId) is not { } crm)
        {
            return InvocationEndpoints.Problem(StatusCodes.Status404NotFound, "Unknown connection", "This tenant has no CRM connection with that id.");
        }

        var ruleSet = await rules.ForTenantAsync(tenant, ct);
        var module = http.Request.Query["module"].ToString() is { Length: > 0 } named ? named : ruleSet.Targets.FirstOrDefault(t => t.Crm == connection.ConnectorId)?.Module ?? "";
        IReadOnlyList<CrmField> fields;
        try
        {
            fields = await crm.DescribeAsync(await contexts.ForAsync(connection, ct), module, ct);
        }
        catch (ConnectorException ex)
        {
            return InvocationEndpoints.Problem(StatusCodes.Status502BadGateway, "The CRM refused to describe its fields", ex.Message);
        }

        return Json(http, new JObject
        {
            ["connection"] = id,
            ["crm"] = connection.ConnectorId,
            ["module"] = module,
            ["modules"] = new JArray(ruleSet.Targets.Where(t => t.Crm == connection.ConnectorId).Select(t => t.Module)),
            ["fields"] = new JArray(fields.Select(f => new JObject
            {
                ["apiName"] = f.ApiName,
                ["label"] = f.Label,
                ["type"] = f.Type,
                ["maxLength"] = f.MaxLength,
                ["options"] = new JArray(f.Options.Take(100)),
                ["mandatory"] = f.Mandatory,
                ["readOnly"] = f.ReadOnly,
                ["custom"] = f.Custom,
            })),
        });
    }

    private static async Task<IResult> ConnectionActionAsync(string id, string action, HttpContext http, ConnectionStore connections, CancellationToken ct)
    {
        var (tenant, problem) = await PipelineApi.AuthorizeAsync(http, ct);
        if (problem is not null)
        {
            return problem;
        }

        if (action is not ("pause" or "resume"))
        {
            return InvocationEndpoints.Problem(StatusCodes.Status404NotFound, "Unknown action", "A connection can be paused or resumed.");
        }

        if (await connections.GetAsync(tenant, id, ct) is not { } connection)
        {
            return InvocationEndpoints.Problem(StatusCodes.Status404NotFound, "Unknown connection", "This tenant has no connection with that id.");
        }

        connection.Status = action == "pause" ? ConnectionStatus.Paused : ConnectionStatus.Active;
        await connections.UpsertAsync(connection, ct);
        return Json(http, new JObject { ["id"] = id, ["status"] = connection.Status });
    }

    private static async Task<IResult> DisconnectAsync(string id, HttpContext http, ConnectionStore connections, ISecretStore secrets, HubTables tables, CancellationToken ct)
    {
        var (tenant, problem) = await PipelineApi.AuthorizeAsync(http, ct);
        if (problem is not null)
        {
            return problem;
        }

        if (await connections.GetAsync(tenant, id, ct) is not { } connection)
        {
            return InvocationEndpoints.Problem(StatusCodes.Status404NotFound, "Unknown connection", "This tenant has no connection with that id.");
        }

        await secrets.DeleteAsync(connection.SecretsRef, ct);
        var table = await tables.GetAsync(HubTables.Connections, ct);
        await table.DeleteEntityAsync(tenant, id, Azure.ETag.All, ct);
        return Json(http, new JObject { ["id"] = id, ["disconnected"] = true });
    }

    private static (string Tenant, IResult? Problem) Admin(HttpContext http)
    {
        if (PipelineApi.Tenant(http, out var problem) is not { } tenant)
        {
            return ("", problem);
        }

        var decision = http.RequestServices.GetRequiredService<HubAccess>().CheckAdmin(http.Request.Headers.Authorization.ToString());
        return decision.IsAllowed ? (tenant, null) : ("", InvocationEndpoints.Problem(decision.Status, decision.Title, decision.Detail));
    }

    private static async Task<IResult> TokensAsync(HttpContext http, HubAccess access, CancellationToken ct)
    {
        var (tenant, problem) = Admin(http);
        return problem ?? Json(http, new JObject { ["tenant"] = tenant, ["tokens"] = await access.ListAsync(tenant, ct) });
    }

    private static async Task<IResult> IssueAsync(HttpContext http, HubAccess access, CancellationToken ct)
    {
        var (tenant, problem) = Admin(http);
        if (problem is not null)
        {
            return problem;
        }

        var label = http.Request.Query["label"].ToString();
        var token = await access.IssueAsync(tenant, label.Length > 0 ? label : "setup page", ct);
        return Json(http, new JObject { ["tenant"] = tenant, ["token"] = token, ["note"] = "Shown once: only its hash is kept." }, StatusCodes.Status201Created);
    }

    private static async Task<IResult> RevokeAsync(string id, HttpContext http, HubAccess access, CancellationToken ct)
    {
        var (tenant, problem) = Admin(http);
        if (problem is not null)
        {
            return problem;
        }

        return await access.RevokeAsync(tenant, id, ct)
            ? Json(http, new JObject { ["id"] = id, ["revoked"] = true })
            : InvocationEndpoints.Problem(StatusCodes.Status404NotFound, "Unknown token", "This tenant has no token with that id.");
    }
}

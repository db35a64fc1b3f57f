using System.Collections.Concurrent;
using System.Text;
using System.Text.RegularExpressions;
using Azure;
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
/// The mapping editor's APIs (forwarded HTTP function <c>Mappings</c>; every route takes <c>?tenant=</c> and the
/// bearer checked by <see cref="HubAccess"/>):
/// <list type="bullet">
/// <item><c>GET /api/mappings</c>: the rule files (edited or the Hub's default), the active version and every version.</item>
/// <item><c>GET /api/mappings/file?file=&amp;version=</c>: one file as the tenant runs it (or as a version had it) and the default.</item>
/// <item><c>POST /api/mappings/preview</c>: edited files + a store connection → validation errors with file and JSON
/// path, or the mapped records, resolved profiles with segments and the CRM payloads for live sample records from
/// that store (read once, kept five minutes), contact data masked. Writes nothing.</item>
/// <item><c>POST /api/mappings</c>: saves edited files as a new version and activates it, only if the whole rule set
/// validates; an invalid mapping answers 400 with every error and is never activated.</item>
/// <item><c>POST /api/mappings/rollback?version=</c>: activates an earlier version (0: the defaults), validated again.</item>
/// <item><c>GET /api/mappings/export</c>, <c>POST /api/mappings/import</c>: the rule files as the JSON files in
/// mappings/rules, keyed by their path.</item>
/// </list>
/// </summary>
public static partial class MappingsApi
{
    private const int MaxBody = 1024 * 1024;
    private static readonly TimeSpan SampleFor = TimeSpan.FromMinutes(5);
    private static readonly ConcurrentDictionary<string, (IReadOnlyList<JObject> Records, DateTimeOffset ReadAt)> Samples = new(StringComparer.Ordinal);

    public static IEndpointRouteBuilder MapMappingsApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/mappings", ListAsync);
        app.MapGet("/api/mappings/file", FileAsync);
        app.MapGet("/api/mappings/export", ExportAsync);
        app.MapPost("/api/mappings", SaveAsync);
        app.MapPost("/api/mappings/preview", PreviewAsync);
        app.MapPost("/api/mappings/rollback", RollbackAsync);
        app.MapPost("/api/mappings/import", ImportAsync);
        return app;
    }

    private static IResult Json(JToken body, int status = 200) => Results.Text(body.ToString(Formatting.None), "application/json", Encoding.UTF8, status);

    private static IResult Invalid(IEnumerable<RuleError> errors, string detail) =>
        InvocationEndpoints.Problem(StatusCodes.Status400BadRequest, "Invalid mapping", detail, new JObject { ["errors"] = ErrorsJson(errors) });

    private static JArray ErrorsJson(IEnumerable<RuleError> errors) =>
        new(errors.Select(e => new JObject { ["file"] = e.File, ["path"] = e.Path, ["message"] = e.Message }));

    /// <summary>The bearer's tenant and the request's JSON body, or the 400/401/403/413 problem to answer.</summary>
    private static async Task<(string Tenant, JObject Body, IResult? Problem)> AuthorizedBodyAsync(HttpContext http, CancellationToken ct)
    {
        var (tenant, problem) = await PipelineApi.AuthorizeAsync(http, ct);
        if (problem is not null)
        {
            return ("", [], problem);
        }

        try
        {
            return (tenant, (await ReadBodyAsync(http, ct))!, null);
        }
        catch (InvalidDataException ex)
        {
            return ("", [], InvocationEndpoints.Problem(StatusCodes.Status413PayloadTooLarge, "Too large", ex.Message));
        }
        catch (JsonException ex)
        {
            return ("", [], InvocationEndpoints.Problem(StatusCodes.Status400BadRequest, "Malformed request", ex.Message));
        }
    }

    private static async Task<JObject?> ReadBodyAsync(HttpContext http, CancellationToken ct)
    {
        using var reader = new StreamReader(http.Request.Body, Encoding.UTF8);
        var buffer = new char[MaxBody + 1];
        var read = await reader.ReadBlockAsync(buffer, ct);
        if (read > MaxBody)
        {
            throw new InvalidDataException("A mapping request is at most 1 MiB.");
        }

        return read == 0 ? [] : JObject.Parse(new string(buffer, 0, read));
    }

    /// <summary>The tenant's edited files (path → text) in the active version, or in <paramref name="version"/>.</summary>
    private static async Task<(int Active, ETag ETag, IReadOnlyDictionary<string, string> Files)> EditedAsync(MappingStore store, string tenant, int? version, CancellationToken ct)
    {
        var (active, etag) = await store.ActiveAsync(tenant, ct);
        var saved = await store.GetAsync(tenant, version ?? active, ct);
        return (active, etag, saved?.Files ?? new Dictionary<string, string>(StringComparer.Ordinal));
    }

    private static string KindOf(string file) => file.Split('/')[0] switch
    {
        "sources" => "source",
        "targets" => "target",
        var other => other,
    };

    private static async Task<IResult> ListAsync(HttpContext http, MappingStore store, RulesProvider rules, CancellationToken ct)
    {
        var (tenant, problem) = await PipelineApi.AuthorizeAsync(http, ct);
        if (problem is not null)
        {
            return problem;
        }

        var (active, _, edited) = await EditedAsync(store, tenant, null, ct);
        var defaults = rules.Current;
        var files = defaults.Keys.Select(k => (Key: k, File: defaults.FileOf(k))).OrderBy(f => f.File, StringComparer.Ordinal).Select(f => new JObject
        {
            ["file"] = f.File,
            ["key"] = f.Key,
            ["kind"] = KindOf(f.File),
            ["edited"] = edited.ContainsKey(f.File),
        });
        var versions = (await store.ListAsync(tenant, ct)).Select(v => new JObject
        {
            ["version"] = v.Version,
            ["createdAt"] = v.CreatedAt,
            ["note"] = v.Note,
            ["author"] = v.Author,
            ["files"] = new JArray(v.Files.Keys.Order(StringComparer.Ordinal)),
            ["active"] = v.Version == active,
        });
        return Json(new JObject { ["tenant"] = tenant, ["active"] = active, ["files"] = new JArray(files), ["versions"] = new JArray(versions) });
    }

    private static async Task<IResult> FileAsync(HttpContext http, MappingStore store, RulesProvider rules, CancellationToken ct)
    {
        var (tenant, problem) = await PipelineApi.AuthorizeAsync(http, ct);
        if (problem is not null)
        {
            return problem;
        }

        var file = http.Request.Query["file"].ToString();
        var defaults = rules.Current;
        var key = defaults.Keys.FirstOrDefault(k => defaults.FileOf(k) == file);
        if (key is null)
        {
            return InvocationEndpoints.Problem(StatusCodes.Status404NotFound, "Unknown rule file", $"'{file}' is not one of the Hub's rule files.");
        }

        int? version = int.TryParse(http.Request.Query["version"], out var v) ? v : null;
        var (_, _, edited) = await EditedAsync(store, tenant, version, ct);
        var byDefault = defaults.Export(key).ToString(Formatting.Indented);
        return Json(new JObject
        {
            ["file"] = file,
            ["key"] = key,
            ["edited"] = edited.ContainsKey(file),
            ["json"] = edited.TryGetValue(file, out var text) ? text : byDefault,
            ["default"] = byDefault,
        });
    }

    /// <summary>Edited files as sent: a JSON object per file, or its text; null puts the file back to the default.</summary>
    private static Dictionary<string, string?> FilesOf(JObject body)
    {
        var files = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var p in (body["files"] as JObject ?? []).Properties())
        {
            files[p.Name] = p.Value.Type switch
            {
                JTokenType.Null => null,
                JTokenType.String => p.Value.ToString(),
                _ => p.Value.ToString(Formatting.Indented),
            };
        }

        return files;
    }

    /// <summary>
    /// The active edits with <paramref name="changes"/> applied (null: back to the default; a text equal to the
    /// default in meaning is not kept as an edit).
    /// </summary>
    private static Dictionary<string, string> Apply(RuleSet defaults, IReadOnlyDictionary<string, string> edited, IReadOnlyDictionary<string, string?> changes)
    {
        var result = new Dictionary<string, string>(edited, StringComparer.Ordinal);
        foreach (var (file, text) in changes)
        {
            var key = defaults.Keys.FirstOrDefault(k => defaults.FileOf(k) == file);
            if (text is null || (key is not null && SameJson(text, defaults.Export(key))))
            {
                result.Remove(file);
            }
            else
            {
                result[file] = text;
            }
        }

        return result;
    }

    private static bool SameJson(string text, JObject json)
    {
        try
        {
            return JToken.DeepEquals(JObject.Parse(text), json);
        }
        catch (JsonReaderException)
        {
            return false;
        }
    }

    private static async Task<IResult> PreviewAsync(HttpContext http, MappingStore store, RulesProvider rules, ConnectionStore connections, ConnectionContexts contexts, PushStore push, IServiceProvider services, TimeProvider clock, CancellationToken ct)
    {
        var (tenant, body, problem) = await AuthorizedBodyAsync(http, ct);
        if (problem is not null)
        {
            return problem;
        }

        var (_, _, edited) = await EditedAsync(store, tenant, null, ct);
        var files = Apply(rules.Current, edited, FilesOf(body));
        var (ruleSet, errors) = RulesProvider.Compose(rules.Current, files);
        var response = new JObject { ["valid"] = ruleSet is not null, ["errors"] = ErrorsJson(errors), ["edited"] = new JArray(files.Keys.Order(StringComparer.Ordinal)) };
        if (ruleSet is null)
        {
            return Json(response);
        }

        var storeId = body.Value<string>("store") ?? "";
        if (storeId.Length == 0)
        {
            return Json(response);
        }

        var connection = await connections.GetAsync(tenant, storeId, ct);
        if (connection is null || services.GetKeyedService<IStoreConnector>(connection.ConnectorId) is not { } connector)
        {
            return InvocationEndpoints.Problem(StatusCodes.Status404NotFound, "Unknown connection", "store must name one of this tenant's store connections.");
        }

        var entity = body.Value<string>("entity") == "member" ? "member" : "order";
        var stream = entity == "order" ? "orders" : "customers";
        var context = await contexts.ForAsync(connection, ct);
        var now = clock.GetUtcNow();
        var cacheKey = $"{tenant}\n{storeId}\n{stream}";
        if (body.Value<bool?>("refresh") == true || !Samples.TryGetValue(cacheKey, out var sample) || now - sample.ReadAt > SampleFor)
        {
            try
            {
                // One page of the last 30 days: a live read costs the merchant one call, so it is kept five minutes.
                var page = await connector.PullAsync(new PullRequest(context, stream, null, now.AddDays(-30), now), ct);
                sample = (page.Records, now);
                Samples[cacheKey] = sample;
                foreach (var stale in Samples.Where(p => now - p.Value.ReadAt > SampleFor).Select(p => p.Key).ToList())
                {
                    Samples.TryRemove(stale, out _); // the cache never outgrows the stores previewed in the last five minutes
                }
            }
            catch (ConnectorException ex)
            {
                return InvocationEndpoints.Problem(StatusCodes.Status502BadGateway, "The store refused the read", ex.Message);
            }
        }

        var records = sample.Records.Take(Math.Clamp(body.Value<int?>("sample") ?? 20, 1, 50)).Cast<JToken>().ToList();
        string? crm = null;
        string? module = null;
        IReadOnlyDictionary<string, string>? ledger = null;
        var crmId = body.Value<string>("crm") ?? "";
        if (crmId.Length > 0)
        {
            var crmConnection = await connections.GetAsync(tenant, crmId, ct);
            if (crmConnection is null || services.GetKeyedService<ICrmConnector>(crmConnection.ConnectorId) is null)
            {
                return InvocationEndpoints.Problem(StatusCodes.Status404NotFound, "Unknown connection", "crm must name one of this tenant's CRM connections.");
            }

            crm = crmConnection.ConnectorId;
            module = body.Value<string>("module") ?? ruleSet.Targets.FirstOrDefault(t => t.Crm == crm)?.Module;
            if (module is null || ruleSet.Targets.All(t => t.Crm != crm || t.Module != module))
            {
                return InvocationEndpoints.Problem(StatusCodes.Status400BadRequest, "Unknown module", $"{crm} has no target rule for module '{module}'.");
            }
        }

        PreviewResult preview;
        try
        {
            preview = Preview.Run(ruleSet, new PreviewRequest(connection.ConnectorId, entity, storeId, records, crm, module, context.Settings.Value<string>("region")), now);
        }
        catch (KeyNotFoundException ex)
        {
            return InvocationEndpoints.Problem(StatusCodes.Status400BadRequest, "No rule for this store", ex.Message);
        }

        if (crm is not null)
        {
            // Profile ids are known only after the preview resolved them: the Ledger is read for exactly those.
            var bound = await push.ReadAsync(HubTables.Ledger, tenant, crmId, module!, preview.Profiles.Select(p => p.Value<string>("id")!), ct);
            ledger = bound.ToDictionary(p => p.Key, p => p.Value.GetString("Hash") ?? "", StringComparer.Ordinal);
        }

        response["sample"] = new JObject
        {
            ["store"] = storeId,
            ["platform"] = connection.ConnectorId,
            ["entity"] = entity,
            ["records"] = records.Count,
            ["readAt"] = sample.ReadAt,
            ["sourceFields"] = new JArray(SourceFields(records).Take(300)),
        };
        response["records"] = new JArray(preview.Records.Select(r => new JObject
        {
            ["index"] = r.Index,
            ["valid"] = r.Valid,
            ["canonical"] = Mask(r.Canonical),
            ["issues"] = new JArray(r.Issues.Select(i => new JObject { ["field"] = i.Field, ["message"] = i.Message, ["error"] = i.IsError })),
        }));
        response["profiles"] = new JArray(preview.Profiles.Select(Mask));
        var payloads = preview.Payloads.Select(p =>
        {
            var action = p.Action == Preview.Invalid ? p.Action
                : ledger is not null && ledger.TryGetValue(p.ProfileId, out var hash) ? (hash == p.Hash ? Preview.Unchanged : Preview.Update)
                : Preview.Create;
            return new JObject
            {
                ["profileId"] = p.ProfileId,
                ["action"] = action,
                ["payload"] = Mask(p.Payload),
                ["tags"] = new JArray(p.Tags),
                ["issues"] = new JArray(p.Issues.Select(i => new JObject { ["field"] = i.Field, ["message"] = i.Message, ["error"] = i.IsError })),
            };
        }).ToList();
        response["payloads"] = new JArray(payloads);
        response["target"] = crm is null ? null : new JObject { ["crm"] = crm, ["module"] = module };
        response["counts"] = new JObject
        {
            ["create"] = payloads.Count(p => p.Value<string>("action") == Preview.Create),
            ["update"] = payloads.Count(p => p.Value<string>("action") == Preview.Update),
            ["unchanged"] = payloads.Count(p => p.Value<string>("action") == Preview.Unchanged),
            ["invalid"] = payloads.Count(p => p.Value<string>("action") == Preview.Invalid),
            ["invalidRecords"] = preview.Counts.InvalidRecords,
        };
        return Json(response);
    }

    private static async Task<IResult> SaveAsync(HttpContext http, MappingStore store, RulesProvider rules, HubAccess access, TimeProvider clock, CancellationToken ct)
    {
        var (tenant, body, problem) = await AuthorizedBodyAsync(http, ct);
        if (problem is not null)
        {
            return problem;
        }

        var (active, etag, edited) = await EditedAsync(store, tenant, null, ct);
        if (body.Value<int?>("baseVersion") is { } based && based != active)
        {
            return InvocationEndpoints.Problem(StatusCodes.Status409Conflict, "Saved meanwhile", $"Version {active} was activated after you opened version {based}; reload it and apply your change again.");
        }

        var files = Apply(rules.Current, edited, FilesOf(body));
        return await ActivateNewAsync(http, store, rules, access, clock, tenant, active, etag, files, body.Value<string>("note") ?? "", ct);
    }

    private static async Task<IResult> ActivateNewAsync(HttpContext http, MappingStore store, RulesProvider rules, HubAccess access, TimeProvider clock, string tenant, int active, ETag etag, Dictionary<string, string> files, string note, CancellationToken ct)
    {
        var (ruleSet, errors) = RulesProvider.Compose(rules.Current, files);
        if (ruleSet is null)
        {
            return Invalid(errors, $"{errors.Count} error(s); nothing was saved and version {active} stays active.");
        }

        var author = await access.DescribeAsync(http.Request.Headers.Authorization.ToString(), tenant, ct);
        try
        {
            var version = await store.SaveAsync(tenant, files, note.Length > 200 ? note[..200] : note, author, etag, clock.GetUtcNow(), ct);
            rules.Forget(tenant);
            return Json(new JObject { ["tenant"] = tenant, ["active"] = version, ["files"] = new JArray(files.Keys.Order(StringComparer.Ordinal)) }, StatusCodes.Status201Created);
        }
        catch (RequestFailedException ex) when (ex.Status is 409 or 412)
        {
            return InvocationEndpoints.Problem(StatusCodes.Status409Conflict, "Saved meanwhile", "Another save activated a version at the same moment; reload and apply your change again.");
        }
    }

    private static async Task<IResult> RollbackAsync(HttpContext http, MappingStore store, RulesProvider rules, TimeProvider clock, CancellationToken ct)
    {
        var (tenant, problem) = await PipelineApi.AuthorizeAsync(http, ct);
        if (problem is not null)
        {
            return problem;
        }

        if (!int.TryParse(http.Request.Query["version"], out var version) || version < 0)
        {
            return InvocationEndpoints.Problem(StatusCodes.Status400BadRequest, "Invalid version", "version must be a saved version number, or 0 for the Hub's defaults.");
        }

        var (active, etag) = await store.ActiveAsync(tenant, ct);
        IReadOnlyDictionary<string, string> files = new Dictionary<string, string>();
        if (version > 0)
        {
            if (await store.GetAsync(tenant, version, ct) is not { } saved)
            {
                return InvocationEndpoints.Problem(StatusCodes.Status404NotFound, "Unknown version", $"This tenant has no mapping version {version}.");
            }

            files = saved.Files;
        }

        // Validated again: the Hub's defaults (and schema) may have changed since that version was saved.
        var (ruleSet, errors) = RulesProvider.Compose(rules.Current, files);
        if (ruleSet is null)
        {
            return Invalid(errors, $"Version {version} no longer validates against this Hub's rules; version {active} stays active.");
        }

        try
        {
            await store.ActivateAsync(tenant, version, etag, clock.GetUtcNow(), ct);
            rules.Forget(tenant);
        }
        catch (RequestFailedException ex) when (ex.Status is 409 or 412)
        {
            return InvocationEndpoints.Problem(StatusCodes.Status409Conflict, "Saved meanwhile", "Another change was activated at the same moment; reload and try again.");
        }

        return Json(new JObject { ["tenant"] = tenant, ["active"] = version, ["previous"] = active });
    }

    private static async Task<IResult> ExportAsync(HttpContext http, MappingStore store, RulesProvider rules, CancellationToken ct)
    {
        var (tenant, problem) = await PipelineApi.AuthorizeAsync(http, ct);
        if (problem is not null)
        {
            return problem;
        }

        int? version = int.TryParse(http.Request.Query["version"], out var v) ? v : null;
        var (active, _, edited) = await EditedAsync(store, tenant, version, ct);
        var defaults = rules.Current;
        var files = new JObject();
        foreach (var key in defaults.Keys.OrderBy(defaults.FileOf, StringComparer.Ordinal))
        {
            var file = defaults.FileOf(key);
            files[file] = edited.TryGetValue(file, out var text) ? JObject.Parse(text) : defaults.Export(key);
        }

        http.Response.Headers.ContentDisposition = $"attachment; filename=\"hub-mappings-{tenant}-v{version ?? active}.json\"";
        return Json(new JObject { ["format"] = "hub-mappings/1", ["tenant"] = tenant, ["version"] = version ?? active, ["files"] = files });
    }

    /// <summary>
    /// An export (or any <c>{"files": {path: rule}}</c> with the files of mappings/rules) becomes the tenant's whole
    /// edited set: files equal to the defaults stay defaults, files it leaves out go back to the defaults.
    /// </summary>
    private static async Task<IResult> ImportAsync(HttpContext http, MappingStore store, RulesProvider rules, HubAccess access, TimeProvider clock, CancellationToken ct)
    {
        var (tenant, body, problem) = await AuthorizedBodyAsync(http, ct);
        if (problem is not null)
        {
            return problem;
        }

        if (body["files"] is not JObject { HasValues: true })
        {
            return InvocationEndpoints.Problem(StatusCodes.Status400BadRequest, "Malformed import", "An import is {\"files\": {\"sources/shopify/order.json\": {…}, …}}, as GET /api/mappings/export writes it.");
        }

        var (active, etag) = await store.ActiveAsync(tenant, ct);
        var files = Apply(rules.Current, new Dictionary<string, string>(), FilesOf(body));
        return await ActivateNewAsync(http, store, rules, access, clock, tenant, active, etag, files, body.Value<string>("note") ?? "import", ct);
    }

    /// <summary>Every JSON path in the sample records (arrays as <c>[*]</c>), for the editor's source column.</summary>
    private static IEnumerable<string> SourceFields(IEnumerable<JToken> records)
    {
        var paths = new SortedSet<string>(StringComparer.Ordinal);
        void Walk(JToken token, string path)
        {
            switch (token)
            {
                case JObject o:
                    foreach (var p in o.Properties())
                    {
                        Walk(p.Value, $"{path}.{p.Name}");
                    }

                    break;
                case JArray a:
                    foreach (var item in a.Take(3))
                    {
                        Walk(item, path + "[*]");
                    }

                    break;
                default:
                    paths.Add(path);
                    break;
            }
        }

        foreach (var record in records)
        {
            Walk(record, "$");
        }

        return paths;
    }

    /// <summary>
    /// Contact data masked for the page: emails, phone numbers, names and street lines keep just enough to recognise a
    /// record (<c>a***@example.com</c>, <c>+86****78</c>, <c>Z***</c>).
    /// </summary>
    internal static JToken Mask(JToken token)
    {
        switch (token)
        {
            case JObject o:
                var copy = new JObject();
                foreach (var p in o.Properties())
                {
                    copy[p.Name] = p.Value.Type == JTokenType.String && PersonalKey().IsMatch(p.Name) && !NotPersonal().IsMatch(p.Name)
                        ? MaskText(p.Value.ToString())
                        : Mask(p.Value);
                }

                return copy;
            case JArray a:
                return new JArray(a.Select(Mask));
            case JValue { Type: JTokenType.String } v:
                var s = v.ToString();
                return Email().IsMatch(s) ? s[0] + "***@" + s.Split('@')[1]
                    : Phone().IsMatch(s) ? s[..Math.Min(3, s.Length)] + "****" + s[^2..]
                    : v.DeepClone();
            default:
                return token.DeepClone();
        }
    }

    private static string MaskText(string value) =>
        Email().IsMatch(value) ? value[0] + "***@" + value.Split('@')[1]
        : Phone().IsMatch(value) ? value[..Math.Min(3, value.Length)] + "****" + value[^2..]
        : value.Length == 0 ? value : value[0] + "***";

    [GeneratedRegex(@"^[^@\s]+@[^@\s]+$")]
    private static partial Regex Email();

    /// <summary>Digits with spaces or dashes, at least seven; not a date (<c>2026-08-12</c>).</summary>
    [GeneratedRegex(@"^(?!\d{4}-\d{2}-\d{2})\+?[\d\s-]{7,}$")]
    private static partial Regex Phone();

    [GeneratedRegex(@"(?i)(name|street|address1|address2|^address$|line1|line2|mobile|phone|email)")]
    private static partial Regex PersonalKey();

    [GeneratedRegex(@"(?i)(^(file|module|displayName|productName|name_?space)$|status|tag|tier|stage|level|segment)")]
    private static partial Regex NotPersonal();
}

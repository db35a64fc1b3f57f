using System.Collections.Concurrent;
using System.Globalization;
using System.Threading.RateLimiting;
using Hub.Connectors.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Newtonsoft.Json.Linq;
using Refit;

namespace Hub.Connectors.Fxiaoke;

/// <summary>
/// 纷享销客 Fxiaoke connector. The Open API has no upsert and no batch, and enforces no uniqueness, so each profile is
/// written as: update by the CRM id the Hub already holds, or query by the stable key (EQ) then update or create,
/// one record per call. A create is never retried blindly: after a timeout or an unclear answer the connector queries
/// again, so a retry can never make a second record. Every answer is HTTP 200 with <c>errorCode</c>. The
/// corpAccessToken (7200 s; the token endpoint allows 10 calls a minute, never concurrently) is cached with the
/// connection's secrets and refreshed single-flight, and again once on 20016. Each interface is paced to 100 calls per
/// 20 s with a sliding window.
/// </summary>
public sealed class FxiaokeConnector(
    IFxiaokeApi api,
    IFxiaokeCreateApi creates,
    IOptions<FxiaokeOptions> options,
    TimeProvider clock,
    ILogger<FxiaokeConnector> logger) : ICrmConnector
{
    public const string Id = "fxiaoke";

    /// <summary>Refused before running (call or frequency limits): safe to send again, even a create.</summary>
    private static readonly IReadOnlySet<int> FrequencyCodes = new HashSet<int> { 14001, 30004 };

    /// <summary>Worth asking again for reads and updates: limits, and "system busy" / timeouts inside the platform.</summary>
    private static readonly IReadOnlySet<int> BusyCodes = new HashSet<int> { 14001, 30004, -1, 50009 };

    private static readonly ConcurrentDictionary<string, SemaphoreSlim> TokenLocks = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, RateLimiter> _pacers = new(StringComparer.Ordinal);

    public ConnectorInfo Info { get; } = new(Id, "纷享销客 Fxiaoke", ConnectorKind.Crm, "app-key", [], "https://open.fxiaoke.com/wiki.html")
    {
        RateLimit = "100 calls per 20 s per interface; a daily quota from purchased Open API packs (100,000 calls each); one record per call.",
    };

    public CrmLimits Limits { get; } = new(50, 1, "One record per call (query + create or update); 100 calls per 20 s per interface; daily quota by purchased packs.");

    private FxiaokeOptions Options => options.Value;

    public async Task TestConnectionAsync(ConnectionContext connection, CancellationToken cancellationToken)
    {
        var session = await SessionAsync(connection, new Usage(), force: false, cancellationToken).ConfigureAwait(false);
        await CallAsync(session, "describe", (host, body) => api.DescribeAsync(host, body, cancellationToken), new JObject { ["apiName"] = "ContactObj", ["includeDetail"] = false }, cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<CrmField>> DescribeAsync(ConnectionContext connection, string module, CancellationToken cancellationToken)
    {
        var session = await SessionAsync(connection, new Usage(), force: false, cancellationToken).ConfigureAwait(false);
        var json = await CallAsync(session, "describe", (host, body) => api.DescribeAsync(host, body, cancellationToken), new JObject { ["apiName"] = module, ["includeDetail"] = true }, cancellationToken).ConfigureAwait(false);
        var fields = json["data"]?["describe"]?["fields"] as JObject ?? [];
        return fields.Properties().Select(p => (JObject)p.Value).Select(f => new CrmField(
            f.Value<string>("api_name")!,
            f.Value<string>("label") ?? f.Value<string>("api_name")!,
            f.Value<string>("type") ?? "text",
            f.Value<int?>("max_length"),
            (f["options"] as JArray ?? []).Select(o => o.Value<string>("value")!).Where(v => v is not null).ToList(),
            f.Value<bool?>("is_required") == true,
            f.Value<bool?>("is_readonly") == true,
            f.Value<string>("define_type") == "custom" || f.Value<string>("api_name")!.EndsWith("__c", StringComparison.Ordinal))).ToList();
    }

    public async Task<CrmUpsertResult> UpsertAsync(ConnectionContext connection, CrmUpsertBatch batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var usage = new Usage();
        var session = await SessionAsync(connection, usage, force: false, cancellationToken).ConfigureAwait(false);
        var results = new List<CrmRecordResult>(batch.Records.Count);
        string? stoppedBy = null;
        foreach (var record in batch.Records)
        {
            if (stoppedBy is not null)
            {
                results.Add(new CrmRecordResult(record.ProfileId, CrmOutcome.Transient, Code: stoppedBy, Message: "Fxiaoke's daily quota is spent; the record waits for the next push."));
                continue;
            }

            try
            {
                results.Add(await WriteAsync(session, batch, record, cancellationToken).ConfigureAwait(false));
            }
            catch (FxiaokeException ex) when (ex.Code == 30002)
            {
                stoppedBy = "30002";
                results.Add(new CrmRecordResult(record.ProfileId, CrmOutcome.Transient, Code: stoppedBy, Message: ex.Message));
            }
            catch (FxiaokeException ex) when (ex.Transient)
            {
                results.Add(new CrmRecordResult(record.ProfileId, CrmOutcome.Transient, Code: ex.Code.ToString(CultureInfo.InvariantCulture), Message: ex.Message));
            }
            catch (FxiaokeException ex) when (!ex.Fatal)
            {
                results.Add(new CrmRecordResult(record.ProfileId, CrmOutcome.Rejected, record.CrmId, ex.Code.ToString(CultureInfo.InvariantCulture), ex.Message));
            }
            catch (FxiaokeException ex)
            {
                throw new ConnectorValidationException(ex.Message, ex) { PlatformCode = ex.Code.ToString(CultureInfo.InvariantCulture) };
            }
        }

        return new CrmUpsertResult(results, new CrmUsage(usage.Calls, usage.Calls, null));
    }

    /// <summary>Update by the known id; else query by the key, then update or create; a doubtful create is re-queried.</summary>
    private async Task<CrmRecordResult> WriteAsync(Session session, CrmUpsertBatch batch, CrmRecord record, CancellationToken ct)
    {
        var id = record.CrmId;
        if (id is null)
        {
            id = await FindAsync(session, batch, record, ct).ConfigureAwait(false);
        }
        else if (!await UpdateAsync(session, batch, record, id, ct).ConfigureAwait(false))
        {
            id = await FindAsync(session, batch, record, ct).ConfigureAwait(false); // the bound record was deleted in the CRM
        }
        else
        {
            return new CrmRecordResult(record.ProfileId, CrmOutcome.Updated, id);
        }

        if (id is not null)
        {
            await UpdateAsync(session, batch, record, id, ct).ConfigureAwait(false);
            return new CrmRecordResult(record.ProfileId, CrmOutcome.Updated, id);
        }

        var body = new JObject
        {
            ["data"] = new JObject
            {
                ["dataObjectApiName"] = batch.Module,
                ["triggerWorkFlow"] = false,
                ["object_data"] = Data(batch, record),
            },
        };
        try
        {
            var created = await CallAsync(session, "create", (host, b) => creates.CreateAsync(host, b, ct), body, ct, FrequencyCodes).ConfigureAwait(false);
            return new CrmRecordResult(record.ProfileId, CrmOutcome.Created, created.Value<string>("dataId"));
        }
        catch (Exception ex) when (ex is ConnectorTransientException or FxiaokeException { Code: -1 or 50009 })
        {
            // Did the create commit before the answer was lost? Ask, never guess: a second create would be a duplicate.
            var committed = await FindAsync(session, batch, record, ct).ConfigureAwait(false);
            if (committed is not null)
            {
                logger.LogInformation("A Fxiaoke create whose answer was lost had committed; bound to the existing record");
                return new CrmRecordResult(record.ProfileId, CrmOutcome.Created, committed);
            }

            return new CrmRecordResult(record.ProfileId, CrmOutcome.Transient, Code: (ex as FxiaokeException)?.Code.ToString(CultureInfo.InvariantCulture) ?? "TIMEOUT", Message: ex.Message);
        }
    }

    private async Task<string?> FindAsync(Session session, CrmUpsertBatch batch, CrmRecord record, CancellationToken ct)
    {
        var body = new JObject
        {
            ["data"] = new JObject
            {
                ["dataObjectApiName"] = batch.Module,
                ["search_query_info"] = new JObject
                {
                    ["limit"] = 2,
                    ["offset"] = 0,
                    ["filters"] = new JArray(new JObject { ["field_name"] = batch.MatchField, ["field_values"] = new JArray(record.MatchValue), ["operator"] = "EQ" }),
                    ["orders"] = new JArray(new JObject { ["fieldName"] = "create_time", ["isAsc"] = true }),
                },
            },
        };
        var json = await CallAsync(session, "query", (host, b) => api.QueryAsync(host, b, ct), body, ct).ConfigureAwait(false);
        var list = json["data"]?["dataList"] as JArray ?? [];
        if (list.Count > 1)
        {
            logger.LogWarning("Fxiaoke holds {Count} records with the same {Field}; the Hub writes to the oldest", list.Count, batch.MatchField);
        }

        return list.FirstOrDefault()?.Value<string>("_id");
    }

    /// <summary>Updates a record; false when the CRM no longer has it.</summary>
    private async Task<bool> UpdateAsync(Session session, CrmUpsertBatch batch, CrmRecord record, string id, CancellationToken ct)
    {
        var data = Data(batch, record);
        data["_id"] = id;
        data["dataObjectApiName"] = batch.Module;
        var body = new JObject { ["data"] = new JObject { ["dataObjectApiName"] = batch.Module, ["triggerWorkFlow"] = false, ["object_data"] = data } };
        try
        {
            await CallAsync(session, "update", (host, b) => api.UpdateAsync(host, b, ct), body, ct).ConfigureAwait(false);
            return true;
        }
        catch (FxiaokeException ex) when (ex.NotFound)
        {
            return false;
        }
    }

    private JObject Data(CrmUpsertBatch batch, CrmRecord record)
    {
        var data = (JObject)record.Payload.DeepClone();
        data[batch.MatchField] = record.MatchValue;
        if (!string.IsNullOrEmpty(Options.TagsField) && batch.OwnedTags.Count > 0)
        {
            data[Options.TagsField] = new JArray(record.Tags.Where(batch.OwnedTags.Contains).Order(StringComparer.Ordinal));
        }

        return data;
    }

    /// <summary>
    /// One call: paced per interface, carrying the token, corpId and currentOpenUserId; 20016 refreshes the token
    /// and asks once more; busy and frequency answers are waited out on reads and updates.
    /// </summary>
    private async Task<JObject> CallAsync(Session session, string name, Func<string, JObject, Task<IApiResponse<JObject>>> call, JObject body, CancellationToken ct, IReadOnlySet<int>? retryCodes = null)
    {
        retryCodes ??= BusyCodes;
        var deadline = clock.GetUtcNow() + Options.BusyWaitBudget;
        var refreshed = false;
        for (var attempt = 1; ; attempt++)
        {
            body["corpAccessToken"] = session.Token;
            body["corpId"] = session.CorpId;
            body["currentOpenUserId"] = session.OpenUserId;
            using var lease = await Pacer(session, name).AcquireAsync(1, ct).ConfigureAwait(false);
            var json = await SendAsync(call, session.Host, body).ConfigureAwait(false);
            session.Usage.Calls++;
            var code = json.Value<int?>("errorCode") ?? -1;
            if (code == 0)
            {
                return json;
            }

            var error = new FxiaokeException(code, json.Value<string>("errorMessage") ?? json.Value<string>("errorDescription") ?? "no message");
            if (code == 20016 && !refreshed)
            {
                refreshed = true;
                var renewed = await SessionAsync(session.Connection, session.Usage, force: true, ct).ConfigureAwait(false);
                session.Token = renewed.Token;
                continue;
            }

            if (retryCodes.Contains(code) && clock.GetUtcNow() < deadline)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(4000, 250 * Math.Pow(2, attempt))), clock, ct).ConfigureAwait(false);
                continue;
            }

            throw error;
        }
    }

    private RateLimiter Pacer(Session session, string name) =>
        _pacers.GetOrAdd($"{session.Connection.TenantId}/{session.Connection.ConnectionId}/{name}", _ => new SlidingWindowRateLimiter(new SlidingWindowRateLimiterOptions
        {
            // The platform counts arrivals in an exact window, and a permit is taken before the request travels: a
            // segmented window frees permits up to a segment early and requests arrive late by their latency. A margin
            // of a tenth of the window (at least half a second) keeps the Hub on the safe side of the count.
            PermitLimit = Options.CallsPerWindow,
            Window = Options.Window + TimeSpan.FromTicks(Math.Max(Options.Window.Ticks / 10, TimeSpan.FromMilliseconds(500).Ticks)),
            SegmentsPerWindow = 10,
            QueueLimit = int.MaxValue,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        }));

    // Fxiaoke answers every outcome in HTTP 200 with errorCode; anything that is not JSON is a transport problem.
    private static Task<JObject> SendAsync(Func<string, JObject, Task<IApiResponse<JObject>>> call, string host, JObject body) =>
        ConnectorHttp.ReadJsonAsync(() => call(host, body), "Fxiaoke");

    /// <summary>The cached corpAccessToken, or a new one (single-flight; the token endpoint allows ten calls a minute).</summary>
    private async Task<Session> SessionAsync(ConnectionContext connection, Usage usage, bool force, CancellationToken ct)
    {
        var host = Host(connection);
        var openUserId = connection.Settings.Value<string>("currentOpenUserId");
        if (string.IsNullOrEmpty(openUserId))
        {
            throw new ConnectorValidationException("The Fxiaoke connection needs currentOpenUserId: the FSUID_… of a CRM administrator, whose data permissions the sync uses.");
        }

        var secrets = connection.Secrets;
        if (!force && Valid(secrets))
        {
            return new Session(connection, host, secrets.Value<string>("corpAccessToken")!, secrets.Value<string>("corpId")!, openUserId, usage);
        }

        var gate = TokenLocks.GetOrAdd($"{connection.TenantId}/{connection.ConnectionId}", _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var current = connection.Secrets;
            if (Valid(current) && (!force || current.Value<string>("corpAccessToken") != secrets.Value<string>("corpAccessToken")))
            {
                return new Session(connection, host, current.Value<string>("corpAccessToken")!, current.Value<string>("corpId")!, openUserId, usage);
            }

            var body = new JObject { ["appId"] = current.Value<string>("appId"), ["appSecret"] = current.Value<string>("appSecret"), ["permanentCode"] = current.Value<string>("permanentCode") };
            var json = await SendAsync((h, b) => api.CorpAccessTokenAsync(h, b, ct), host, body).ConfigureAwait(false);
            usage.Calls++;
            var code = json.Value<int?>("errorCode") ?? -1;
            if (code != 0)
            {
                var message = $"Fxiaoke refused the app credentials ({code}): {json.Value<string>("errorMessage")}";
                throw code is 20006 or 20015 or 30003 or 20005
                    ? new ConnectorValidationException(message) { PlatformCode = code.ToString(CultureInfo.InvariantCulture) }
                    : new ConnectorTransientException(message) { PlatformCode = code.ToString(CultureInfo.InvariantCulture) };
            }

            var renewed = (JObject)current.DeepClone();
            renewed["corpAccessToken"] = json.Value<string>("corpAccessToken");
            renewed["corpId"] = json.Value<string>("corpId");
            renewed["corpAccessTokenExpiresAt"] = clock.GetUtcNow().AddSeconds(json.Value<long?>("expiresIn") ?? 7200).ToString("O", CultureInfo.InvariantCulture);
            await connection.UpdateSecretsAsync(renewed, ct).ConfigureAwait(false);
            return new Session(connection, host, renewed.Value<string>("corpAccessToken")!, renewed.Value<string>("corpId")!, openUserId, usage);
        }
        finally
        {
            gate.Release();
        }
    }

    private bool Valid(JObject secrets) =>
        secrets.Value<string>("corpAccessToken") is { Length: > 0 } && !ConnectorHttp.ExpiresWithin(secrets, "corpAccessTokenExpiresAt", clock, Options.RefreshBeforeExpiry);

    private string Host(ConnectionContext connection)
    {
        var host = (connection.Settings.Value<string>("host") ?? Options.Hosts[0]).TrimEnd('/');
        if (!Options.Hosts.Contains(host, StringComparer.OrdinalIgnoreCase))
        {
            throw new ConnectorValidationException($"'{host}' is not a Fxiaoke Open API host this Hub accepts.");
        }

        return host;
    }

    private sealed class Session(ConnectionContext connection, string host, string token, string corpId, string openUserId, Usage usage)
    {
        public ConnectionContext Connection { get; } = connection;
        public string Host { get; } = host;
        public string Token { get; set; } = token;
        public string CorpId { get; } = corpId;
        public string OpenUserId { get; } = openUserId;
        public Usage Usage { get; } = usage;
    }

    private sealed class Usage
    {
        public int Calls { get; set; }
    }
}

/// <summary>A non-zero <c>errorCode</c>, classified by the documented codes.</summary>
internal sealed class FxiaokeException(int code, string message) : Exception($"Fxiaoke error {code}: {message}")
{
    public int Code { get; } = code;

    /// <summary>System busy, timeout, call or frequency limits, daily quota: it passes.</summary>
    public bool Transient => Code is -1 or 50009 or 14001 or 30004 or 30002;

    /// <summary>Credentials, quota never bought, operator unknown: nothing works until an admin acts.</summary>
    public bool Fatal => Code is 20006 or 20015 or 30003 or 20012 or 11008 or 10010 or 20017 or 11014;

    /// <summary>The record to update does not exist (any more).</summary>
    public bool NotFound => Code == 201112004;
}

using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using Hub.Connectors.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Newtonsoft.Json.Linq;
using Refit;

namespace Hub.Connectors.HubSpot;

/// <summary>
/// HubSpot CRM connector. Profiles go out as <c>batch/upsert</c> calls of up to 100 contacts keyed by email
/// (<c>idProperty: email</c>), so a retry or a second push can never create a duplicate contact. Segments are the
/// Hub's own custom properties (never the built-in <c>lifecyclestage</c>, which only moves forward); the Hub's tags
/// are the multi-checkbox property <c>hub_tags</c>, which the Hub owns whole. A 207 answer is read record by record;
/// a batch HubSpot refuses whole (400 VALIDATION_ERROR for one bad input) is split in halves until the bad records
/// stand alone, so one bad email never blocks 99 good ones. Two contacts the Hub finds to be one customer are merged
/// with HubSpot's merge API, which makes a new contact with a new id (the old ids become its aliases).
/// </summary>
public sealed class HubSpotConnector(
    IHubSpotApi api,
    IHubSpotOAuthApi oauth,
    IOptions<HubSpotOptions> options,
    TimeProvider clock,
    ILogger<HubSpotConnector> logger) : ICrmConnector, ICrmMerger, IOAuthInstaller
{
    public const string Id = "hubspot";
    public const int MaxInputs = 100;

    private static readonly ConcurrentDictionary<string, SemaphoreSlim> RefreshLocks = new(StringComparer.Ordinal);

    public ConnectorInfo Info { get; } = new(Id, "HubSpot", ConnectorKind.Crm, "oauth2", [], "https://developers.hubspot.com/docs/api/crm/contacts")
    {
        Scopes = ["crm.objects.contacts.read", "crm.objects.contacts.write", "crm.schemas.contacts.read"],
        RateLimit = "Per account: 100–190 requests per 10 s (250 with the API limit increase) and 250k–1M per day; 429 names the policy (TEN_SECONDLY_ROLLING or DAILY).",
    };

    public CrmLimits Limits { get; } = new(MaxInputs, 4, "100 inputs per batch call; 100–190 calls per 10 s per account; a daily cap by plan.");

    private HubSpotOptions Options => options.Value;

    public async Task TestConnectionAsync(ConnectionContext connection, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(connection, token => api.ProbeAsync(Options.ApiBaseUrl, token, cancellationToken), cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw Failure(response);
        }
    }

    public async Task<IReadOnlyList<CrmField>> DescribeAsync(ConnectionContext connection, string module, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(connection, token => api.ListPropertiesAsync(Options.ApiBaseUrl, module, token, cancellationToken), cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode || response.Content is null)
        {
            throw Failure(response);
        }

        return (response.Content["results"] as JArray ?? []).OfType<JObject>().Select(p => new CrmField(
            p.Value<string>("name")!,
            p.Value<string>("label") ?? p.Value<string>("name")!,
            p.Value<string>("type") ?? "string",
            null,
            (p["options"] as JArray ?? []).Select(o => o.Value<string>("value")!).Where(v => v is not null).ToList(),
            Mandatory: p.Value<string>("name") == "email",
            ReadOnly: p["modificationMetadata"]?.Value<bool?>("readOnlyValue") == true || p.Value<bool?>("calculated") == true,
            Custom: p.Value<bool?>("hubspotDefined") != true)).ToList();
    }

    public async Task<CrmUpsertResult> UpsertAsync(ConnectionContext connection, CrmUpsertBatch batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var results = new List<CrmRecordResult>(batch.Records.Count);
        var usage = new Usage();
        foreach (var chunk in Chunks(batch.Records))
        {
            await UpsertChunkAsync(connection, batch, chunk, results, usage, cancellationToken).ConfigureAwait(false);
        }

        return new CrmUpsertResult(results, new CrmUsage(usage.Calls, usage.Calls, usage.DailyRemaining));
    }

    private sealed class Usage
    {
        public int Calls { get; set; }
        public long? DailyRemaining { get; set; }
    }

    /// <summary>Batches of ≤ 100 in which no email appears twice (HubSpot refuses duplicate ids in one batch).</summary>
    private static IEnumerable<List<CrmRecord>> Chunks(IReadOnlyList<CrmRecord> records)
    {
        var pending = records.ToList();
        while (pending.Count > 0)
        {
            var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            var chunk = new List<CrmRecord>();
            var rest = new List<CrmRecord>();
            foreach (var r in pending)
            {
                (chunk.Count < MaxInputs && seen.Add(r.MatchValue) ? chunk : rest).Add(r);
            }

            yield return chunk;
            pending = rest;
        }
    }

    private async Task UpsertChunkAsync(ConnectionContext connection, CrmUpsertBatch batch, List<CrmRecord> chunk, List<CrmRecordResult> results, Usage usage, CancellationToken ct)
    {
        var body = new JObject { ["inputs"] = new JArray(chunk.Select(r => Input(batch, r))) };
        using var response = await SendAsync(connection, token => api.BatchUpsertAsync(Options.ApiBaseUrl, batch.Module, token, body, ct), ct).ConfigureAwait(false);
        usage.Calls++;
        if (long.TryParse(response.Header("X-HubSpot-RateLimit-Daily-Remaining"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var left))
        {
            usage.DailyRemaining = left;
        }

        var json = response.Json();
        var status = response.Status();
        if (status == 400 && chunk.Count > 1)
        {
            // HubSpot often refuses the whole batch for one bad input: halve until the bad ones stand alone.
            var half = chunk.Count / 2;
            await UpsertChunkAsync(connection, batch, chunk[..half], results, usage, ct).ConfigureAwait(false);
            await UpsertChunkAsync(connection, batch, chunk[half..], results, usage, ct).ConfigureAwait(false);
            return;
        }

        if (status is 400 or 409 or 422 && chunk.Count == 1)
        {
            results.Add(new CrmRecordResult(chunk[0].ProfileId, CrmOutcome.Rejected, Code: json?.Value<string>("category"), Message: json?.Value<string>("message") ?? response.ReasonPhrase));
            return;
        }

        if (status == 429 || status >= 500 || status == 0)
        {
            // Through every retry the pipeline allowed, or a daily limit it must not retry: nothing is lost, the
            // records come back as transient for a later push.
            var message = json?.Value<string>("message") ?? $"HubSpot answered {status}";
            var policy = json?.Value<string>("policyName");
            results.AddRange(chunk.Select(r => new CrmRecordResult(r.ProfileId, CrmOutcome.Transient, Code: policy ?? status.ToString(CultureInfo.InvariantCulture), Message: message)));
            logger.LogWarning("HubSpot refused a batch of {Count} ({Status} {Policy}); the records stay pending", chunk.Count, status, policy);
            return;
        }

        if (!response.IsSuccessStatusCode || json is null)
        {
            throw Failure(response);
        }

        var byEmail = chunk.ToDictionary(r => r.MatchValue, StringComparer.OrdinalIgnoreCase);
        var done = new HashSet<string>(StringComparer.Ordinal);
        foreach (var result in (json["results"] as JArray ?? []).OfType<JObject>())
        {
            var email = result["properties"]?.Value<string>(batch.MatchField) ?? result.Value<string>("id");
            var record = email is not null && byEmail.TryGetValue(email, out var r) ? r : chunk.FirstOrDefault(c => c.CrmId is not null && c.CrmId == result.Value<string>("id"));
            if (record is not null && done.Add(record.ProfileId))
            {
                results.Add(new CrmRecordResult(record.ProfileId, result.Value<bool?>("new") == true ? CrmOutcome.Created : CrmOutcome.Updated, result.Value<string>("id")));
            }
        }

        foreach (var error in (json["errors"] as JArray ?? []).OfType<JObject>())
        {
            var ids = (error["context"] as JObject)?.Properties().SelectMany(p => p.Value is JArray a ? a.Select(v => v.ToString()) : [p.Value.ToString()]) ?? [];
            foreach (var id in ids)
            {
                if (byEmail.TryGetValue(id, out var record) && done.Add(record.ProfileId))
                {
                    results.Add(new CrmRecordResult(record.ProfileId, CrmOutcome.Rejected, Code: error.Value<string>("category"), Message: error.Value<string>("message")));
                }
            }
        }

        // A record HubSpot said nothing about is not lost: it is pending and goes out again.
        results.AddRange(chunk.Where(r => !done.Contains(r.ProfileId))
            .Select(r => new CrmRecordResult(r.ProfileId, CrmOutcome.Transient, Code: "NO_RESULT", Message: "HubSpot returned no result for this contact.")));
    }

    /// <summary>
    /// Merge two contacts (<c>POST /crm/v3/objects/contacts/merge</c>): the survivor is the primary, whose values win;
    /// HubSpot keeps the duplicate's values where the primary has none and its email as an additional email, and
    /// answers with the merged contact, which has a new id. A merge HubSpot refuses is checked once: when both old
    /// ids already lead to one contact (a retry of a merge that went through, since old ids are aliases of the merged
    /// contact), that contact is the answer; otherwise HubSpot's own words are thrown.
    /// </summary>
    public async Task<CrmMerge> MergeAsync(ConnectionContext connection, string module, string survivorId, string duplicateId, CancellationToken cancellationToken)
    {
        var calls = 1;
        var body = new JObject { ["primaryObjectId"] = survivorId, ["objectIdToMerge"] = duplicateId };
        using var response = await SendAsync(connection, token => api.MergeAsync(Options.ApiBaseUrl, module, token, body, cancellationToken), cancellationToken).ConfigureAwait(false);
        if (response.IsSuccessStatusCode && response.Json()?.Value<string>("id") is { } merged)
        {
            return new CrmMerge(merged, new CrmUsage(calls, calls, null));
        }

        var failure = Failure(response);
        if (failure is ConnectorValidationException)
        {
            var survivor = await CurrentIdAsync(connection, module, survivorId, cancellationToken).ConfigureAwait(false);
            var duplicate = await CurrentIdAsync(connection, module, duplicateId, cancellationToken).ConfigureAwait(false);
            calls += 2;
            if (survivor is not null && survivor == duplicate)
            {
                logger.LogInformation("HubSpot contacts {Survivor} and {Duplicate} were already merged into {Merged}", survivorId, duplicateId, survivor);
                return new CrmMerge(survivor, new CrmUsage(calls, calls, null));
            }
        }

        throw failure;
    }

    /// <summary>The id a record id leads to now (itself, or the contact it was merged into), or null when HubSpot knows none.</summary>
    private async Task<string?> CurrentIdAsync(ConnectionContext connection, string module, string id, CancellationToken ct)
    {
        using var response = await SendAsync(connection, token => api.GetAsync(Options.ApiBaseUrl, module, id, token, ct), ct).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        return response.IsSuccessStatusCode ? response.Json()?.Value<string>("id") : throw Failure(response);
    }

    private JObject Input(CrmUpsertBatch batch, CrmRecord record)
    {
        var properties = new JObject();
        foreach (var (name, value) in record.Payload)
        {
            properties[name] = value switch
            {
                null or { Type: JTokenType.Null } => "", // HubSpot clears a property with an empty string
                JValue { Value: IFormattable f } v when v.Type != JTokenType.Date => f.ToString(null, CultureInfo.InvariantCulture),
                JValue v => v.ToString(CultureInfo.InvariantCulture),
                _ => value.ToString(Newtonsoft.Json.Formatting.None),
            };
        }

        properties[Options.TagsProperty] = string.Join(';', record.Tags.Where(batch.OwnedTags.Contains).Order(StringComparer.Ordinal));
        properties[batch.MatchField] = record.MatchValue;
        return new JObject { ["idProperty"] = batch.MatchField, ["id"] = record.MatchValue, ["properties"] = properties };
    }

    /// <summary>Sends with the connection's token; refreshes an expiring OAuth token first, and once more on a 401.</summary>
    private async Task<IApiResponse<JObject>> SendAsync(ConnectionContext connection, Func<string, Task<IApiResponse<JObject>>> call, CancellationToken ct)
    {
        var token = await TokenAsync(connection, force: false, ct).ConfigureAwait(false);
        var response = await Call(call, "Bearer " + token).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.Unauthorized && connection.Secrets.Value<string>("refreshToken") is not null)
        {
            response.Dispose();
            token = await TokenAsync(connection, force: true, ct).ConfigureAwait(false);
            response = await Call(call, "Bearer " + token).ConfigureAwait(false);
        }

        if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
        {
            using (response)
            {
                throw Failure(response);
            }
        }

        return response;

        static async Task<IApiResponse<JObject>> Call(Func<string, Task<IApiResponse<JObject>>> call, string authorization)
        {
            try
            {
                return await call(authorization).ConfigureAwait(false);
            }
            catch (Exception ex) when (ConnectorHttp.IsTransport(ex))
            {
                throw new ConnectorTransientException($"HubSpot could not be reached: {ex.Message}", inner: ex);
            }
        }
    }

    private async Task<string> TokenAsync(ConnectionContext connection, bool force, CancellationToken ct)
    {
        var secrets = connection.Secrets;
        var token = secrets.Value<string>("accessToken");
        if (string.IsNullOrEmpty(token))
        {
            throw new ConnectorValidationException("The HubSpot connection has no access token: paste a private app's token or connect through OAuth.");
        }

        if (secrets.Value<string>("refreshToken") is null || (!force && !ExpiresSoon(secrets)))
        {
            return token;
        }

        var gate = RefreshLocks.GetOrAdd($"{connection.TenantId}/{connection.ConnectionId}", _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (!force && !ExpiresSoon(connection.Secrets))
            {
                return connection.Secrets.Value<string>("accessToken")!;
            }

            var renewed = await ExchangeAsync(new Dictionary<string, string>
            {
                ["grant_type"] = "refresh_token",
                ["client_id"] = Options.ClientId ?? "",
                ["client_secret"] = Options.ClientSecret ?? "",
                ["refresh_token"] = connection.Secrets.Value<string>("refreshToken")!,
            }, (JObject)connection.Secrets.DeepClone(), ct).ConfigureAwait(false);
            await connection.UpdateSecretsAsync(renewed, ct).ConfigureAwait(false);
            return renewed.Value<string>("accessToken")!;
        }
        finally
        {
            gate.Release();
        }
    }

    // A token without an expiry (a custom app's or private app's token) never expires.
    private bool ExpiresSoon(JObject secrets) =>
        secrets.Value<string>("expiresAt") is not null && ConnectorHttp.ExpiresWithin(secrets, "expiresAt", clock, Options.RefreshBeforeExpiry);

    public OAuthStart BeginInstall(OAuthBegin request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var clientId = Options.ClientId ?? throw new ConnectorValidationException("The HubSpot app has no client id (Hub:Connectors:HubSpot:ClientId).");
        var url = $"{Options.AuthorizeUrl}?client_id={Uri.EscapeDataString(clientId)}&scope={Uri.EscapeDataString(Options.Scopes)}" +
                  $"&redirect_uri={Uri.EscapeDataString(request.RedirectUri.ToString())}&state={Uri.EscapeDataString(request.State)}";
        return new OAuthStart(new Uri(url), request.Account);
    }

    public async Task<OAuthGrant> CompleteInstallAsync(OAuthCallback callback, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(callback);
        callback.VerifyState("HubSpot");

        if (callback.Query.TryGetValue("error", out var error))
        {
            throw new ConnectorValidationException($"HubSpot did not grant access: {error} {callback.Query.GetValueOrDefault("error_description")}".Trim());
        }

        var code = callback.Query.GetValueOrDefault("code") ?? throw new ConnectorValidationException("The HubSpot callback has no code.");
        var secrets = await ExchangeAsync(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code",
            ["client_id"] = Options.ClientId ?? "",
            ["client_secret"] = Options.ClientSecret ?? "",
            ["redirect_uri"] = callback.RedirectUri.ToString(),
            ["code"] = code,
        }, [], cancellationToken).ConfigureAwait(false);
        return new OAuthGrant("hubspot", secrets, []);
    }

    private async Task<JObject> ExchangeAsync(Dictionary<string, string> form, JObject secrets, CancellationToken ct)
    {
        IApiResponse<JObject> response;
        try
        {
            response = await oauth.TokenAsync(Options.ApiBaseUrl, form, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ConnectorHttp.IsTransport(ex))
        {
            throw new ConnectorTransientException($"HubSpot's token endpoint could not be reached: {ex.Message}", inner: ex);
        }

        using (response)
        {
            var json = response.Json();
            if (!response.IsSuccessStatusCode || json?.Value<string>("access_token") is not { } access)
            {
                var message = $"HubSpot refused the token request ({response.Status()}): {json?.Value<string>("message") ?? json?.Value<string>("status") ?? "no reason given"}";
                throw response.Status() >= 500 || response.Status() == 429 ? new ConnectorTransientException(message) : new ConnectorValidationException(message);
            }

            secrets["accessToken"] = access;
            if (json.Value<string>("refresh_token") is { } refresh)
            {
                secrets["refreshToken"] = refresh;
            }

            if (json.Value<long?>("expires_in") is { } seconds)
            {
                secrets["expiresAt"] = clock.GetUtcNow().AddSeconds(seconds).ToString("O", CultureInfo.InvariantCulture);
            }

            return secrets;
        }
    }

    private static ConnectorException Failure(IApiResponse response)
    {
        var json = (response as IApiResponse<JObject>)?.Json() ?? ConnectorHttp.ParseOrNull(response.ErrorContent());
        var category = json?.Value<string>("category");
        var message = $"HubSpot answered {response.Status()}{(category is null ? "" : " " + category)}: {json?.Value<string>("message") ?? response.ReasonPhrase}";
        return response.Status() switch
        {
            401 => new ConnectorValidationException(message + ". Reconnect HubSpot or paste a new private app token.") { PlatformCode = category },
            403 => new ConnectorValidationException(message + ". The token lacks a scope the Hub needs.") { PlatformCode = category },
            429 or >= 500 or 0 => new ConnectorTransientException(message) { PlatformCode = category },
            _ => new ConnectorValidationException(message) { PlatformCode = category },
        };
    }

}

using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Hub.Connectors.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Newtonsoft.Json.Linq;
using Refit;

namespace Hub.Connectors.ZohoCrm;

/// <summary>
/// Zoho CRM v8 connector. Upserts 100 contacts per call with <c>duplicate_check_fields</c> = the match field and
/// <c>trigger: []</c> (no workflow e-mails to thousands of customers), reads <c>data[]</c> record by record in input
/// order whatever the HTTP status, and sets only the few tags the rules name (Zoho tags are a scarce org-wide
/// taxonomy: 5–10 per record, 20–200 per module). Access tokens live an hour and a refresh token mints at most ten
/// per ten minutes, so the token is kept with the connection's secrets and shared by every invocation. Calls go
/// to the org's own data centre (<c>api_domain</c>), at most ten heavy calls at once per org.
/// </summary>
public sealed class ZohoCrmConnector(
    IZohoCrmApi api,
    IZohoAccountsApi accounts,
    IOptions<ZohoCrmOptions> options,
    TimeProvider clock,
    IHttpClientFactory httpClients,
    ILogger<ZohoCrmConnector> logger) : ICrmConnector, ICrmBulkLoader, ICrmMerger, IOAuthInstaller
{
    public const string BulkDownloadClient = "zoho-bulk";

    public const string Id = "zoho-crm";
    public const int MaxRecords = 100;
    public const int MaxTagLength = 25;

    private static readonly ConcurrentDictionary<string, SemaphoreSlim> Gates = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, SemaphoreSlim> RefreshLocks = new(StringComparer.Ordinal);

    public ConnectorInfo Info { get; } = new(Id, "Zoho CRM", ConnectorKind.Crm, "oauth2", [], "https://www.zoho.com/crm/developer/docs/api/v8/")
    {
        Scopes = ["ZohoCRM.modules.contacts.ALL", "ZohoCRM.settings.fields.READ", "ZohoCRM.settings.tags.ALL", "ZohoCRM.org.READ"],
        RateLimit = "Credits per org in a rolling 24 h (50,000 + per-user allowance by edition); 10 heavy calls at once; 429 TOO_MANY_REQUESTS without Retry-After.",
    };

    public CrmLimits Limits { get; } = new(MaxRecords, 10, "100 records per upsert (1 credit); credits per rolling 24 h by edition; sub-concurrency 10.");

    private ZohoCrmOptions Options => options.Value;

    public async Task TestConnectionAsync(ConnectionContext connection, CancellationToken cancellationToken)
    {
        var usage = new Usage();
        using var response = await CallAsync(connection, usage, (domain, auth) => api.OrgAsync(domain, auth, cancellationToken), cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw Failure(response);
        }
    }

    public async Task<IReadOnlyList<CrmField>> DescribeAsync(ConnectionContext connection, string module, CancellationToken cancellationToken)
    {
        var usage = new Usage();
        using var response = await CallAsync(connection, usage, (domain, auth) => api.FieldsAsync(domain, auth, module, cancellationToken), cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode || response.Content is null)
        {
            throw Failure(response);
        }

        return (response.Content["fields"] as JArray ?? []).OfType<JObject>().Select(f => new CrmField(
            f.Value<string>("api_name")!,
            f.Value<string>("field_label") ?? f.Value<string>("api_name")!,
            f.Value<string>("data_type") ?? "text",
            f.Value<int?>("length"),
            (f["pick_list_values"] as JArray ?? []).Select(v => v.Value<string>("actual_value") ?? v.Value<string>("display_value")!).Where(v => v is not null).ToList(),
            f.Value<bool?>("system_mandatory") == true,
            f.Value<bool?>("read_only") == true,
            f.Value<bool?>("custom_field") == true)).ToList();
    }

    public async Task<CrmUpsertResult> UpsertAsync(ConnectionContext connection, CrmUpsertBatch batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var usage = new Usage();
        var results = new List<CrmRecordResult>(batch.Records.Count);
        foreach (var chunk in batch.Records.Chunk(MaxRecords))
        {
            var written = await UpsertChunkAsync(connection, batch, chunk, results, usage, cancellationToken).ConfigureAwait(false);
            await TagAsync(connection, batch, written, results, usage, cancellationToken).ConfigureAwait(false);
        }

        return new CrmUpsertResult(results, new CrmUsage(usage.Calls, usage.Calls, usage.Remaining));
    }

    /// <summary>
    /// Records the Hub has bound to a Zoho id (the Ledger) are updated by that id (Update Records), so a record whose
    /// match field changed, or that inherited another's record in a merge, lands on its own record. An id Zoho no
    /// longer knows (deleted in the CRM) falls back to the upsert by match field. The rest are upserted.
    /// </summary>
    private async Task<List<(CrmRecord Record, string Id, bool Created)>> UpsertChunkAsync(
        ConnectionContext connection, CrmUpsertBatch batch, CrmRecord[] chunk, List<CrmRecordResult> results, Usage usage, CancellationToken ct)
    {
        var bound = chunk.Where(r => !string.IsNullOrEmpty(r.CrmId)).ToArray();
        var rest = chunk.Where(r => string.IsNullOrEmpty(r.CrmId)).ToList();
        var written = new List<(CrmRecord, string, bool)>();
        if (bound.Length > 0)
        {
            var body = new JObject
            {
                ["data"] = new JArray(bound.Select(r =>
                {
                    var data = (JObject)r.Payload.DeepClone();
                    if (string.IsNullOrEmpty(r.MatchValue))
                    {
                        data.Remove(batch.MatchField);
                    }
                    else
                    {
                        data[batch.MatchField] = r.MatchValue;
                    }

                    data["id"] = r.CrmId;
                    return data;
                })),
                ["trigger"] = new JArray(),
            };
            using var response = await CallAsync(connection, usage, (domain, auth) => api.UpdateAsync(domain, batch.Module, auth, body, ct), ct).ConfigureAwait(false);
            var items = response.Json()?["data"] as JArray;
            if (items is null || items.Count != bound.Length)
            {
                if (response.Status() is 429 or >= 500 or 0)
                {
                    results.AddRange(bound.Select(r => new CrmRecordResult(r.ProfileId, CrmOutcome.Transient, Code: response.Status().ToString(CultureInfo.InvariantCulture), Message: $"Zoho answered {response.Status()}")));
                }
                else
                {
                    throw Failure(response);
                }
            }
            else
            {
                for (var i = 0; i < bound.Length; i++)
                {
                    var item = (JObject)items[i];
                    if (item.Value<string>("status") == "success")
                    {
                        results.Add(new CrmRecordResult(bound[i].ProfileId, CrmOutcome.Updated, bound[i].CrmId));
                        written.Add((bound[i], bound[i].CrmId!, false));
                    }
                    else if (item.Value<string>("code") == "INVALID_DATA" && item["details"]?.Value<string>("api_name") == "id")
                    {
                        rest.Add(bound[i] with { CrmId = null }); // gone from Zoho: match it again
                    }
                    else
                    {
                        results.Add(new CrmRecordResult(bound[i].ProfileId, CrmOutcome.Rejected, Code: item.Value<string>("code"), Message: Describe(item)));
                    }
                }
            }
        }

        if (rest.Count > 0)
        {
            written.AddRange(await UpsertByKeyAsync(connection, batch, [.. rest], results, usage, ct).ConfigureAwait(false));
        }

        return written;
    }

    private async Task<List<(CrmRecord Record, string Id, bool Created)>> UpsertByKeyAsync(
        ConnectionContext connection, CrmUpsertBatch batch, CrmRecord[] chunk, List<CrmRecordResult> results, Usage usage, CancellationToken ct)
    {
        var body = new JObject
        {
            ["data"] = new JArray(chunk.Select(r =>
            {
                var data = (JObject)r.Payload.DeepClone();
                if (string.IsNullOrEmpty(r.MatchValue))
                {
                    data.Remove(batch.MatchField); // an empty value would match every other empty one
                }
                else
                {
                    data[batch.MatchField] = r.MatchValue;
                }

                return data;
            })),
            // Zoho checks these in order: the match field, then the rule's unique fallbacks (Hub_Profile_Id).
            ["duplicate_check_fields"] = new JArray(new[] { batch.MatchField }.Concat(batch.FallbackMatchFields).Distinct(StringComparer.Ordinal)),
            ["trigger"] = new JArray(), // no workflow, approval or blueprint runs for a sync
        };
        using var response = await CallAsync(connection, usage, (domain, auth) => api.UpsertAsync(domain, batch.Module, auth, body, ct), ct).ConfigureAwait(false);
        var json = response.Json();
        var items = json?["data"] as JArray;
        var written = new List<(CrmRecord, string, bool)>();
        if (items is null || items.Count != chunk.Length)
        {
            if (response.Status() is 429 or >= 500 or 0)
            {
                var message = json?.Value<string>("message") ?? $"Zoho answered {response.Status()}";
                results.AddRange(chunk.Select(r => new CrmRecordResult(r.ProfileId, CrmOutcome.Transient, Code: json?.Value<string>("code") ?? response.Status().ToString(CultureInfo.InvariantCulture), Message: message)));
                logger.LogWarning("Zoho refused a batch of {Count} ({Status}); the records stay pending", chunk.Length, response.Status());
                return written;
            }

            throw Failure(response);
        }

        // Never trust the HTTP status alone (200, 207 and 400 all carry data[]): read every item, in input order.
        for (var i = 0; i < chunk.Length; i++)
        {
            var item = (JObject)items[i];
            var record = chunk[i];
            if (item.Value<string>("status") == "success" && item["details"]?.Value<string>("id") is { } id)
            {
                var created = item.Value<string>("action") == "insert";
                results.Add(new CrmRecordResult(record.ProfileId, created ? CrmOutcome.Created : CrmOutcome.Updated, id));
                written.Add((record, id, created));
            }
            else
            {
                results.Add(new CrmRecordResult(record.ProfileId, CrmOutcome.Rejected, Code: item.Value<string>("code"), Message: Describe(item)));
            }
        }

        return written;
    }

    /// <summary>
    /// Sets the Hub-owned tags: per owned tag, one add call for the written records that should carry it and one
    /// remove call for updated records that should not (a record created just now carries none). Tags outside the
    /// owned set are never touched. A tag Zoho refuses (edition caps) marks the record rejected with Zoho's words.
    /// </summary>
    private async Task TagAsync(ConnectionContext connection, CrmUpsertBatch batch, List<(CrmRecord Record, string Id, bool Created)> written, List<CrmRecordResult> results, Usage usage, CancellationToken ct)
    {
        foreach (var tag in batch.OwnedTags.Order(StringComparer.Ordinal))
        {
            if (tag.Length > MaxTagLength)
            {
                logger.LogWarning("Tag {Tag} is longer than Zoho's {Max} characters and is not set", tag, MaxTagLength);
                continue;
            }

            var add = written.Where(w => w.Record.Tags.Contains(tag, StringComparer.Ordinal)).ToList();
            var remove = written.Where(w => !w.Created && !w.Record.Tags.Contains(tag, StringComparer.Ordinal)).ToList();
            if (add.Count > 0)
            {
                await TagCallAsync(connection, batch, tag, add, adding: true, results, usage, ct).ConfigureAwait(false);
            }

            if (remove.Count > 0)
            {
                await TagCallAsync(connection, batch, tag, remove, adding: false, results, usage, ct).ConfigureAwait(false);
            }
        }
    }

    private async Task TagCallAsync(ConnectionContext connection, CrmUpsertBatch batch, string tag, List<(CrmRecord Record, string Id, bool Created)> targets, bool adding, List<CrmRecordResult> results, Usage usage, CancellationToken ct)
    {
        if (targets.Count > MaxRecords)
        {
            foreach (var part in targets.Chunk(MaxRecords))
            {
                await TagCallAsync(connection, batch, tag, [.. part], adding, results, usage, ct).ConfigureAwait(false);
            }

            return;
        }

        var body = new JObject { ["tags"] = new JArray(new JObject { ["name"] = tag }), ["ids"] = new JArray(targets.Select(t => t.Id)), ["over_write"] = false };
        using var response = await CallAsync(connection, usage, (domain, auth) => adding ? api.AddTagsAsync(domain, batch.Module, auth, body, ct) : api.RemoveTagsAsync(domain, batch.Module, auth, body, ct), ct).ConfigureAwait(false);
        var json = response.Json();
        var byId = targets.ToDictionary(t => t.Id, StringComparer.Ordinal);
        var items = json?["data"] as JArray;
        if (items is null)
        {
            var code = json?.Value<string>("code") ?? response.Status().ToString(CultureInfo.InvariantCulture);
            foreach (var t in targets)
            {
                Replace(results, t.Record.ProfileId, response.Status() is 429 or >= 500 or 0 ? CrmOutcome.Transient : CrmOutcome.Rejected, t.Id, code, $"Record written; tag '{tag}' not {(adding ? "added" : "removed")}: {json?.Value<string>("message") ?? response.ReasonPhrase}");
            }

            return;
        }

        foreach (var item in items.OfType<JObject>())
        {
            if (item.Value<string>("status") == "success")
            {
                continue;
            }

            var id = item["details"]?.Value<string>("id");
            var affected = id is not null && byId.TryGetValue(id, out var one) ? [one] : targets;
            foreach (var t in affected)
            {
                Replace(results, t.Record.ProfileId, CrmOutcome.Rejected, t.Id, item.Value<string>("code"), $"Record written; tag '{tag}' not {(adding ? "added" : "removed")}: {Describe(item)}");
            }
        }
    }

    /// <summary>
    /// Merge Records (<c>POST /{module}/{master}/actions/merge</c>): the duplicate's values give way to the master's and
    /// the duplicate is deleted. Zoho may run a merge at once (SUCCESS) or schedule it (SCHEDULED with a job id); both
    /// count as done here, since the duplicate is gone either way once the job runs.
    /// </summary>
    public async Task<CrmMerge> MergeAsync(ConnectionContext connection, string module, string survivorId, string duplicateId, CancellationToken cancellationToken)
    {
        var usage = new Usage();
        var body = new JObject { ["merge"] = new JArray(new JObject { ["data"] = new JArray(new JObject { ["id"] = duplicateId }) }) };
        using var response = await CallAsync(connection, usage, (domain, auth) => api.MergeAsync(domain, module, survivorId, auth, body, cancellationToken), cancellationToken).ConfigureAwait(false);
        var item = (response.Json()?["merge"] as JArray)?.FirstOrDefault() as JObject;
        if (item?.Value<string>("status") == "success" || item?.Value<string>("code") is "SUCCESS" or "SCHEDULED")
        {
            return new CrmMerge(survivorId, new CrmUsage(usage.Calls, usage.Calls, usage.Remaining)); // the master keeps its id
        }

        if (response.Status() is 429 or >= 500 or 0)
        {
            throw new ConnectorTransientException($"Zoho did not merge {duplicateId} into {survivorId}: {response.Status()}");
        }

        throw new ConnectorValidationException($"Zoho refused to merge {duplicateId} into {survivorId}: {(item is null ? response.Json()?.ToString(Newtonsoft.Json.Formatting.None) : Describe(item))}");
    }

    public int MaxBulkRecords => ZohoCrmBulkWrite.MaxRows;

    /// <summary>
    /// Bulk Write for a large initial load: the records as one zipped CSV uploaded to the org's content host, then an
    /// upsert job matched on the match field. Empty cells are ignored (<c>ignore_empty</c>), so a bulk load never
    /// clears a field; later pushes go through the regular upsert.
    /// </summary>
    public async Task<string> StartBulkUpsertAsync(ConnectionContext connection, CrmUpsertBatch batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Records.Count is 0 or > ZohoCrmBulkWrite.MaxRows)
        {
            throw new ConnectorValidationException($"A Zoho Bulk Write job takes 1 to {ZohoCrmBulkWrite.MaxRows} records, not {batch.Records.Count}.");
        }

        var usage = new Usage();
        string org;
        using (var orgResponse = await CallAsync(connection, usage, (domain, auth) => api.OrgAsync(domain, auth, cancellationToken), cancellationToken).ConfigureAwait(false))
        {
            org = orgResponse.Content?["org"]?[0]?.Value<string>("zgid") ?? throw Failure(orgResponse);
        }

        var (zip, mappings) = ZohoCrmBulkWrite.Build(batch);
        string fileId;
        using (var upload = await CallAsync(connection, usage, (domain, auth) => api.UploadAsync(UploadHost(domain), auth, "bulk-write", org, new Refit.ByteArrayPart(zip, "contacts.zip", "application/zip"), cancellationToken), cancellationToken).ConfigureAwait(false))
        {
            fileId = (upload.Json())?["details"]?.Value<string>("file_id") ?? throw Failure(upload);
        }

        var job = new JObject
        {
            ["operation"] = "upsert",
            ["ignore_empty"] = true,
            ["resource"] = new JArray(new JObject
            {
                ["type"] = "data",
                ["module"] = new JObject { ["api_name"] = batch.Module },
                ["file_id"] = fileId,
                ["find_by"] = batch.MatchField,
                ["field_mappings"] = mappings,
            }),
        };
        using var created = await CallAsync(connection, usage, (domain, auth) => api.CreateBulkWriteAsync(domain, auth, job, cancellationToken), cancellationToken).ConfigureAwait(false);
        var id = (created.Json())?["details"]?.Value<string>("id");
        if (!created.IsSuccessStatusCode || id is null)
        {
            throw Failure(created);
        }

        logger.LogInformation("Started Zoho Bulk Write job {Job} with {Count} records", id, batch.Records.Count);
        return id;
    }

    public async Task<CrmBulkStatus> GetBulkUpsertAsync(ConnectionContext connection, string jobId, IReadOnlyCollection<string> ownedTags, CancellationToken cancellationToken)
    {
        var usage = new Usage();
        using var response = await CallAsync(connection, usage, (domain, auth) => api.GetBulkWriteAsync(domain, auth, jobId, cancellationToken), cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode || response.Content is null)
        {
            throw Failure(response);
        }

        var state = response.Content.Value<string>("status") ?? "UNKNOWN";
        if (state == "FAILED")
        {
            throw new ConnectorValidationException($"Zoho's Bulk Write job {jobId} failed: {response.Content["result"]?.ToString(Newtonsoft.Json.Formatting.None) ?? "no reason given"}.");
        }

        if (state != "COMPLETED" || response.Content["result"]?.Value<string>("download_url") is not { } url)
        {
            return new CrmBulkStatus(jobId, state, false, [], new CrmUsage(usage.Calls, usage.Calls, usage.Remaining));
        }

        var rows = ZohoCrmBulkWrite.ReadResult(await DownloadAsync(connection, url, cancellationToken).ConfigureAwait(false));
        var results = rows.Select(r => r.Result).ToList();
        var written = rows.Where(r => r.Result.Succeeded)
            .Select(r => (new CrmRecord(r.Result.ProfileId, "", [], r.Tags), r.Result.CrmId!, r.Result.Outcome == CrmOutcome.Created))
            .ToList();
        await TagAsync(connection, new CrmUpsertBatch("Contacts", "Email", [], ownedTags), written, results, usage, cancellationToken).ConfigureAwait(false);
        return new CrmBulkStatus(jobId, state, true, results, new CrmUsage(usage.Calls + 1, usage.Calls + 1, usage.Remaining));
    }

    private async Task<byte[]> DownloadAsync(ConnectionContext connection, string url, CancellationToken ct)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || !AllowedApiDomain(uri) && !uri.Host.StartsWith("download", StringComparison.OrdinalIgnoreCase))
        {
            throw new ConnectorValidationException($"Zoho's result URL '{url}' is not a Zoho host.");
        }

        var token = await TokenAsync(connection, force: false, ct).ConfigureAwait(false);
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        request.Headers.TryAddWithoutValidation("Authorization", "Zoho-oauthtoken " + token);
        try
        {
            using var response = await httpClients.CreateClient(BulkDownloadClient).SendAsync(request, ct).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw new ConnectorTransientException($"Zoho's bulk result answered {(int)response.StatusCode}.");
            }

            return await response.Content.ReadAsByteArrayAsync(ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HttpRequestException or Polly.Timeout.TimeoutRejectedException or Polly.CircuitBreaker.BrokenCircuitException)
        {
            throw new ConnectorTransientException($"Zoho's bulk result could not be downloaded: {ex.Message}", inner: ex);
        }
    }

    /// <summary>Uploads go to the data centre's content host (<c>content.zohoapis.eu</c> for <c>www.zohoapis.eu</c>).</summary>
    private static string UploadHost(string apiDomain) =>
        Uri.TryCreate(apiDomain, UriKind.Absolute, out var uri) && uri.Host.StartsWith("www.zohoapis.", StringComparison.OrdinalIgnoreCase)
            ? $"{uri.Scheme}://content.{uri.Host[4..]}"
            : apiDomain;

    private static void Replace(List<CrmRecordResult> results, string profileId, CrmOutcome outcome, string id, string? code, string message)
    {
        var i = results.FindIndex(r => r.ProfileId == profileId);
        results[i] = new CrmRecordResult(profileId, outcome, id, code, message);
    }

    /// <summary>Zoho's message with the details that say what to fix (field, expected type, allowed values, length).</summary>
    private static string Describe(JObject item)
    {
        var message = item.Value<string>("message") ?? item.Value<string>("code") ?? "rejected";
        return item["details"] is JObject { HasValues: true } details ? $"{message} {details.ToString(Newtonsoft.Json.Formatting.None)}" : message;
    }

    /// <summary>
    /// One call within the org's concurrency gate, with a live token: refreshed before it expires, and once more
    /// after a 401 INVALID_TOKEN. Counts the call and the credits Zoho says remain.
    /// </summary>
    private async Task<IApiResponse<JObject>> CallAsync(ConnectionContext connection, Usage usage, Func<string, string, Task<IApiResponse<JObject>>> call, CancellationToken ct)
    {
        var domain = ApiDomain(connection);
        var gate = Gates.GetOrAdd($"{connection.TenantId}/{connection.ConnectionId}", _ => new SemaphoreSlim(Options.Concurrency, Options.Concurrency));
        await gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var token = await TokenAsync(connection, force: false, ct).ConfigureAwait(false);
            var response = await Send(call, domain, token).ConfigureAwait(false);
            usage.Count(response);
            if (response.StatusCode == HttpStatusCode.Unauthorized && Code(response) == "INVALID_TOKEN")
            {
                response.Dispose();
                token = await TokenAsync(connection, force: true, ct).ConfigureAwait(false);
                response = await Send(call, domain, token).ConfigureAwait(false);
                usage.Count(response);
            }

            if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
            {
                using (response)
                {
                    throw Failure(response);
                }
            }

            return response;
        }
        finally
        {
            gate.Release();
        }

        static async Task<IApiResponse<JObject>> Send(Func<string, string, Task<IApiResponse<JObject>>> call, string domain, string token)
        {
            try
            {
                return await call(domain, "Zoho-oauthtoken " + token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ConnectorHttp.IsTransport(ex))
            {
                throw new ConnectorTransientException($"Zoho CRM could not be reached: {ex.Message}", inner: ex);
            }
        }
    }

    private string ApiDomain(ConnectionContext connection)
    {
        var domain = connection.Settings.Value<string>("apiDomain");
        if (!Uri.TryCreate(domain, UriKind.Absolute, out var uri) || !AllowedApiDomain(uri))
        {
            throw new ConnectorValidationException($"The Zoho connection's api_domain '{domain}' is not a Zoho API domain; reconnect Zoho CRM.");
        }

        return domain!.TrimEnd('/');
    }

    private bool AllowedApiDomain(Uri uri) =>
        (uri.Scheme == Uri.UriSchemeHttps && Options.ApiDomainSuffixes.Any(s => uri.Host.EndsWith(s.TrimStart('*'), StringComparison.OrdinalIgnoreCase) || ("." + uri.Host).Equals(s, StringComparison.OrdinalIgnoreCase)))
        || Options.ApiDomainSuffixes.Any(s => uri.ToString().StartsWith(s, StringComparison.OrdinalIgnoreCase));

    private async Task<string> TokenAsync(ConnectionContext connection, bool force, CancellationToken ct)
    {
        var secrets = connection.Secrets;
        if (secrets.Value<string>("accessToken") is { Length: > 0 } token && !force && !ExpiresSoon(secrets))
        {
            return token;
        }

        if (secrets.Value<string>("refreshToken") is null)
        {
            throw new ConnectorValidationException("The Zoho CRM connection has no refresh token; connect Zoho CRM again.");
        }

        // One refresh at a time per connection: a refresh token mints at most ten access tokens per ten minutes.
        var gate = RefreshLocks.GetOrAdd($"{connection.TenantId}/{connection.ConnectionId}", _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var current = connection.Secrets;
            if (!force && current.Value<string>("accessToken") is { Length: > 0 } fresh && !ExpiresSoon(current))
            {
                return fresh;
            }

            var server = AccountsServer(connection.Settings.Value<string>("accountsServer") ?? Options.DefaultAccountsServer);
            var json = await ExchangeAsync(server, new Dictionary<string, string>
            {
                ["grant_type"] = "refresh_token",
                ["client_id"] = Options.ClientId ?? "",
                ["client_secret"] = Options.ClientSecret ?? "",
                ["refresh_token"] = current.Value<string>("refreshToken")!,
            }, ct).ConfigureAwait(false);
            var renewed = (JObject)current.DeepClone();
            renewed["accessToken"] = json.Value<string>("access_token");
            renewed["expiresAt"] = clock.GetUtcNow().AddSeconds(json.Value<long?>("expires_in") ?? 3600).ToString("O", CultureInfo.InvariantCulture);
            await connection.UpdateSecretsAsync(renewed, ct).ConfigureAwait(false);
            logger.LogInformation("Refreshed the Zoho access token of connection {Connection}", connection.ConnectionId);
            return renewed.Value<string>("accessToken")!;
        }
        finally
        {
            gate.Release();
        }
    }

    private bool ExpiresSoon(JObject secrets) => ConnectorHttp.ExpiresWithin(secrets, "expiresAt", clock, Options.RefreshBeforeExpiry);

    public OAuthStart BeginInstall(OAuthBegin request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var clientId = Options.ClientId ?? throw new ConnectorValidationException("The Zoho app has no client id (Hub:Connectors:ZohoCrm:ClientId).");
        var server = AccountsServer(string.IsNullOrEmpty(request.Account) ? Options.DefaultAccountsServer : request.Account);
        var url = $"{server}/oauth/v2/auth?scope={Uri.EscapeDataString(Options.Scopes)}&client_id={Uri.EscapeDataString(clientId)}&response_type=code" +
                  $"&access_type=offline&prompt=consent&redirect_uri={Uri.EscapeDataString(request.RedirectUri.ToString())}&state={Uri.EscapeDataString(request.State)}";
        return new OAuthStart(new Uri(url), server);
    }

    public async Task<OAuthGrant> CompleteInstallAsync(OAuthCallback callback, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(callback);
        var q = callback.Query;
        callback.VerifyState("Zoho");

        if (q.TryGetValue("error", out var error))
        {
            throw new ConnectorValidationException($"Zoho did not grant access: {error}.");
        }

        var code = q.GetValueOrDefault("code") ?? throw new ConnectorValidationException("The Zoho callback has no code.");
        // The user's org may live in another data centre: exchange the code at the accounts server Zoho names.
        var server = AccountsServer(q.GetValueOrDefault("accounts-server") ?? Options.DefaultAccountsServer);
        var json = await ExchangeAsync(server, new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code",
            ["client_id"] = Options.ClientId ?? "",
            ["client_secret"] = Options.ClientSecret ?? "",
            ["redirect_uri"] = callback.RedirectUri.ToString(),
            ["code"] = code,
        }, cancellationToken).ConfigureAwait(false);
        var apiDomain = json.Value<string>("api_domain");
        if (!Uri.TryCreate(apiDomain, UriKind.Absolute, out var apiUri) || !AllowedApiDomain(apiUri))
        {
            throw new ConnectorValidationException($"Zoho answered with an api_domain '{apiDomain}' that is not a Zoho API domain.");
        }

        if (json.Value<string>("refresh_token") is not { Length: > 0 } refresh)
        {
            throw new ConnectorValidationException("Zoho gave no refresh token (access_type=offline was not honoured); connect again.");
        }

        var secrets = new JObject
        {
            ["accessToken"] = json.Value<string>("access_token"),
            ["refreshToken"] = refresh,
            ["expiresAt"] = clock.GetUtcNow().AddSeconds(json.Value<long?>("expires_in") ?? 3600).ToString("O", CultureInfo.InvariantCulture),
        };
        var settings = new JObject { ["accountsServer"] = server, ["apiDomain"] = apiDomain, ["location"] = q.GetValueOrDefault("location") };
        return new OAuthGrant(server, secrets, settings);
    }

    private string AccountsServer(string candidate)
    {
        var normalised = candidate.Trim().TrimEnd('/');
        if (!Options.AccountsServers.Contains(normalised, StringComparer.OrdinalIgnoreCase))
        {
            throw new ConnectorValidationException($"'{candidate}' is not a Zoho accounts server this Hub accepts.");
        }

        return normalised;
    }

    /// <summary>Token calls: Zoho answers errors with HTTP 200 and <c>{"error": …}</c>.</summary>
    private async Task<JObject> ExchangeAsync(string server, Dictionary<string, string> form, CancellationToken ct)
    {
        IApiResponse<JObject> response;
        try
        {
            response = await accounts.TokenAsync(server, form, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ConnectorHttp.IsTransport(ex))
        {
            throw new ConnectorTransientException($"Zoho Accounts could not be reached: {ex.Message}", inner: ex);
        }

        using (response)
        {
            var json = response.Json();
            if (json?.Value<string>("error") is { } error)
            {
                var description = json.Value<string>("error_description");
                var message = $"Zoho Accounts refused the token request: {error}{(description is null ? "" : " — " + description)}";
                // "Access Denied" = too many token requests for this refresh token in ten minutes: it passes.
                throw error.Equals("Access Denied", StringComparison.OrdinalIgnoreCase)
                    ? new ConnectorTransientException(message, TimeSpan.FromMinutes(10)) { PlatformCode = error }
                    : new ConnectorValidationException(message) { PlatformCode = error };
            }

            if (!response.IsSuccessStatusCode || json?.Value<string>("access_token") is null)
            {
                throw response.Status() is 429 or >= 500 or 0
                    ? new ConnectorTransientException($"Zoho Accounts answered {response.Status()}.")
                    : new ConnectorValidationException($"Zoho Accounts answered {response.Status()} without a token.");
            }

            return json;
        }
    }

    private static string? Code(IApiResponse<JObject> response) => (response.Json())?.Value<string>("code");

    private static ConnectorException Failure(IApiResponse response)
    {
        var json = (response as IApiResponse<JObject>)?.Json() ?? ConnectorHttp.ParseOrNull(response.ErrorContent());
        var code = json?.Value<string>("code");
        var message = $"Zoho CRM answered {response.Status()}{(code is null ? "" : " " + code)}: {json?.Value<string>("message") ?? response.ReasonPhrase}";
        return (response.Status(), code) switch
        {
            (401, "OAUTH_SCOPE_MISMATCH") => new ConnectorValidationException(message + ". Reconnect Zoho CRM and grant every scope the Hub asks for.") { PlatformCode = code },
            (401, _) => new ConnectorValidationException(message + ". Reconnect Zoho CRM.") { PlatformCode = code },
            (403, _) => new ConnectorValidationException(message + ". The connecting user lacks a permission.") { PlatformCode = code },
            (429 or >= 500 or 0, _) => new ConnectorTransientException(message) { PlatformCode = code },
            _ => new ConnectorValidationException(message) { PlatformCode = code },
        };
    }


    private sealed class Usage
    {
        public int Calls { get; private set; }
        public long? Remaining { get; private set; }

        public void Count(IApiResponse response)
        {
            Calls++;
            if (long.TryParse(response.Header("X-API-CREDITS-REMAINING"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var left))
            {
                Remaining = left;
            }
        }
    }
}

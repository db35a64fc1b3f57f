using Hub.Connectors.Http;
using Newtonsoft.Json.Linq;
using Refit;

namespace Hub.Connectors.ZohoCrm;

/// <summary>
/// Zoho CRM v8 at the org's own data centre (<c>api_domain</c> from the token answer). Upsert and tag calls are
/// idempotent (matched on Email; adding a present tag changes nothing), so the pipeline may retry them.
/// https://www.zoho.com/crm/developer/docs/api/v8/upsert-records.html
/// </summary>
public interface IZohoCrmApi
{
    /// <summary><c>POST {api_domain}/crm/v8/{module}/upsert</c>: ≤ 100 records; <c>data[]</c> answers in input order.</summary>
    [Post("/crm/v8/{module}/upsert")]
    Task<IApiResponse<JObject>> UpsertAsync([Property(PerRequestBaseAddressHandler.Key)] string apiDomain, string module, [Header("Authorization")] string authorization, [Body] JObject body, CancellationToken cancellationToken);

    /// <summary><c>POST /crm/v8/{module}/actions/add_tags</c>. https://www.zoho.com/crm/developer/docs/api/v8/add-tags.html</summary>
    /// <summary>Update Records: each item names the record by <c>id</c>.</summary>
    [Put("/crm/v8/{module}")]
    Task<IApiResponse<JObject>> UpdateAsync([Property(PerRequestBaseAddressHandler.Key)] string apiDomain, string module, [Header("Authorization")] string authorization, [Body] JObject body, CancellationToken cancellationToken);

    /// <summary>Merge Records: the master record in the path, the duplicate in <c>merge[0].data[0].id</c>.</summary>
    [Post("/crm/v8/{module}/{masterId}/actions/merge")]
    Task<IApiResponse<JObject>> MergeAsync([Property(PerRequestBaseAddressHandler.Key)] string apiDomain, string module, string masterId, [Header("Authorization")] string authorization, [Body] JObject body, CancellationToken cancellationToken);

    [Post("/crm/v8/{module}/actions/add_tags")]
    Task<IApiResponse<JObject>> AddTagsAsync([Property(PerRequestBaseAddressHandler.Key)] string apiDomain, string module, [Header("Authorization")] string authorization, [Body] JObject body, CancellationToken cancellationToken);

    /// <summary><c>POST /crm/v8/{module}/actions/remove_tags</c>.</summary>
    [Post("/crm/v8/{module}/actions/remove_tags")]
    Task<IApiResponse<JObject>> RemoveTagsAsync([Property(PerRequestBaseAddressHandler.Key)] string apiDomain, string module, [Header("Authorization")] string authorization, [Body] JObject body, CancellationToken cancellationToken);

    /// <summary><c>GET /crm/v8/settings/fields?module=</c>. https://www.zoho.com/crm/developer/docs/api/v8/field-meta.html</summary>
    [Get("/crm/v8/settings/fields")]
    Task<IApiResponse<JObject>> FieldsAsync([Property(PerRequestBaseAddressHandler.Key)] string apiDomain, [Header("Authorization")] string authorization, [AliasAs("module")] string module, CancellationToken cancellationToken);

    /// <summary>
    /// <c>POST https://content.zohoapis.{dc}/crm/v8/upload</c> (multipart <c>file</c>, headers <c>feature: bulk-write</c> and
    /// <c>X-CRM-ORG</c>). https://www.zoho.com/crm/developer/docs/api/v8/bulk-write/upload-file.html
    /// </summary>
    [Multipart]
    [Post("/crm/v8/upload")]
    Task<IApiResponse<JObject>> UploadAsync([Property(PerRequestBaseAddressHandler.Key)] string uploadHost, [Header("Authorization")] string authorization, [Header("feature")] string feature, [Header("X-CRM-ORG")] string org, [AliasAs("file")] ByteArrayPart file, CancellationToken cancellationToken);

    /// <summary><c>POST /crm/bulk/v8/write</c>: a job over an uploaded file. https://www.zoho.com/crm/developer/docs/api/v8/bulk-write/create-job.html</summary>
    [Post("/crm/bulk/v8/write")]
    Task<IApiResponse<JObject>> CreateBulkWriteAsync([Property(PerRequestBaseAddressHandler.Key)] string apiDomain, [Header("Authorization")] string authorization, [Body] JObject body, CancellationToken cancellationToken);

    /// <summary><c>GET /crm/bulk/v8/write/{jobId}</c>: ADDED → IN PROGRESS → COMPLETED/FAILED, then <c>result.download_url</c>.</summary>
    [Get("/crm/bulk/v8/write/{jobId}")]
    Task<IApiResponse<JObject>> GetBulkWriteAsync([Property(PerRequestBaseAddressHandler.Key)] string apiDomain, [Header("Authorization")] string authorization, string jobId, CancellationToken cancellationToken);

    /// <summary><c>GET /crm/v8/org</c>: the cheapest authenticated read.</summary>
    [Get("/crm/v8/org")]
    Task<IApiResponse<JObject>> OrgAsync([Property(PerRequestBaseAddressHandler.Key)] string apiDomain, [Header("Authorization")] string authorization, CancellationToken cancellationToken);
}

/// <summary>Zoho Accounts at the user's own accounts server. Never retried: codes are single-use.</summary>
public interface IZohoAccountsApi
{
    /// <summary>
    /// <c>POST {accounts-server}/oauth/v2/token</c> (form): authorization_code or refresh_token. Errors come as HTTP 200
    /// with <c>{"error": "invalid_code"}</c>. https://www.zoho.com/crm/developer/docs/api/v8/access-refresh.html
    /// </summary>
    [Post("/oauth/v2/token")]
    Task<IApiResponse<JObject>> TokenAsync([Property(PerRequestBaseAddressHandler.Key)] string accountsServer, [Body(BodySerializationMethod.UrlEncoded)] Dictionary<string, string> form, CancellationToken cancellationToken);
}

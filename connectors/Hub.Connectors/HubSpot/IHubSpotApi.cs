using Hub.Connectors.Http;
using Newtonsoft.Json.Linq;
using Refit;

namespace Hub.Connectors.HubSpot;

/// <summary>
/// HubSpot CRM v3. Batch upsert by a unique property is idempotent, so the pipeline may retry it.
/// https://developers.hubspot.com/docs/api-reference/crm-contacts-v3/batch/post-crm-v3-objects-contacts-batch-upsert
/// </summary>
public interface IHubSpotApi
{
    /// <summary><c>POST /crm/v3/objects/{objectType}/batch/upsert</c>: ≤ 100 inputs; 200, or 207 with <c>errors[]</c>.</summary>
    [Post("/crm/v3/objects/{objectType}/batch/upsert")]
    Task<IApiResponse<JObject>> BatchUpsertAsync(
        [Property(PerRequestBaseAddressHandler.Key)] string baseUrl,
        string objectType,
        [Header("Authorization")] string authorization,
        [Body] JObject body,
        CancellationToken cancellationToken);

    /// <summary>
    /// <c>POST /crm/v3/objects/{objectType}/merge</c> with <c>primaryObjectId</c> and <c>objectIdToMerge</c>: 200 with the
    /// merged record, which has a new id (both old ids become aliases of it).
    /// https://developers.hubspot.com/docs/api-reference/crm-contacts-v3/basic/post-crm-v3-objects-contacts-merge
    /// </summary>
    [Post("/crm/v3/objects/{objectType}/merge")]
    Task<IApiResponse<JObject>> MergeAsync(
        [Property(PerRequestBaseAddressHandler.Key)] string baseUrl,
        string objectType,
        [Header("Authorization")] string authorization,
        [Body] JObject body,
        CancellationToken cancellationToken);

    /// <summary><c>GET /crm/v3/objects/{objectType}/{id}</c>: the record, or the record it was merged into (an old id is an alias).</summary>
    [Get("/crm/v3/objects/{objectType}/{id}?properties=email")]
    Task<IApiResponse<JObject>> GetAsync(
        [Property(PerRequestBaseAddressHandler.Key)] string baseUrl,
        string objectType,
        string id,
        [Header("Authorization")] string authorization,
        CancellationToken cancellationToken);

    /// <summary><c>GET /crm/v3/properties/{objectType}</c>: every property, custom ones included.</summary>
    [Get("/crm/v3/properties/{objectType}")]
    Task<IApiResponse<JObject>> ListPropertiesAsync(
        [Property(PerRequestBaseAddressHandler.Key)] string baseUrl,
        string objectType,
        [Header("Authorization")] string authorization,
        CancellationToken cancellationToken);

    /// <summary><c>GET /crm/v3/objects/contacts?limit=1</c>: the cheapest authenticated read.</summary>
    [Get("/crm/v3/objects/contacts?limit=1")]
    Task<IApiResponse<JObject>> ProbeAsync(
        [Property(PerRequestBaseAddressHandler.Key)] string baseUrl,
        [Header("Authorization")] string authorization,
        CancellationToken cancellationToken);
}

/// <summary>OAuth token endpoint; never retried (a refresh token is single-use on some accounts).</summary>
public interface IHubSpotOAuthApi
{
    /// <summary><c>POST /oauth/v1/token</c> (form): authorization_code or refresh_token grant. https://developers.hubspot.com/docs/api/oauth/tokens</summary>
    [Post("/oauth/v1/token")]
    Task<IApiResponse<JObject>> TokenAsync(
        [Property(PerRequestBaseAddressHandler.Key)] string baseUrl,
        [Body(BodySerializationMethod.UrlEncoded)] Dictionary<string, string> form,
        CancellationToken cancellationToken);
}

using Hub.Connectors.Http;
using Newtonsoft.Json.Linq;
using Refit;

namespace Hub.Connectors.Fxiaoke;

/// <summary>
/// 纷享销客 Open API: every call is a POST with a JSON body and answers HTTP 200; the outcome is <c>errorCode</c>.
/// Reads and updates may be retried; creates go through <see cref="IFxiaokeCreateApi"/>, which never retries.
/// https://open.fxiaoke.com/wiki.html
/// </summary>
public interface IFxiaokeApi
{
    /// <summary><c>POST /cgi/corpAccessToken/get/V2</c> {appId, appSecret, permanentCode} → corpAccessToken, corpId, expiresIn (≤ 7200 s).</summary>
    [Post("/cgi/corpAccessToken/get/V2")]
    Task<IApiResponse<JObject>> CorpAccessTokenAsync([Property(PerRequestBaseAddressHandler.Key)] string host, [Body] JObject body, CancellationToken cancellationToken);

    /// <summary><c>POST /cgi/crm/v2/data/query</c>: filters, limit ≤ 1000 (custom objects 100), offset ≤ 10,000.</summary>
    [Post("/cgi/crm/v2/data/query")]
    Task<IApiResponse<JObject>> QueryAsync([Property(PerRequestBaseAddressHandler.Key)] string host, [Body] JObject body, CancellationToken cancellationToken);

    /// <summary><c>POST /cgi/crm/v2/data/update</c>: object_data carries <c>_id</c> and <c>dataObjectApiName</c>.</summary>
    [Post("/cgi/crm/v2/data/update")]
    Task<IApiResponse<JObject>> UpdateAsync([Property(PerRequestBaseAddressHandler.Key)] string host, [Body] JObject body, CancellationToken cancellationToken);

    /// <summary><c>POST /cgi/crm/v2/object/describe</c> {apiName, includeDetail}: field api names, types, options.</summary>
    [Post("/cgi/crm/v2/object/describe")]
    Task<IApiResponse<JObject>> DescribeAsync([Property(PerRequestBaseAddressHandler.Key)] string host, [Body] JObject body, CancellationToken cancellationToken);
}

/// <summary>
/// <c>POST /cgi/crm/v2/data/create</c> → top-level <c>dataId</c>. Not idempotent and no idempotency key exists: a
/// retry after a timeout could create a second record, so this client never retries; the connector re-queries.
/// </summary>
public interface IFxiaokeCreateApi
{
    [Post("/cgi/crm/v2/data/create")]
    Task<IApiResponse<JObject>> CreateAsync([Property(PerRequestBaseAddressHandler.Key)] string host, [Body] JObject body, CancellationToken cancellationToken);
}

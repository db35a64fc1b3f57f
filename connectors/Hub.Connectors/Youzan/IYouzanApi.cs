using Hub.Connectors.Http;
using Newtonsoft.Json.Linq;
using Refit;

namespace Hub.Connectors.Youzan;

/// <summary>
/// 有赞云 open API. Every answer is HTTP 200: gateway errors arrive as <c>gw_err_resp</c>, business errors as
/// <c>success:false</c> with a code. Calls are reads (or token grants), so the pipeline may retry them.
/// https://doc.youzanyun.com/
/// </summary>
public interface IYouzanApi
{
    /// <summary><c>POST /auth/token</c> (JSON only): silent, authorization_code or refresh_token; <c>expires</c> is epoch milliseconds.</summary>
    [Post("/auth/token")]
    Task<IApiResponse<JObject>> TokenAsync([Property(PerRequestBaseAddressHandler.Key)] string baseUrl, [Body] JObject body, CancellationToken cancellationToken);

    /// <summary><c>POST /api/{api}/{version}?access_token=…</c>: the token goes only in the query string.</summary>
    [Post("/api/{api}/{version}")]
    Task<IApiResponse<JObject>> CallAsync(
        [Property(PerRequestBaseAddressHandler.Key)] string baseUrl,
        string api,
        string version,
        [AliasAs("access_token")] [Query] string accessToken,
        [Body] JObject body,
        CancellationToken cancellationToken);
}

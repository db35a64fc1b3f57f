using Hub.Connectors.Http;
using Newtonsoft.Json.Linq;
using Refit;

namespace Hub.Connectors.Tmall;

/// <summary>
/// Taobao Open Platform (TOP) gateway: every API is a signed form POST to <c>/router/rest</c>; errors come as
/// <c>error_response</c> inside HTTP 200. The Hub only reads, so the pipeline may retry.
/// https://open.taobao.com/doc.htm?docId=101617&amp;docType=1
/// </summary>
public interface ITmallApi
{
    [Post("/router/rest")]
    Task<IApiResponse<JObject>> CallAsync(
        [Property(PerRequestBaseAddressHandler.Key)] string gateway,
        [Body(BodySerializationMethod.UrlEncoded)] Dictionary<string, string> form,
        CancellationToken cancellationToken);
}

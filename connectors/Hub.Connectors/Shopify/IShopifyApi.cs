using Hub.Connectors.Http;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using Refit;

namespace Hub.Connectors.Shopify;

/// <summary>
/// Shopify GraphQL Admin API. Queries are reads, so the pipeline may retry them; the one mutation the connector
/// sends (<c>bulkOperationRunQuery</c>) is answered with <c>OPERATION_IN_PROGRESS</c> when repeated, never doubled.
/// </summary>
public interface IShopifyApi
{
    /// <summary>
    /// <c>POST https://{shop}/admin/api/{version}/graphql.json</c>.
    /// See https://shopify.dev/docs/api/admin-graphql and https://shopify.dev/docs/api/usage/versioning .
    /// </summary>
    [Post("/admin/api/{version}/graphql.json")]
    Task<IApiResponse<JObject>> PostGraphQLAsync(
        [Property(PerRequestBaseAddressHandler.Key)] string shopBaseUrl,
        string version,
        [Header("X-Shopify-Access-Token")] string accessToken,
        [Body] ShopifyGraphQLRequest request,
        CancellationToken cancellationToken);
}

/// <summary>Token endpoint: code exchange and refresh. Single-use codes, so never retried by the pipeline.</summary>
public interface IShopifyOAuthApi
{
    /// <summary>
    /// <c>POST https://{shop}/admin/oauth/access_token</c> with <c>{client_id, client_secret, code, expiring}</c> or
    /// <c>{client_id, client_secret, grant_type: "refresh_token", refresh_token}</c>.
    /// See https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/offline-access-tokens .
    /// </summary>
    [Post("/admin/oauth/access_token")]
    Task<IApiResponse<JObject>> PostAccessTokenAsync(
        [Property(PerRequestBaseAddressHandler.Key)] string shopBaseUrl,
        [Body] JObject body,
        CancellationToken cancellationToken);
}

public sealed record ShopifyGraphQLRequest(
    [property: JsonProperty("query")] string Query,
    [property: JsonProperty("variables")] JObject? Variables);

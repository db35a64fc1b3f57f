using Hub.Functions.State;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Hub.Functions.Hosting;

/// <summary>
/// The request and response of an enveloped (non-forwarded) HTTP invocation: <c>Data.req</c> as the host sends it,
/// and the <c>Outputs.res</c> object it expects back (status as a string, body as text, headers).
/// </summary>
public static class EnvelopedHttp
{
    /// <summary>A query parameter of <c>Data.req</c>, matched case-insensitively; null when absent or empty.</summary>
    public static string? Query(JObject request, string name) =>
        (request["Query"] as JObject ?? []).Properties().FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))?.Value?.ToString() is { Length: > 0 } value ? value : null;

    /// <summary>A header of <c>Data.req</c> (the host sends each as a list of values), matched case-insensitively.</summary>
    public static string? Header(JObject request, string name) =>
        (request["Headers"] as JObject ?? []).Properties().FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))?.Value switch
        {
            JArray values => values.FirstOrDefault()?.ToString(),
            JValue value => value.ToString(),
            _ => null,
        };

    /// <summary>
    /// The request's <c>?tenant=</c>, once it is a valid tenant key and the bearer may act for it; else the 400/401/403
    /// problem response to answer. Every enveloped setup API starts here, as the forwarded ones start at
    /// <c>PipelineApi.AuthorizeAsync</c>.
    /// </summary>
    public static async Task<(string Tenant, JObject? Problem)> AuthorizeAsync(HubAccess access, JObject request, CancellationToken ct)
    {
        var tenant = Query(request, "tenant") ?? "";
        try
        {
            HubTables.ValidateKey(tenant, "tenant");
            if (tenant == HubTables.SystemPartition)
            {
                throw new ArgumentException("That tenant id is reserved.");
            }
        }
        catch (ArgumentException ex)
        {
            return ("", Problem(400, "Invalid query", ex.Message));
        }

        return (tenant, await DenyAsync(access, request, tenant, ct));
    }

    /// <summary>The bearer of <c>Data.req</c> may act for the tenant, or the problem response to answer (null when allowed).</summary>
    public static async Task<JObject?> DenyAsync(HubAccess access, JObject request, string tenant, CancellationToken ct)
    {
        var decision = await access.CheckAsync(Header(request, "Authorization"), tenant, ct);
        return decision.IsAllowed ? null : Problem(decision.Status, decision.Title, decision.Detail);
    }

    public static JObject Response(int status, JObject body, string contentType = "application/json") => new()
    {
        ["statusCode"] = status.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["body"] = body.ToString(Formatting.None),
        ["headers"] = new JObject { ["Content-Type"] = contentType },
    };

    public static JObject Problem(int status, string title, string detail) =>
        Response(status, new JObject { ["type"] = "about:blank", ["title"] = title, ["status"] = status, ["detail"] = detail }, "application/problem+json");
}

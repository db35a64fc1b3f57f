using System.Net.Http.Headers;
using System.Reflection;
using System.Text;
using Newtonsoft.Json;
using Refit;

namespace Hub.Connectors.Http;

/// <summary>
/// Refit serializer on Newtonsoft.Json, so connectors hand raw vendor JSON (<c>JObject</c>) to the rules untouched:
/// dates stay strings (<see cref="DateParseHandling.None"/>) and big numbers stay exact. The registry does not serve
/// Refit.Newtonsoft.Json, hence these few lines.
/// </summary>
public sealed class NewtonsoftContentSerializer : IHttpContentSerializer
{
    public static readonly JsonSerializerSettings Settings = new()
    {
        DateParseHandling = DateParseHandling.None,
        FloatParseHandling = FloatParseHandling.Decimal,
        NullValueHandling = NullValueHandling.Ignore,
    };

    private static readonly JsonSerializer Serializer = JsonSerializer.Create(Settings);

    public HttpContent ToHttpContent<T>(T item)
    {
        var content = new StringContent(JsonConvert.SerializeObject(item, Settings), Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        return content;
    }

    public async Task<T?> FromHttpContentAsync<T>(HttpContent content, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        await using var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        using var json = new JsonTextReader(reader) { DateParseHandling = DateParseHandling.None, FloatParseHandling = FloatParseHandling.Decimal };
        try
        {
            return Serializer.Deserialize<T>(json);
        }
        catch (JsonException ex)
        {
            // A gateway's HTML error page, a truncated body: the platform's fault, typed so the caller can decide.
            throw new ConnectorTransientException($"The platform answered with a body that is not the JSON its API documents: {ex.Message}", inner: ex);
        }
    }

    public string? GetFieldNameForProperty(PropertyInfo propertyInfo) =>
        propertyInfo?.GetCustomAttribute<JsonPropertyAttribute>()?.PropertyName ?? propertyInfo?.Name;
}

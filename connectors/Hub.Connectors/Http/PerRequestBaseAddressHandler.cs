namespace Hub.Connectors.Http;

/// <summary>
/// Points a request at the merchant's own host. Shopify serves every shop at its own domain and WooCommerce lives on
/// the merchant's site, so one typed client serves many hosts: the Refit method passes the base URL as a request
/// property (<c>[Property(PerRequestBaseAddressHandler.Key)]</c>) and this handler rewrites the request URI.
/// </summary>
public sealed class PerRequestBaseAddressHandler : DelegatingHandler
{
    public const string Key = "hub.baseAddress";

    /// <summary>The placeholder base address the typed clients are registered with.</summary>
    public static readonly Uri Placeholder = new("http://platform.invalid/");

    private static readonly HttpRequestOptionsKey<string> OptionKey = new(Key);

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Options.TryGetValue(OptionKey, out var baseAddress) && request.RequestUri is { } uri)
        {
            var root = baseAddress.TrimEnd('/');
            request.RequestUri = new Uri(root + uri.PathAndQuery, UriKind.Absolute);
        }
        else
        {
            throw new InvalidOperationException("A platform request was sent without its base address.");
        }

        return base.SendAsync(request, cancellationToken);
    }
}

namespace Hub.Connectors;

/// <summary>What a connector is and what it offers: shown on the setup page and used by the scheduler.</summary>
/// <param name="Id">Stable id used in routes, config keys and rule folders (<c>shopify</c>, <c>zoho-crm</c>).</param>
/// <param name="DisplayName">Human name.</param>
/// <param name="Kind">Store or CRM.</param>
/// <param name="AuthScheme">How the merchant connects: <c>oauth2</c>, <c>basic</c>, <c>app-key</c>, <c>none</c>.</param>
/// <param name="Streams">Streams a store connector can pull.</param>
/// <param name="DocsUrl">Vendor API documentation.</param>
public sealed record ConnectorInfo(
    string Id,
    string DisplayName,
    ConnectorKind Kind,
    string AuthScheme,
    IReadOnlyList<StreamInfo> Streams,
    string? DocsUrl = null)
{
    /// <summary>Webhook topics the connector can verify and parse.</summary>
    public IReadOnlyList<string> WebhookTopics { get; init; } = [];

    /// <summary>OAuth scopes (or permission packs) the connector needs.</summary>
    public IReadOnlyList<string> Scopes { get; init; } = [];

    /// <summary>The platform's documented rate limit, in words, for the setup page and capacity planning.</summary>
    public string? RateLimit { get; init; }

    public StreamInfo? FindStream(string name) => Streams.FirstOrDefault(s => string.Equals(s.Name, name, StringComparison.Ordinal));
}

public enum ConnectorKind
{
    Store,
    Crm,
}

/// <summary>A pullable stream of a store (orders, customers).</summary>
/// <param name="Name">Stream name, snake_case plural (<c>orders</c>).</param>
/// <param name="CursorField">The vendor field the incremental cursor follows (<c>updated_at</c>); null for full scans.</param>
/// <param name="DefaultInterval">How often the scheduler pulls it unless the connection says otherwise.</param>
/// <param name="MaxWindow">Largest time window one page request may span (Youzan and TOP: one day).</param>
public sealed record StreamInfo(string Name, string? CursorField, TimeSpan DefaultInterval, TimeSpan? MaxWindow = null);

using Newtonsoft.Json.Linq;

namespace Hub.Connectors;

/// <summary>
/// A store platform (Shopify, WooCommerce, Youzan, Tmall). Pulls raw records page by page; the source rules
/// turn them into canonical members and orders. Implementations are stateless: the cursor comes in and goes out.
/// </summary>
public interface IStoreConnector
{
    ConnectorInfo Info { get; }

    /// <summary>
    /// Pulls one page of <paramref name="request"/>'s stream. Throws <see cref="ConnectorValidationException"/> for
    /// bad configuration or credentials, <see cref="ConnectorTransientException"/> for throttling and outages.
    /// </summary>
    Task<PullPage> PullAsync(PullRequest request, CancellationToken cancellationToken);
}

/// <summary>The connection a call is made for: its ids and its settings (secrets already decrypted).</summary>
public sealed record ConnectionContext(string TenantId, string ConnectionId, string ConnectorId, JObject Settings);

/// <summary>One page request.</summary>
/// <param name="Connection">Whose store.</param>
/// <param name="Stream">Which stream (<c>orders</c>).</param>
/// <param name="Cursor">The opaque cursor the previous page returned, or null to start the window.</param>
/// <param name="WindowStart">Inclusive lower bound of the vendor's updated time for this read.</param>
/// <param name="WindowEnd">Upper bound (the sync's start time), so records updated during the read are caught next time.</param>
public sealed record PullRequest(ConnectionContext Connection, string Stream, string? Cursor, DateTimeOffset WindowStart, DateTimeOffset WindowEnd);

/// <summary>One page of raw records.</summary>
/// <param name="Records">Raw vendor JSON, one object per record.</param>
/// <param name="NextCursor">Opaque cursor for the next page of the same window; null when the window is done.</param>
/// <param name="HasMore">True when another page follows.</param>
/// <param name="MaxUpdatedAt">The largest vendor updated time seen on this page (for the bookmark min(syncStart, maxSeen)).</param>
public sealed record PullPage(IReadOnlyList<JObject> Records, string? NextCursor, bool HasMore, DateTimeOffset? MaxUpdatedAt)
{
    public static PullPage Empty { get; } = new([], null, false, null);
}

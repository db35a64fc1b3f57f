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

    /// <summary>
    /// Checks the connection's credentials and settings with the cheapest call the platform offers. Throws
    /// <see cref="ConnectorValidationException"/> with the platform's own words when they are wrong.
    /// </summary>
    Task TestConnectionAsync(ConnectionContext connection, CancellationToken cancellationToken);

    /// <summary>
    /// Verifies a webhook delivery on its raw bytes and parses it into events. Throws
    /// <see cref="WebhookUnauthorizedException"/> when the signature is missing or wrong (answer 401) and
    /// <see cref="ConnectorValidationException"/> when the body is malformed (answer 400). A connector without
    /// webhooks (<see cref="ConnectorInfo.WebhookTopics"/> empty) refuses every delivery.
    /// </summary>
    WebhookBatch ParseWebhook(WebhookRequest request) =>
        throw new ConnectorValidationException($"Connector '{Info.Id}' does not receive webhooks.");
}

/// <summary>The connection a call is made for: its ids and its settings (secrets already decrypted).</summary>
public sealed record ConnectionContext(string TenantId, string ConnectionId, string ConnectorId, JObject Settings)
{
    /// <summary>
    /// Persists secrets the connector changed during a call (a refreshed OAuth token). The runtime encrypts and
    /// stores them on the connection; without it (tests, previews) a refreshed token lives only for this call.
    /// </summary>
    public Func<JObject, CancellationToken, Task>? SaveSecretsAsync { get; init; }

    /// <summary>The decrypted secrets (<c>Settings.secrets</c>), or an empty object.</summary>
    public JObject Secrets => Settings["secrets"] as JObject ?? [];

    /// <summary>Replaces the secrets in <see cref="Settings"/> and persists them when the runtime allows.</summary>
    public async Task UpdateSecretsAsync(JObject secrets, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(secrets);
        Settings["secrets"] = secrets;
        if (SaveSecretsAsync is not null)
        {
            await SaveSecretsAsync(secrets, cancellationToken).ConfigureAwait(false);
        }
    }
}

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
    /// <summary>
    /// Things the merchant should know that did not stop the pull (orders older than 60 days hidden for lack of a
    /// scope, protected customer data redacted, API version fallen forward). The runtime shows them on the run.
    /// </summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    public static PullPage Empty { get; } = new([], null, false, null);
}

using Newtonsoft.Json;

namespace Hub.Functions.Sync;

/// <summary>
/// Body of a <c>resolve</c> message: records whose newest version is not yet in a profile, and profiles to recompute
/// (after deletes and redactions). Resolving is idempotent: resolving the same records again changes nothing.
/// </summary>
public sealed record ResolveMessage(
    [property: JsonProperty("tenantId")] string TenantId,
    [property: JsonProperty("records")] IReadOnlyList<string> Records,
    [property: JsonProperty("profiles")] IReadOnlyList<string>? Profiles = null)
{
    /// <summary>Set by the re-segmentation sweeps: resolve with rules read after this time (a mapping just saved).</summary>
    [JsonProperty("rulesAsOf", NullValueHandling = NullValueHandling.Ignore)]
    public DateTimeOffset? RulesAsOf { get; init; }

    /// <summary>
    /// Set by IngestEvent: the records come from a webhook, so their profiles' pushes do not wait for a backfill in
    /// progress (<see cref="SyncOptions.HoldPushesDuringBackfill"/>).
    /// </summary>
    [JsonProperty("live", DefaultValueHandling = DefaultValueHandling.Ignore)]
    public bool Live { get; init; }

    /// <summary>
    /// Set by PullStream: of <see cref="Records"/>, those its page added as new rows, with their version and ETag, so
    /// the resolution need not read them (<see cref="State.AddedRecord"/>).
    /// </summary>
    [JsonProperty("added", NullValueHandling = NullValueHandling.Ignore)]
    public IReadOnlyDictionary<string, State.AddedRecord>? Added { get; init; }

    /// <summary>
    /// Set by a resolution that handed over past its time budget: the token its gate was passed to
    /// (<see cref="State.ResolveGate.Hold.HandOverAsync"/>).
    /// </summary>
    [JsonProperty("handOver", NullValueHandling = NullValueHandling.Ignore)]
    public string? HandOver { get; init; }

    /// <summary>Records per message: small enough for one function call, large enough to share component reads.</summary>
    public const int MaxRecords = 100;

    /// <param name="added">Records just added (see <see cref="Added"/>): each message carries those of its own records.</param>
    public static IEnumerable<ResolveMessage> Chunk(string tenant, IReadOnlyList<string> records, IReadOnlyList<string>? profiles = null, IReadOnlyDictionary<string, State.AddedRecord>? added = null)
    {
        if (records.Count == 0 && profiles is { Count: > 0 })
        {
            yield return new ResolveMessage(tenant, [], profiles);
            yield break;
        }

        var first = true;
        foreach (var chunk in records.Chunk(MaxRecords))
        {
            var mine = added is { Count: > 0 } ? chunk.Where(added.ContainsKey).ToDictionary(k => k, k => added[k], StringComparer.Ordinal) : null;
            yield return new ResolveMessage(tenant, chunk, first ? profiles : null) { Added = mine is { Count: > 0 } ? mine : null };
            first = false;
        }
    }
}

/// <summary>
/// Body of a <c>push</c> message: a nudge to drain the Pending rows of one CRM connection and module. The rows, not
/// the message, say what to push, so duplicates and redeliveries cost nothing and batches fill to the CRM's maximum.
/// </summary>
public sealed record PushMessage(
    [property: JsonProperty("tenantId")] string TenantId,
    [property: JsonProperty("connectionId")] string ConnectionId,
    [property: JsonProperty("module")] string Module);

/// <summary>
/// Body of an <c>ingest</c> message: events stored in the Inbox, one (<c>inboxKey</c>, as Reconcile re-sends them) or
/// several of one connection (<c>inboxKeys</c>, as <see cref="WebhookIntake"/> groups deliveries that arrive together).
/// </summary>
public sealed record IngestMessage(
    [property: JsonProperty("tenantId")] string TenantId,
    [property: JsonProperty("connectionId")] string ConnectionId,
    [property: JsonProperty("inboxKey", NullValueHandling = NullValueHandling.Ignore)] string? InboxKey)
{
    /// <summary>Events per message: far below the 64 KB of a Storage queue message.</summary>
    public const int MaxKeys = 100;

    [JsonProperty("inboxKeys", NullValueHandling = NullValueHandling.Ignore)]
    public IReadOnlyList<string>? InboxKeys { get; init; }

    /// <summary>Every key the message names, each once.</summary>
    [JsonIgnore]
    public IReadOnlyList<string> Keys =>
        (InboxKeys ?? []).Append(InboxKey).Where(k => !string.IsNullOrEmpty(k)).Select(k => k!).Distinct(StringComparer.Ordinal).ToList();
}

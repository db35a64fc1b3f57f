using Newtonsoft.Json;

namespace Hub.Functions.Sync;

/// <summary>
/// Body of a <c>pull</c> message: pull page <see cref="Seq"/> of run <see cref="RunId"/>. The sequence makes the
/// handler idempotent: a redelivered or duplicated message for a page already done changes nothing.
/// </summary>
public sealed record PullMessage(
    [property: JsonProperty("tenantId")] string TenantId,
    [property: JsonProperty("connectionId")] string ConnectionId,
    [property: JsonProperty("stream")] string Stream,
    [property: JsonProperty("runId")] string RunId,
    [property: JsonProperty("seq")] int Seq);

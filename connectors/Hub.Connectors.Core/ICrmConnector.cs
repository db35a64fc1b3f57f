using Newtonsoft.Json.Linq;

namespace Hub.Connectors;

/// <summary>
/// A CRM (Zoho CRM, Fxiaoke, HubSpot). Receives the target rules' payloads, one per profile, and writes them with the
/// CRM's most economical calls, never creating a second record for a profile. Implementations are stateless.
/// </summary>
public interface ICrmConnector
{
    ConnectorInfo Info { get; }

    /// <summary>The largest batch one call takes and how many calls may run at once.</summary>
    CrmLimits Limits { get; }

    /// <summary>Checks the credentials with the cheapest call; throws <see cref="ConnectorValidationException"/> with the CRM's words.</summary>
    Task TestConnectionAsync(ConnectionContext connection, CancellationToken cancellationToken);

    /// <summary>The module's fields, custom ones included, so the setup page can offer them and rules can be checked.</summary>
    Task<IReadOnlyList<CrmField>> DescribeAsync(ConnectionContext connection, string module, CancellationToken cancellationToken);

    /// <summary>
    /// Creates or updates each record, matched on <see cref="CrmUpsertBatch.MatchField"/>. One result per record, in any
    /// order: created/updated with the CRM's id, rejected with the CRM's own code and message (retrying cannot help), or
    /// transient (retry later). Throws only when the whole call failed: <see cref="ConnectorValidationException"/> for
    /// credentials or configuration, <see cref="ConnectorTransientException"/> for throttling and outages.
    /// </summary>
    Task<CrmUpsertResult> UpsertAsync(ConnectionContext connection, CrmUpsertBatch batch, CancellationToken cancellationToken);
}

/// <summary>
/// A CRM with an asynchronous bulk load for a large initial push (Zoho Bulk Write: a CSV of up to 25,000 records per
/// job). Two calls, so no invocation waits on the CRM: start the job, then ask until it is done.
/// </summary>
public interface ICrmBulkLoader
{
    /// <summary>Records one job takes.</summary>
    int MaxBulkRecords { get; }

    /// <summary>Uploads the records and starts the job; returns its id.</summary>
    Task<string> StartBulkUpsertAsync(ConnectionContext connection, CrmUpsertBatch batch, CancellationToken cancellationToken);

    /// <summary>
    /// The job's state; once done, one result per record read back from the CRM's result file, and the owned tags
    /// applied to the written records.
    /// </summary>
    Task<CrmBulkStatus> GetBulkUpsertAsync(ConnectionContext connection, string jobId, IReadOnlyCollection<string> ownedTags, CancellationToken cancellationToken);
}

/// <param name="State">The CRM's word for the job's state (<c>ADDED</c>, <c>IN PROGRESS</c>, <c>COMPLETED</c>).</param>
/// <param name="Done">True when <see cref="Records"/> holds the final results.</param>
public sealed record CrmBulkStatus(string JobId, string State, bool Done, IReadOnlyList<CrmRecordResult> Records, CrmUsage Usage);

/// <summary>
/// A CRM that can merge two of its records into one (Zoho "Merge Records", HubSpot "Merge two contacts"). The pipeline
/// calls it when two Hub profiles that were each pushed turn out to be one customer: the duplicate's CRM record is
/// merged into the survivor's, so the CRM ends with one record per customer, as the Hub does.
/// </summary>
public interface ICrmMerger
{
    /// <summary>
    /// Merges <paramref name="duplicateId"/> into <paramref name="survivorId"/> (the duplicate is gone afterwards) and
    /// returns the id of the record left: the survivor's in Zoho, a new one in HubSpot, which creates a new record for
    /// every merge (a repeated HubSpot merge is recognised by both old ids leading to that record, so a retry is safe). Throws
    /// <see cref="ConnectorValidationException"/> with the CRM's words when it refuses, transient errors when it is busy.
    /// </summary>
    Task<CrmMerge> MergeAsync(ConnectionContext connection, string module, string survivorId, string duplicateId, CancellationToken cancellationToken);
}

/// <param name="RecordId">The CRM id of the merged record: the survivor's, or a new id where the CRM makes one.</param>
public sealed record CrmMerge(string RecordId, CrmUsage Usage);

/// <summary>The outcome of a push: one result per record, and what it cost.</summary>
public sealed record CrmUpsertResult(IReadOnlyList<CrmRecordResult> Records, CrmUsage Usage);

/// <param name="Calls">Calls made to the CRM, retries included.</param>
/// <param name="Credits">API credits spent where the CRM counts credits (Zoho), else the calls.</param>
/// <param name="Remaining">What the CRM said is left of its daily allowance, when it said.</param>
public sealed record CrmUsage(int Calls, int Credits, long? Remaining);

/// <param name="MaxBatchSize">Records per upsert call (HubSpot and Zoho: 100; Fxiaoke: 1).</param>
/// <param name="MaxConcurrency">Calls the CRM allows at once for this kind of call.</param>
/// <param name="RateLimit">The documented limits in words, for the setup page and capacity planning.</param>
public sealed record CrmLimits(int MaxBatchSize, int MaxConcurrency, string RateLimit);

/// <summary>A field of a CRM module.</summary>
/// <param name="ApiName">The name payloads use (<c>Last_Name</c>, <c>hub_rfm_tier</c>).</param>
/// <param name="Type">The CRM's type name (<c>text</c>, <c>picklist</c>, <c>enumeration</c>, <c>date</c>, <c>number</c>…).</param>
/// <param name="Options">Allowed values of a picklist/enumeration; empty otherwise.</param>
public sealed record CrmField(string ApiName, string Label, string Type, int? MaxLength, IReadOnlyList<string> Options, bool Mandatory, bool ReadOnly, bool Custom);

/// <summary>One profile's record for the CRM.</summary>
/// <param name="ProfileId">The Hub's profile id: results are keyed by it.</param>
/// <param name="MatchValue">The value of the match field (an email), which makes the write an upsert, never a duplicate.</param>
/// <param name="Payload">Field api name → value, from the target rule; a JSON null clears the field.</param>
/// <param name="Tags">The Hub-owned tags this profile should carry now.</param>
/// <param name="CrmId">The CRM's id from an earlier write, when the Hub knows it.</param>
public sealed record CrmRecord(string ProfileId, string MatchValue, JObject Payload, IReadOnlyList<string> Tags, string? CrmId = null);

/// <param name="Module">The CRM module (<c>contacts</c>, <c>Contacts</c>, <c>ContactObj</c>).</param>
/// <param name="MatchField">The field records are matched on (<c>email</c>).</param>
/// <param name="OwnedTags">Every tag the Hub manages; tags outside it are never removed.</param>
public sealed record CrmUpsertBatch(string Module, string MatchField, IReadOnlyList<CrmRecord> Records, IReadOnlyCollection<string> OwnedTags)
{
    /// <summary>Unique fields matched on, in order, for a record whose <see cref="CrmRecord.MatchValue"/> is empty (the target rule's <c>fallbackKeys</c>).</summary>
    public IReadOnlyList<string> FallbackMatchFields { get; init; } = [];
}

public enum CrmOutcome
{
    Created,
    Updated,

    /// <summary>The CRM refused the record: store it with the CRM's message; retrying the same payload cannot help.</summary>
    Rejected,

    /// <summary>Not written this time (throttled, outage): retry later.</summary>
    Transient,
}

/// <param name="Code">The CRM's own error code (<c>INVALID_DATA</c>, <c>VALIDATION_ERROR</c>, <c>20016</c>).</param>
/// <param name="Message">The CRM's own message, for the Failures view.</param>
public sealed record CrmRecordResult(string ProfileId, CrmOutcome Outcome, string? CrmId = null, string? Code = null, string? Message = null)
{
    public bool Succeeded => Outcome is CrmOutcome.Created or CrmOutcome.Updated;
}

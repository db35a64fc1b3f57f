using Azure;
using Azure.Data.Tables;

namespace Hub.Functions.State;

/// <summary>A merchant's connection to one platform. PartitionKey = tenant, RowKey = connection id.</summary>
public sealed class ConnectionEntity : ITableEntity
{
    public string PartitionKey { get; set; } = "";
    public string RowKey { get; set; } = "";
    public DateTimeOffset? Timestamp { get; set; }
    public ETag ETag { get; set; }

    public string ConnectorId { get; set; } = "";
    public string? DisplayName { get; set; }

    /// <summary><c>active</c> or <c>paused</c>; the scheduler skips paused connections.</summary>
    public string Status { get; set; } = ConnectionStatus.Active;

    /// <summary>Non-secret settings as JSON (shop domain, region, streams, interval overrides).</summary>
    public string SettingsJson { get; set; } = "{}";

    /// <summary>Reference to the connection's secrets in the <see cref="ISecretStore"/>: never the secrets themselves.</summary>
    public string? SecretsRef { get; set; }

    /// <summary>Pull interval override in minutes; otherwise each stream's default.</summary>
    public int? IntervalMinutes { get; set; }

    /// <summary>Where the first read of every stream starts (the merchant's backfill start date).</summary>
    public DateTimeOffset? BackfillStart { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
}

public static class ConnectionStatus
{
    public const string Active = "active";
    public const string Paused = "paused";
}

/// <summary>
/// Sync position of one stream of one connection. PartitionKey = tenant, RowKey = <c>{connectionId}|{stream}</c>.
/// Written with its ETag: two writers never both win.
/// </summary>
public sealed class CursorEntity : ITableEntity
{
    public string PartitionKey { get; set; } = "";
    public string RowKey { get; set; } = "";
    public DateTimeOffset? Timestamp { get; set; }
    public ETag ETag { get; set; }

    /// <summary>Start of the next window: min(syncStart, maxSeen) of the last finished window.</summary>
    public DateTimeOffset? Bookmark { get; set; }

    /// <summary>The run that owns the stream now; null when idle.</summary>
    public string? RunId { get; set; }

    /// <summary>Pages done by <see cref="RunId"/>; a pull message carries the sequence it expects.</summary>
    public int Seq { get; set; }

    public DateTimeOffset? WindowStart { get; set; }
    public DateTimeOffset? WindowEnd { get; set; }

    /// <summary>Opaque page cursor inside the current window, as the connector returned it.</summary>
    public string? PageCursor { get; set; }

    public DateTimeOffset? MaxSeen { get; set; }

    /// <summary>True while <see cref="RunId"/> reads a window longer than <c>Hub:Sync:BackfillWindow</c>: pushes of what it changes wait.</summary>
    public bool? Backfill { get; set; }

    /// <summary>When this stream's last backfill finished reading; its records may still be resolving for a while.</summary>
    public DateTimeOffset? BackfillEndedAt { get; set; }

    public DateTimeOffset? NextDueAt { get; set; }
    public DateTimeOffset? LastProgressAt { get; set; }
    public DateTimeOffset? LastSuccessAt { get; set; }

    public static string Key(string connectionId, string stream) => $"{connectionId}|{stream}";
}

/// <summary>
/// One sync run (a stream pull from start to end of its window) or one scheduler tick.
/// PartitionKey = tenant (or <see cref="HubTables.SystemPartition"/>), RowKey = run id, which sorts newest first.
/// </summary>
public sealed class RunEntity : ITableEntity
{
    public string PartitionKey { get; set; } = "";
    public string RowKey { get; set; } = "";
    public DateTimeOffset? Timestamp { get; set; }
    public ETag ETag { get; set; }

    /// <summary><c>pull</c>, <c>push</c> or <c>schedule</c>.</summary>
    public string Kind { get; set; } = "";

    /// <summary>What started it: <c>schedule</c>, <c>manual</c>, <c>reconcile</c>, <c>timer</c>.</summary>
    public string Trigger { get; set; } = "";
    public string? ConnectionId { get; set; }
    public string? Stream { get; set; }
    public string Status { get; set; } = RunStatus.Queued;
    public DateTimeOffset StartedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    public DateTimeOffset? FinishedAt { get; set; }
    public DateTimeOffset? WindowStart { get; set; }
    public DateTimeOffset? WindowEnd { get; set; }
    public int Pages { get; set; }
    public long Records { get; set; }

    /// <summary>Invocations that worked on this run, failed ones included.</summary>
    public int Attempts { get; set; }
    public int LastDeliveryCount { get; set; }
    public int Failures { get; set; }
    public string? Error { get; set; }

    /// <summary>What the connector said the merchant should know (missing scope, redacted data), one per line.</summary>
    public string? Warnings { get; set; }

    /// <summary>For pushes: what the CRM did with the records, and what it cost.</summary>
    public int Created { get; set; }
    public int Updated { get; set; }
    public int Unchanged { get; set; }
    public int Rejected { get; set; }
    public int Retried { get; set; }
    public int Merged { get; set; }
    public int Calls { get; set; }
    public int Credits { get; set; }

    /// <summary>For pulls: records the source rules refused, and records stored because they were new or newer.</summary>
    public int Invalid { get; set; }
    public long Stored { get; set; }

    /// <summary>For backfills: how far the window is read (0-1), from the newest vendor time seen.</summary>
    public double? Progress { get; set; }

    /// <summary>For scheduler ticks: streams found due, and pull messages sent.</summary>
    public int DueStreams { get; set; }
    public int Enqueued { get; set; }
}

public static class RunStatus
{
    public const string Queued = "queued";
    public const string Running = "running";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
    public const string Cancelled = "cancelled";

    public static bool IsFinished(string status) => status is Succeeded or Failed or Cancelled;
}

using System.Collections.Concurrent;
using Azure.Data.Tables;

namespace Hub.Functions.State;

/// <summary>
/// The Table Storage account that holds the Hub's state (Azurite locally). Tables are created on first use.
/// Every table is partitioned by tenant, so one tenant's queries never touch another's rows.
/// </summary>
public sealed class HubTables(TableServiceClient service, string prefix = "")
{
    public const string Connections = "Connections";
    public const string Cursors = "Cursors";
    public const string Runs = "Runs";
    public const string Members = "Members";
    public const string Orders = "Orders";
    public const string Identities = "Identities";
    public const string Profiles = "Profiles";
    public const string Ledger = "Ledger";
    public const string Failures = "Failures";
    public const string Pending = "Pending";
    public const string Inbox = "Inbox";
    public const string Compliance = "Compliance";
    public const string Access = "Access";
    public const string Mappings = "Mappings";
    public const string Installs = "Installs";
    public const string Backlog = "Backlog";

    /// <summary>Every table the handler uses (infra creates them; a test keeps the two lists equal).</summary>
    public static readonly IReadOnlyList<string> All = [Connections, Cursors, Runs, Members, Orders, Identities, Profiles, Ledger, Failures, Pending, Inbox, Compliance, Access, Mappings, Installs, Backlog];

    /// <summary>Partition for rows that belong to the Hub itself, not to a tenant (scheduler ticks).</summary>
    public const string SystemPartition = "_system";

    private readonly ConcurrentDictionary<string, Lazy<Task<TableClient>>> _tables = new(StringComparer.Ordinal);

    public string AccountName => service.AccountName;

    public Task<TableClient> GetAsync(string name, CancellationToken cancellationToken) =>
        _tables.GetOrAdd(name, n => new Lazy<Task<TableClient>>(async () =>
        {
            var client = service.GetTableClient(prefix + n);
            await client.CreateIfNotExistsAsync(cancellationToken);
            return client;
        })).Value;

    /// <summary>Tenant ids become partition keys: keep them to characters Table Storage allows in keys.</summary>
    public static string ValidateKey(string value, string what)
    {
        if (string.IsNullOrEmpty(value) || value.Length > 200 || value.Any(c => c is '/' or '\\' or '#' or '?' || char.IsControl(c)))
        {
            throw new ArgumentException($"{what} '{value}' is not a valid key (1-200 characters, none of / \\ # ? or control characters).", what);
        }

        return value;
    }
}

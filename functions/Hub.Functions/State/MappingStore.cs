using Azure;
using Azure.Data.Tables;
using Newtonsoft.Json.Linq;

namespace Hub.Functions.State;

/// <summary>One saved version of a tenant's rule files: the files it replaces, whole, keyed by their path.</summary>
public sealed record MappingVersion(int Version, DateTimeOffset CreatedAt, string Note, string Author, IReadOnlyDictionary<string, string> Files);

/// <summary>
/// The Mappings table: a tenant's rule versions (<c>v000001</c>, …, never changed once written) and the pointer to
/// the active one (<c>active</c>). A version holds only the rule files the tenant edited, each whole; every other file
/// is the Hub's default. Saving and rolling back only move the pointer (ETag-checked), so history is never lost and
/// two editors saving at once cannot both win silently.
/// </summary>
public sealed class MappingStore(HubTables tables)
{
    private const string ActiveRow = "active";

    public static string RowOf(int version) => "v" + version.ToString("D6", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The active version number (0: the Hub's defaults) and the pointer's ETag.</summary>
    public async Task<(int Version, ETag ETag)> ActiveAsync(string tenant, CancellationToken ct)
    {
        var table = await tables.GetAsync(HubTables.Mappings, ct);
        var row = await table.GetEntityIfExistsAsync<TableEntity>(tenant, ActiveRow, cancellationToken: ct);
        return row.HasValue ? (row.Value!.GetInt32("Version") ?? 0, row.Value.ETag) : (0, default);
    }

    public async Task<MappingVersion?> GetAsync(string tenant, int version, CancellationToken ct)
    {
        if (version <= 0)
        {
            return null;
        }

        var table = await tables.GetAsync(HubTables.Mappings, ct);
        var row = await table.GetEntityIfExistsAsync<TableEntity>(tenant, RowOf(version), cancellationToken: ct);
        return row.HasValue ? Read(row.Value!) : null;
    }

    /// <summary>Every version, newest first, without the files' text.</summary>
    public async Task<IReadOnlyList<MappingVersion>> ListAsync(string tenant, CancellationToken ct)
    {
        var table = await tables.GetAsync(HubTables.Mappings, ct);
        var list = new List<MappingVersion>();
        await foreach (var row in table.QueryAsync<TableEntity>(r => r.PartitionKey == tenant && r.RowKey.CompareTo("v") >= 0 && r.RowKey.CompareTo("w") < 0, cancellationToken: ct))
        {
            list.Add(Read(row));
        }

        return list.OrderByDescending(v => v.Version).ToList();
    }

    /// <summary>
    /// Writes a new version after the newest one and makes it active, unless the pointer moved since
    /// <paramref name="expected"/> was read (then 412: the caller re-reads and tells the user).
    /// </summary>
    public async Task<int> SaveAsync(string tenant, IReadOnlyDictionary<string, string> files, string note, string author, ETag expected, DateTimeOffset now, CancellationToken ct)
    {
        var table = await tables.GetAsync(HubTables.Mappings, ct);
        var newest = (await ListAsync(tenant, ct)).Select(v => v.Version).DefaultIfEmpty(0).Max();
        var version = newest + 1;
        var row = new TableEntity(tenant, RowOf(version)) { ["Version"] = version, ["CreatedAt"] = now, ["Note"] = note, ["Author"] = author };
        Packed.Write(row, "Files", JObject.FromObject(files));
        await table.AddEntityAsync(row, ct); // 409 when another save took this number: the caller retries
        await ActivateAsync(tenant, version, expected, now, ct);
        return version;
    }

    /// <summary>Points the tenant at <paramref name="version"/> (0: back to the defaults); ETag-checked.</summary>
    public async Task ActivateAsync(string tenant, int version, ETag expected, DateTimeOffset now, CancellationToken ct)
    {
        var table = await tables.GetAsync(HubTables.Mappings, ct);
        var pointer = new TableEntity(tenant, ActiveRow) { ["Version"] = version, ["UpdatedAt"] = now };
        if (expected == default)
        {
            await table.AddEntityAsync(pointer, ct);
        }
        else
        {
            await table.UpdateEntityAsync(pointer, expected, TableUpdateMode.Replace, ct);
        }
    }

    private static MappingVersion Read(TableEntity row)
    {
        var files = Packed.Read(row, "Files") as JObject ?? [];
        return new MappingVersion(
            row.GetInt32("Version") ?? 0,
            row.GetDateTimeOffset("CreatedAt") ?? default,
            row.GetString("Note") ?? "",
            row.GetString("Author") ?? "",
            files.Properties().ToDictionary(p => p.Name, p => p.Value.ToString(), StringComparer.Ordinal));
    }
}

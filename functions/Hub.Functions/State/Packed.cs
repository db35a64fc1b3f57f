using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using Azure.Data.Tables;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Hub.Functions.State;

/// <summary>
/// JSON stored gzip-compressed in binary properties of a table entity. A property holds at most 64 KiB, so a large
/// document is split over <c>{name}0</c>, <c>{name}1</c>… (an entity holds 1 MiB in all). Vendor orders compress about
/// 5:1, so one property is enough for all but the largest.
/// </summary>
public static class Packed
{
    private const int Chunk = 60 * 1024;
    private const int MaxChunks = 15;

    public static void Write(TableEntity entity, string name, JToken json)
    {
        var bytes = Compress(json.ToString(Formatting.None));
        var chunks = (bytes.Length + Chunk - 1) / Chunk;
        if (chunks > MaxChunks)
        {
            throw new InvalidOperationException($"{name} is {bytes.Length} bytes compressed, more than a table entity holds.");
        }

        for (var i = 0; i < MaxChunks; i++)
        {
            var key = name + i;
            if (i < Math.Max(chunks, 1))
            {
                entity[key] = bytes.AsSpan(i * Chunk, Math.Min(Chunk, bytes.Length - (i * Chunk))).ToArray();
            }
            else
            {
                entity.Remove(key);
            }
        }
    }

    public static JToken? Read(TableEntity entity, string name)
    {
        if (entity.GetBinary(name + "0") is not { } first)
        {
            return null;
        }

        using var buffer = new MemoryStream(first.Length * 2);
        buffer.Write(first);
        for (var i = 1; i < MaxChunks && entity.GetBinary(name + i) is { } next; i++)
        {
            buffer.Write(next);
        }

        buffer.Position = 0;
        using var gzip = new GZipStream(buffer, CompressionMode.Decompress);
        using var reader = new JsonTextReader(new StreamReader(gzip, Encoding.UTF8)) { DateParseHandling = DateParseHandling.None, FloatParseHandling = FloatParseHandling.Decimal };
        return JToken.ReadFrom(reader);
    }

    private static byte[] Compress(string text)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(Encoding.UTF8.GetBytes(text));
        }

        return output.ToArray();
    }

    /// <summary>A short, stable hash of a JSON document (canonical: no whitespace), for "did it change?" checks.</summary>
    public static string Hash(JToken json) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(json.ToString(Formatting.None))).AsSpan(0, 16));

    /// <summary>A row key for a value that may hold characters keys forbid, or personal data: its SHA-256.</summary>
    public static string KeyHash(string value) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(value)).AsSpan(0, 20));

    /// <summary>Escapes a record key for use as a row key: the four characters keys forbid become %XX.</summary>
    public static string RowKey(string value)
    {
        if (value.AsSpan().IndexOfAny("/\\#?%") < 0 && !value.Any(char.IsControl))
        {
            return value;
        }

        var sb = new StringBuilder(value.Length + 8);
        foreach (var c in value)
        {
            if (c is '/' or '\\' or '#' or '?' or '%' || char.IsControl(c))
            {
                sb.Append('%').Append(((int)c).ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
            else
            {
                sb.Append(c);
            }
        }

        return sb.ToString();
    }

    /// <summary>Transactions a resolution keeps under way at once when it writes the graph and marks its records.</summary>
    public const int WritesInFlight = 4;

    /// <summary>
    /// Runs writes in transactions of up to 100 actions (one partition each), the way Table Storage batches. Returns
    /// the ETag the table gave each action's row, in the order of the actions (null for a delete).
    /// <para>
    /// With <paramref name="inFlight"/> above 1, up to that many transactions are under way at once, so the next one is
    /// built and sent while the table executes the one before (each is still atomic on its own). Only for writes whose
    /// transactions do not depend on each other's order, and whose caller treats any failure as "some of them may have
    /// landed": a failure is thrown once the transactions under way have ended.
    /// </para>
    /// </summary>
    public static async Task<IReadOnlyList<Azure.ETag?>> SubmitAsync(TableClient table, IReadOnlyList<TableTransactionAction> actions, CancellationToken ct, int inFlight = 1)
    {
        var slices = actions.Chunk(100).ToList();
        var results = new IReadOnlyList<Azure.ETag?>[slices.Count];
        if (inFlight <= 1 || slices.Count <= 1)
        {
            for (var i = 0; i < slices.Count; i++)
            {
                results[i] = await SubmitSliceAsync(table, slices[i], ct);
            }
        }
        else
        {
            // No new transaction after a failure; those under way end on their own (none is cancelled halfway), and the
            // first failure in the actions' order is thrown.
            var slots = new SemaphoreSlim(inFlight); // not disposed: a transaction under way when a wait is cancelled still releases it
            var started = new List<Task>(slices.Count);
            var failed = false;
            for (var i = 0; i < slices.Count && !Volatile.Read(ref failed); i++)
            {
                await slots.WaitAsync(ct);
                var index = i;
                started.Add(Task.Run(async () =>
                {
                    try
                    {
                        results[index] = await SubmitSliceAsync(table, slices[index], ct);
                    }
                    catch
                    {
                        Volatile.Write(ref failed, true);
                        throw;
                    }
                    finally
                    {
                        slots.Release();
                    }
                }, CancellationToken.None));
            }

            await Task.WhenAll(started);
        }

        return results.SelectMany(r => r).ToList();
    }

    private static async Task<IReadOnlyList<Azure.ETag?>> SubmitSliceAsync(TableClient table, TableTransactionAction[] slice, CancellationToken ct)
    {
        if (slice.Length == 1)
        {
            var a = slice[0];
            Azure.Response? response = a.ActionType switch
            {
                TableTransactionActionType.Add => await table.AddEntityAsync(a.Entity, ct),
                TableTransactionActionType.UpdateReplace => await table.UpdateEntityAsync(a.Entity, a.ETag, TableUpdateMode.Replace, ct),
                TableTransactionActionType.UpdateMerge => await table.UpdateEntityAsync(a.Entity, a.ETag, TableUpdateMode.Merge, ct),
                TableTransactionActionType.UpsertReplace => await table.UpsertEntityAsync(a.Entity, TableUpdateMode.Replace, ct),
                TableTransactionActionType.UpsertMerge => await table.UpsertEntityAsync(a.Entity, TableUpdateMode.Merge, ct),
                _ => await table.DeleteEntityAsync(a.Entity.PartitionKey, a.Entity.RowKey, a.ETag, ct),
            };
            return [a.ActionType == TableTransactionActionType.Delete ? null : response?.Headers.ETag];
        }

        TableOperations.CountBatch(table.Name, slice);
        var responses = (await table.SubmitTransactionAsync(slice, ct)).Value;
        var etags = new Azure.ETag?[slice.Length];
        for (var j = 0; j < slice.Length; j++)
        {
            etags[j] = slice[j].ActionType == TableTransactionActionType.Delete || j >= responses.Count ? null : responses[j].Headers.ETag;
        }

        return etags;
    }

    /// <summary>
    /// Deletes rows of one partition, each on its own ETag, in transactions of 100. A transaction refused because one
    /// row changed or went meanwhile is done again row by row, so only the changed rows stay.
    /// </summary>
    public static async Task DeleteUnchangedAsync(TableClient table, IReadOnlyCollection<TableEntity> rows, CancellationToken ct)
    {
        await Parallel.ForEachAsync(rows.Chunk(100), new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = ct }, async (slice, token) =>
        {
            try
            {
                await SubmitAsync(table, slice.Select(r => new TableTransactionAction(TableTransactionActionType.Delete, r, r.ETag)).ToList(), token);
            }
            catch (Azure.RequestFailedException ex) when (ex.Status is 404 or 409 or 412)
            {
                foreach (var row in slice)
                {
                    try
                    {
                        await table.DeleteEntityAsync(row.PartitionKey, row.RowKey, row.ETag, token);
                    }
                    catch (Azure.RequestFailedException inner) when (inner.Status is 404 or 412)
                    {
                    }
                }
            }
        });
    }

    /// <summary>Point reads in parallel (Table Storage has no multi-get); missing rows are left out.</summary>
    public static async Task<Dictionary<string, TableEntity>> ReadManyAsync(TableClient table, string partition, IEnumerable<string> rowKeys, CancellationToken ct, IEnumerable<string>? select = null)
    {
        var found = new System.Collections.Concurrent.ConcurrentDictionary<string, TableEntity>(StringComparer.Ordinal);
        var columns = select?.ToList();
        await Parallel.ForEachAsync(rowKeys.Distinct(StringComparer.Ordinal), new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = ct }, async (key, token) =>
        {
            var response = await table.GetEntityIfExistsAsync<TableEntity>(partition, key, columns, token);
            if (response.HasValue && response.Value is { } row)
            {
                found[key] = row;
            }
        });
        return new Dictionary<string, TableEntity>(found, StringComparer.Ordinal);
    }
}

using System.Globalization;
using System.IO.Compression;
using System.Text;
using CsvHelper;
using CsvHelper.Configuration;
using Newtonsoft.Json.Linq;

namespace Hub.Connectors.ZohoCrm;

/// <summary>
/// The CSV files of Zoho Bulk Write: the upload (one CSV in a zip, at most 25,000 rows) and the result Zoho writes
/// back (the same rows plus <c>STATUS</c>, <c>RECORD_ID</c> and <c>ERRORS</c>). Two columns Zoho does not import ride
/// along so every result row finds its profile and tags again.
/// https://www.zoho.com/crm/developer/docs/api/v8/bulk-write/overview.html
/// </summary>
internal static class ZohoCrmBulkWrite
{
    public const string ProfileColumn = "Hub_Profile_Ref";
    public const string TagsColumn = "Hub_Tags";
    public const int MaxRows = 25_000;

    /// <summary>The zipped CSV and the field mappings (api name → column index) for the job.</summary>
    public static (byte[] Zip, JArray Mappings) Build(CrmUpsertBatch batch)
    {
        var columns = new List<string> { batch.MatchField };
        foreach (var name in batch.Records.SelectMany(r => r.Payload.Properties().Select(p => p.Name)))
        {
            if (!columns.Contains(name, StringComparer.Ordinal))
            {
                columns.Add(name);
            }
        }

        using var csvText = new StringWriter(CultureInfo.InvariantCulture);
        using (var csv = new CsvWriter(csvText, CultureInfo.InvariantCulture))
        {
            foreach (var c in columns.Append(ProfileColumn).Append(TagsColumn))
            {
                csv.WriteField(c);
            }

            csv.NextRecord();
            foreach (var record in batch.Records)
            {
                foreach (var c in columns)
                {
                    csv.WriteField(c == batch.MatchField ? record.MatchValue : Text(record.Payload[c]));
                }

                csv.WriteField(record.ProfileId);
                csv.WriteField(string.Join(';', record.Tags.Where(batch.OwnedTags.Contains)));
                csv.NextRecord();
            }
        }

        using var zip = new MemoryStream();
        using (var archive = new ZipArchive(zip, ZipArchiveMode.Create, leaveOpen: true))
        {
            var entry = archive.CreateEntry("contacts.csv", CompressionLevel.Optimal);
            using var stream = entry.Open();
            var bytes = Encoding.UTF8.GetBytes(csvText.ToString());
            stream.Write(bytes);
        }

        var mappings = new JArray(columns.Select((c, i) => new JObject { ["api_name"] = c, ["index"] = i }));
        return (zip.ToArray(), mappings);
    }

    /// <summary>Reads Zoho's result file into one result per row, with the tags each written row should carry.</summary>
    public static List<(CrmRecordResult Result, IReadOnlyList<string> Tags)> ReadResult(byte[] zip)
    {
        using var archive = new ZipArchive(new MemoryStream(zip), ZipArchiveMode.Read);
        var entry = archive.Entries.FirstOrDefault(e => e.Name.EndsWith(".csv", StringComparison.OrdinalIgnoreCase))
            ?? throw new ConnectorException("Zoho's bulk result holds no CSV file.");
        using var reader = new StreamReader(entry.Open(), Encoding.UTF8);
        using var csv = new CsvReader(reader, new CsvConfiguration(CultureInfo.InvariantCulture) { MissingFieldFound = null, BadDataFound = null });
        csv.Read();
        csv.ReadHeader();
        var rows = new List<(CrmRecordResult, IReadOnlyList<string>)>();
        while (csv.Read())
        {
            var profile = csv.GetField(ProfileColumn);
            if (string.IsNullOrEmpty(profile))
            {
                continue;
            }

            var status = csv.GetField("STATUS") ?? "";
            var id = csv.GetField("RECORD_ID");
            var tags = (csv.GetField(TagsColumn) ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries);
            var result = status.ToUpperInvariant() switch
            {
                "ADDED" => new CrmRecordResult(profile, CrmOutcome.Created, id),
                "UPDATED" => new CrmRecordResult(profile, CrmOutcome.Updated, id),
                _ => new CrmRecordResult(profile, CrmOutcome.Rejected, Code: status, Message: csv.GetField("ERRORS") is { Length: > 0 } e ? e : $"Zoho skipped the row ({status})."),
            };
            rows.Add((result, tags));
        }

        return rows;
    }

    private static string Text(JToken? value) => value switch
    {
        null or { Type: JTokenType.Null } => "",
        JValue { Value: IFormattable f } v when v.Type != JTokenType.Date => f.ToString(null, CultureInfo.InvariantCulture),
        JValue v => v.ToString(CultureInfo.InvariantCulture),
        _ => value.ToString(Newtonsoft.Json.Formatting.None),
    };
}

using System.Security.Cryptography;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Hub.Functions.State;

/// <summary>
/// The version of a stored record: a hash of what the source rules made of it (the canonical member or order), not
/// of the vendor's raw JSON. Two deliveries of one state in different shapes (a Shopify order read by GraphQL in the
/// backfill and delivered in REST by its webhook; a Reconcile re-read of an order a webhook brought) are then one
/// version: the second is "unchanged" and nothing is written or resolved. Times are hashed as UTC instants and
/// amounts by value, so a shop-offset time or "12.50" against 12.5 does not make a new version. A rule change that
/// maps a record differently does: its next delivery is resolved again. (ADR 0017)
/// </summary>
public static class CanonicalVersion
{
    private static readonly JsonSerializer Serializer = JsonSerializer.Create(new JsonSerializerSettings
    {
        Converters = { new InstantConverter(), new AmountConverter() },
        DateParseHandling = DateParseHandling.None,
        NullValueHandling = NullValueHandling.Ignore,
    });

    public static string Of(object canonical)
    {
        ArgumentNullException.ThrowIfNull(canonical);
        using var buffer = new MemoryStream();
        using (var writer = new StreamWriter(buffer, leaveOpen: true))
        using (var json = new JsonTextWriter(writer) { Formatting = Formatting.None })
        {
            Serializer.Serialize(json, canonical);
        }

        return Convert.ToHexStringLower(SHA256.HashData(buffer.GetBuffer().AsSpan(0, (int)buffer.Length)).AsSpan(0, 16));
    }

    // Non-generic converters: JsonConverter<T> is not asked for T? properties, and most canonical times are nullable.
    private sealed class InstantConverter : JsonConverter
    {
        public override bool CanConvert(Type objectType) => objectType == typeof(DateTimeOffset) || objectType == typeof(DateTimeOffset?);

        public override void WriteJson(JsonWriter writer, object? value, JsonSerializer serializer) =>
            writer.WriteValue(((DateTimeOffset)value!).UtcTicks);

        public override object ReadJson(JsonReader reader, Type objectType, object? existingValue, JsonSerializer serializer) =>
            throw new NotSupportedException("Only used to hash.");
    }

    private sealed class AmountConverter : JsonConverter
    {
        public override bool CanConvert(Type objectType) => objectType == typeof(decimal) || objectType == typeof(decimal?);

        // 12.50m and 12.5m are equal but print differently; dividing by 1.000… drops the trailing zeros.
        public override void WriteJson(JsonWriter writer, object? value, JsonSerializer serializer) =>
            writer.WriteRawValue(((decimal)value! / 1.0000000000000000000000000000m).ToString(System.Globalization.CultureInfo.InvariantCulture));

        public override object ReadJson(JsonReader reader, Type objectType, object? existingValue, JsonSerializer serializer) =>
            throw new NotSupportedException("Only used to hash.");
    }
}

using System.Globalization;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Hub.Functions.Hosting;

/// <summary>
/// Decodes the values of an invocation envelope's <c>Data</c> and <c>Metadata</c> as the Functions host writes them.
/// The host JSON-encodes every scalar a second time (4 arrives as <c>"4"</c>, abc as <c>"\"abc\""</c>), sends POCOs
/// and dictionaries as real objects, dates as their re-parsed text (offset-less for <c>*Utc</c>), and bytes as base64.
/// See docs/reference: custom-handler.md §1.2. Decoding is lenient: an object stays an object; a string is
/// JSON-decoded once more and falls back to its raw text.
/// </summary>
public static class BindingData
{
    private static readonly JsonSerializerSettings ReadSettings = new()
    {
        DateParseHandling = DateParseHandling.None,
        FloatParseHandling = FloatParseHandling.Decimal,
        MaxDepth = 128,
    };

    /// <summary>Undoes the host's second encoding of one value.</summary>
    public static JToken Decode(JToken? raw)
    {
        switch (raw)
        {
            case null:
                return JValue.CreateNull();
            case JArray array:
                var decoded = new JArray();
                foreach (var item in array)
                {
                    decoded.Add(Decode(item));
                }

                return decoded;
            case JValue { Type: JTokenType.String } value:
                var text = (string)value!;
                return TryParse(text, out var inner) ? inner : new JValue(text);
            default:
                return raw;
        }
    }

    /// <summary>Parses JSON text without turning ISO strings into dates (vendor timestamps keep their offsets).</summary>
    public static bool TryParse(string text, out JToken token)
    {
        token = JValue.CreateNull();
        var trimmed = text.AsSpan().Trim();
        if (trimmed.IsEmpty)
        {
            return false;
        }

        // Cheap pre-check so plain words and base64 do not cost an exception.
        var first = trimmed[0];
        if (first is not ('{' or '[' or '"' or '-' or 't' or 'f' or 'n') && !char.IsAsciiDigit(first))
        {
            return false;
        }

        try
        {
            using var reader = new JsonTextReader(new StringReader(text))
            {
                DateParseHandling = DateParseHandling.None,
                FloatParseHandling = FloatParseHandling.Decimal,
                MaxDepth = 128,
            };
            token = JToken.ReadFrom(reader);
            // Reject trailing garbage such as "2023-10-12T20:13:49" (reads as the number 2023).
            if (reader.Read())
            {
                return false;
            }

            return true;
        }
        catch (JsonReaderException)
        {
            return false;
        }
    }

    /// <summary>
    /// Reads a message body as a JSON object: the decoded value may already be an object, or the body text (one
    /// more JSON decode), or base64 bytes of that text (<c>dataType: binary</c>).
    /// </summary>
    public static JObject ReadObject(JToken decoded, string what)
    {
        if (decoded is JObject obj)
        {
            return obj;
        }

        if (decoded is JValue { Type: JTokenType.String } value)
        {
            var text = (string)value!;
            if (TryParse(text, out var parsed))
            {
                if (parsed is JObject parsedObject)
                {
                    return parsedObject;
                }

                if (parsed is JValue { Type: JTokenType.String } again)
                {
                    return ReadObject(again, what);
                }
            }

            if (TryBase64(text, out var bytes) && TryParse(System.Text.Encoding.UTF8.GetString(bytes), out var fromBytes) && fromBytes is JObject bytesObject)
            {
                return bytesObject;
            }
        }

        throw new InvocationDecodingException($"{what} is not a JSON object.");
    }

    public static int? ReadInt(JToken? decoded) => decoded switch
    {
        JValue { Type: JTokenType.Integer } v => v.Value<int>(),
        JValue { Type: JTokenType.Float } v => (int)v.Value<decimal>(),
        JValue { Type: JTokenType.String } v when int.TryParse((string)v!, NumberStyles.Integer, CultureInfo.InvariantCulture, out var i) => i,
        _ => null,
    };

    public static string? ReadString(JToken? decoded) => decoded switch
    {
        null => null,
        JValue { Type: JTokenType.Null } => null,
        JValue { Value: DateTimeOffset d } => d.ToString("O", CultureInfo.InvariantCulture),
        JValue { Value: DateTime d } => d.ToString("O", CultureInfo.InvariantCulture),
        JValue v => Convert.ToString(v.Value, CultureInfo.InvariantCulture),
        _ => decoded.ToString(Formatting.None),
    };

    /// <summary>
    /// Reads a host date. <c>*Utc</c> values arrive without an offset (<c>2023-10-12T20:13:49</c>) and are UTC;
    /// the others carry one. Sub-second precision may be lost by the host: never compare them exactly.
    /// </summary>
    public static DateTimeOffset? ReadDate(JToken? decoded)
    {
        var text = ReadString(decoded);
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var date)
            ? date
            : null;
    }

    private static bool TryBase64(string text, out byte[] bytes)
    {
        bytes = [];
        if (text.Length == 0 || text.Length % 4 != 0)
        {
            return false;
        }

        var buffer = new byte[text.Length * 3 / 4];
        if (Convert.TryFromBase64String(text, buffer, out var written))
        {
            bytes = buffer.AsSpan(0, written).ToArray();
            return true;
        }

        return false;
    }

    internal static JsonSerializerSettings Settings => ReadSettings;
}

/// <summary>The envelope could not be read: answered 400, so a broken caller is visible, not retried blindly.</summary>
public sealed class InvocationDecodingException(string message) : Exception(message);

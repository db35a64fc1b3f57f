using System.Globalization;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Hub.LocalHost;

/// <summary>
/// Writes invocation envelopes with the real host's quirks (custom-handler.md §1.2), so local runs exercise the
/// same decoding as Azure: scalars are JSON-encoded a second time (<c>4</c> → <c>"4"</c>, <c>abc</c> →
/// <c>"\"abc\""</c>), dates are re-parsed text (<c>*Utc</c> without offset, seconds only), objects stay objects,
/// and keys ending in "Trigger" are left out of Metadata.
/// </summary>
public static class HostEnvelope
{
    /// <summary>A scalar as the host puts it into Data or Metadata: the JSON text of the value, as a string.</summary>
    public static JValue Scalar(object? value) => new(JsonConvert.SerializeObject(value));

    /// <summary>A DateTime as the host sends it: re-parsed from ToString(), so no sub-second part and no 'Z'.</summary>
    public static JValue UtcDate(DateTimeOffset value) => new(value.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss", CultureInfo.InvariantCulture));

    /// <summary>A DateTimeOffset as the host sends it: seconds and an explicit offset.</summary>
    public static JValue OffsetDate(DateTimeOffset value) => new(value.ToString("yyyy-MM-ddTHH:mm:sszzz", CultureInfo.InvariantCulture));

    public static JObject Sys(string functionName, DateTimeOffset now) => new()
    {
        ["MethodName"] = functionName,
        ["UtcNow"] = now.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffffffZ", CultureInfo.InvariantCulture),
        ["RandGuid"] = Guid.NewGuid().ToString(),
    };

    public static JObject Envelope(JObject data, JObject metadata) => new() { ["Data"] = data, ["Metadata"] = metadata };

    /// <summary>Timer: Data holds the serialized TimerInfo.</summary>
    public static JObject Timer(string functionName, string bindingName, DateTimeOffset? last, DateTimeOffset next, bool isPastDue, DateTimeOffset now) => Envelope(
        new JObject
        {
            [bindingName] = new JObject
            {
                ["Schedule"] = new JObject { ["AdjustForDST"] = true },
                ["ScheduleStatus"] = new JObject
                {
                    ["Last"] = OffsetDate(last ?? DateTimeOffset.MinValue),
                    ["Next"] = OffsetDate(next),
                    ["LastUpdated"] = OffsetDate(now),
                },
                ["IsPastDue"] = isPastDue,
            },
        },
        new JObject { ["sys"] = Sys(functionName, now) });

    /// <summary>Service Bus trigger (extension 5.x, cardinality one): the body string plus the broker properties.</summary>
    public static JObject ServiceBus(string functionName, string bindingName, string body, string messageId, int deliveryCount, long sequenceNumber, DateTimeOffset enqueued, DateTimeOffset now)
    {
        var metadata = new JObject
        {
            ["DeliveryCount"] = Scalar(deliveryCount),
            ["DeadLetterSource"] = null,
            ["LockToken"] = Scalar(Guid.NewGuid().ToString()),
            ["ExpiresAtUtc"] = UtcDate(enqueued.AddDays(14)),
            ["ExpiresAt"] = OffsetDate(enqueued.AddDays(14)),
            ["EnqueuedTimeUtc"] = UtcDate(enqueued),
            ["EnqueuedTime"] = OffsetDate(enqueued),
            ["MessageId"] = Scalar(messageId),
            ["ContentType"] = Scalar("application/json"),
            ["SequenceNumber"] = Scalar(sequenceNumber),
            ["ApplicationProperties"] = new JObject(),
            ["UserProperties"] = new JObject(),
            ["MessageReceiver"] = new JObject(),
            ["MessageActions"] = new JObject(),
            ["Client"] = new JObject { ["FullyQualifiedNamespace"] = "localhost", ["IsClosed"] = false, ["TransportType"] = 0, ["Identifier"] = "hub-localhost" },
            ["sys"] = Sys(functionName, now),
        };
        RemoveNulls(metadata);
        return Envelope(new JObject { [bindingName] = Scalar(body) }, metadata);
    }

    /// <summary>Storage queue trigger: body string, queue message properties, and the body's top-level properties.</summary>
    public static JObject Queue(string functionName, string bindingName, string body, string id, string popReceipt, long dequeueCount, DateTimeOffset inserted, DateTimeOffset expires, DateTimeOffset nextVisible, DateTimeOffset now)
    {
        var metadata = new JObject();
        if (TryParseObject(body) is { } bodyObject)
        {
            foreach (var p in bodyObject.Properties())
            {
                metadata[p.Name] = p.Value is JObject or JArray ? p.Value : Scalar(((JValue)p.Value).Value);
            }
        }

        metadata["DequeueCount"] = Scalar(dequeueCount);
        metadata["Id"] = Scalar(id);
        metadata["PopReceipt"] = Scalar(popReceipt);
        metadata["InsertionTime"] = OffsetDate(inserted);
        metadata["ExpirationTime"] = OffsetDate(expires);
        metadata["NextVisibleTime"] = OffsetDate(nextVisible);
        metadata["sys"] = Sys(functionName, now);
        return Envelope(new JObject { [bindingName] = Scalar(body) }, metadata);
    }

    /// <summary>
    /// Reads one output binding's value into messages, as the host does: an array (or a string holding a JSON
    /// array) is one message per element; an object is one message; any other string is base64-decoded when it
    /// happens to be valid base64 (the host's trap, custom-handler.md §1.3) unless the binding is binary.
    /// </summary>
    public static IReadOnlyList<string> OutputMessages(JToken? value, bool binary)
    {
        switch (value)
        {
            case null:
            case JValue { Type: JTokenType.Null }:
                return [];
            case JArray array:
                return array.Select(item => ElementText(item, binary)).ToList();
            case JObject obj:
                return [obj.ToString(Formatting.Indented)];
            case JValue { Type: JTokenType.String } s:
                var text = (string)s!;
                if (TryParseArray(text) is { } parsedArray)
                {
                    return parsedArray.Select(item => ElementText(item, binary)).ToList();
                }

                return [binary ? text : Base64Trap(text)];
            default:
                return [value.ToString(Formatting.None)];
        }
    }

    private static string ElementText(JToken item, bool binary) => item switch
    {
        JValue { Type: JTokenType.String } s => binary ? (string)s! : Base64Trap((string)s!),
        _ => item.ToString(Formatting.None),
    };

    private static string Base64Trap(string text)
    {
        var buffer = new byte[text.Length];
        return text.Length > 0 && Convert.TryFromBase64String(text, buffer, out var written)
            ? System.Text.Encoding.UTF8.GetString(buffer, 0, written)
            : text;
    }

    private static JObject? TryParseObject(string text)
    {
        try
        {
            return text.TrimStart().StartsWith('{') ? JObject.Parse(text) : null;
        }
        catch (JsonReaderException)
        {
            return null;
        }
    }

    private static JArray? TryParseArray(string text)
    {
        try
        {
            return text.TrimStart().StartsWith('[') ? JArray.Parse(text) : null;
        }
        catch (JsonReaderException)
        {
            return null;
        }
    }

    private static void RemoveNulls(JObject obj)
    {
        foreach (var p in obj.Properties().Where(p => p.Value.Type == JTokenType.Null).ToList())
        {
            p.Remove();
        }
    }
}

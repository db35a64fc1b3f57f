using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Hub.Functions.Hosting;

/// <summary>One invocation as the host sent it, with every Data and Metadata value already decoded.</summary>
public sealed class Invocation
{
    private Invocation(string functionName, string? invocationId, Dictionary<string, JToken> data, Dictionary<string, JToken> metadata)
    {
        FunctionName = functionName;
        InvocationId = invocationId;
        Data = data;
        Metadata = metadata;
    }

    public string FunctionName { get; }

    public string? InvocationId { get; }

    public IReadOnlyDictionary<string, JToken> Data { get; }

    public IReadOnlyDictionary<string, JToken> Metadata { get; }

    /// <summary>Service Bus <c>DeliveryCount</c>, or Storage queue <c>DequeueCount</c>; 1 on the first delivery.</summary>
    public int DeliveryCount => BindingData.ReadInt(Meta("DeliveryCount")) ?? BindingData.ReadInt(Meta("DequeueCount")) ?? 1;

    public string? MessageId => BindingData.ReadString(Meta("MessageId")) ?? BindingData.ReadString(Meta("Id"));

    public DateTimeOffset? EnqueuedTimeUtc => BindingData.ReadDate(Meta("EnqueuedTimeUtc")) ?? BindingData.ReadDate(Meta("InsertionTime"));

    /// <summary>The retry policy's context, present only while a function.json retry policy is running.</summary>
    public int? RetryCount => Meta("RetryContext") is JObject retry ? BindingData.ReadInt(BindingData.Decode(retry["RetryCount"])) : null;

    public JToken? Meta(string key) => Metadata.TryGetValue(key, out var value) ? value : null;

    /// <summary>The trigger's payload as an object (a message body, the timer info, a non-forwarded http request).</summary>
    public JObject ReadObject(string bindingName)
    {
        if (!Data.TryGetValue(bindingName, out var value))
        {
            throw new InvocationDecodingException($"Data has no '{bindingName}' binding.");
        }

        return BindingData.ReadObject(value, $"Data.{bindingName}");
    }

    public T Read<T>(string bindingName) => ReadObject(bindingName).ToObject<T>(JsonSerializer.Create(BindingData.Settings))
        ?? throw new InvocationDecodingException($"Data.{bindingName} is empty.");

    /// <summary>Reads the host's request body. Keys are matched case-insensitively, as the host's own reader does.</summary>
    public static Invocation Parse(string functionName, string? invocationId, JObject envelope)
    {
        var data = new Dictionary<string, JToken>(StringComparer.OrdinalIgnoreCase);
        var metadata = new Dictionary<string, JToken>(StringComparer.OrdinalIgnoreCase);
        foreach (var property in envelope.Properties())
        {
            if (string.Equals(property.Name, "Data", StringComparison.OrdinalIgnoreCase))
            {
                Fill(data, property.Value, "Data");
            }
            else if (string.Equals(property.Name, "Metadata", StringComparison.OrdinalIgnoreCase))
            {
                Fill(metadata, property.Value, "Metadata");
            }
        }

        return new Invocation(functionName, invocationId, data, metadata);
    }

    private static void Fill(Dictionary<string, JToken> target, JToken section, string what)
    {
        if (section.Type == JTokenType.Null)
        {
            return;
        }

        if (section is not JObject obj)
        {
            throw new InvocationDecodingException($"{what} must be an object.");
        }

        foreach (var property in obj.Properties())
        {
            // "sys" and other nested objects stay objects; scalars and strings lose the host's extra encoding.
            target[property.Name] = BindingData.Decode(property.Value);
        }
    }
}

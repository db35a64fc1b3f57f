using Newtonsoft.Json.Linq;

namespace Hub.Functions.Hosting;

/// <summary>
/// The handler's answer: <c>{"Outputs":{…},"Logs":[…],"ReturnValue":…}</c>. Output values are always JSON objects
/// or arrays of objects: the host base64-decodes any string that happens to be valid base64 (custom-handler.md §1.3),
/// so a bare string output is refused here rather than corrupted there.
/// </summary>
public sealed class InvocationResult
{
    private readonly Dictionary<string, JArray> _messages = new(StringComparer.Ordinal);
    private readonly Dictionary<string, JObject> _objects = new(StringComparer.Ordinal);

    public List<string> Logs { get; } = [];

    public JToken? ReturnValue { get; set; }

    /// <summary>Queues one message on an output binding; an array output becomes one message per element.</summary>
    public InvocationResult Send(string bindingName, object message)
    {
        var token = message as JObject ?? JObject.FromObject(message, Newtonsoft.Json.JsonSerializer.Create(BindingData.Settings));
        if (!_messages.TryGetValue(bindingName, out var list))
        {
            _messages[bindingName] = list = [];
        }

        list.Add(token);
        return this;
    }

    /// <summary>Sets a single-object output (e.g. <c>res</c> of a non-forwarded http function).</summary>
    public InvocationResult Set(string bindingName, JObject value)
    {
        _objects[bindingName] = value;
        return this;
    }

    public int MessageCount(string bindingName) => _messages.TryGetValue(bindingName, out var list) ? list.Count : 0;

    public IEnumerable<JObject> Messages(string bindingName) => _messages.TryGetValue(bindingName, out var list) ? list.Cast<JObject>() : [];

    public JObject ToJson()
    {
        var outputs = new JObject();
        foreach (var (name, list) in _messages)
        {
            outputs[name] = list;
        }

        foreach (var (name, value) in _objects)
        {
            outputs[name] = value;
        }

        var json = new JObject
        {
            ["Outputs"] = outputs,
            ["Logs"] = new JArray(Logs),
        };
        if (ReturnValue is not null)
        {
            if (ReturnValue.Type == JTokenType.String)
            {
                throw new InvalidOperationException("ReturnValue must be an object: the host would base64-decode a string.");
            }

            json["ReturnValue"] = ReturnValue;
        }

        return json;
    }
}

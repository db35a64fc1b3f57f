using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Hub.LocalHost;

/// <summary>A Functions app root as the host reads it: host.json and one folder per function with its function.json.</summary>
public sealed class AppDefinition
{
    private AppDefinition(string root, JObject hostJson, IReadOnlyList<FunctionDefinition> functions)
    {
        Root = root;
        HostJson = hostJson;
        Functions = functions;
    }

    public string Root { get; }
    public JObject HostJson { get; }
    public IReadOnlyList<FunctionDefinition> Functions { get; }

    public JObject CustomHandler => HostJson["customHandler"] as JObject
        ?? throw new InvalidOperationException("host.json has no customHandler section.");

    public bool EnableForwardingHttpRequest => CustomHandler.Value<bool?>("enableForwardingHttpRequest") ?? false;

    public string RoutePrefix => HostJson.SelectToken("extensions.http.routePrefix")?.Value<string>() ?? "api";

    public TimeSpan? FunctionTimeout => HostJson.Value<string>("functionTimeout") is { } t ? TimeSpan.Parse(t, System.Globalization.CultureInfo.InvariantCulture) : null;

    public QueueSettings Queues => QueueSettings.From(HostJson.SelectToken("extensions.queues") as JObject);

    public int ServiceBusMaxConcurrentCalls => HostJson.SelectToken("extensions.serviceBus.maxConcurrentCalls")?.Value<int?>() ?? 16;

    public static AppDefinition Load(string root, Func<string, string?> settings)
    {
        root = Path.GetFullPath(root);
        var hostPath = Path.Combine(root, "host.json");
        if (!File.Exists(hostPath))
        {
            throw new InvalidOperationException($"No host.json in app root '{root}'.");
        }

        var host = JObject.Parse(File.ReadAllText(hostPath));
        if (host.Value<string>("version") != "2.0")
        {
            throw new InvalidOperationException("host.json: version must be \"2.0\".");
        }

        var functions = new List<FunctionDefinition>();
        foreach (var dir in Directory.GetDirectories(root).OrderBy(d => d, StringComparer.Ordinal))
        {
            var path = Path.Combine(dir, "function.json");
            if (File.Exists(path))
            {
                functions.Add(FunctionDefinition.Parse(Path.GetFileName(dir), JObject.Parse(File.ReadAllText(path)), settings));
            }
        }

        return new AppDefinition(root, host, functions);
    }
}

/// <summary>host.json <c>extensions.queues</c>, with the host's defaults.</summary>
public sealed record QueueSettings(TimeSpan MaxPollingInterval, TimeSpan VisibilityTimeout, int BatchSize, int NewBatchThreshold, int MaxDequeueCount, bool Base64)
{
    public static QueueSettings From(JObject? section)
    {
        static TimeSpan Span(JObject? s, string key, TimeSpan fallback) =>
            s?.Value<string>(key) is { } v ? TimeSpan.Parse(v, System.Globalization.CultureInfo.InvariantCulture) : fallback;

        var batch = Math.Clamp(section?.Value<int?>("batchSize") ?? 16, 1, 32);
        return new QueueSettings(
            Span(section, "maxPollingInterval", TimeSpan.FromSeconds(2)),
            Span(section, "visibilityTimeout", TimeSpan.Zero),
            batch,
            section?.Value<int?>("newBatchThreshold") ?? batch / 2,
            section?.Value<int?>("maxDequeueCount") ?? 5,
            !string.Equals(section?.Value<string>("messageEncoding"), "none", StringComparison.OrdinalIgnoreCase));
    }
}

/// <summary>One function.json, with <c>%Setting%</c> references resolved as the host resolves them.</summary>
public sealed class FunctionDefinition
{
    private FunctionDefinition(string name, JObject json, IReadOnlyList<BindingDefinition> bindings)
    {
        Name = name;
        Json = json;
        Bindings = bindings;
    }

    public string Name { get; }
    public JObject Json { get; }
    public IReadOnlyList<BindingDefinition> Bindings { get; }

    public BindingDefinition Trigger => Bindings.Single(b => b.Direction == "in" && b.Type.EndsWith("Trigger", StringComparison.Ordinal));

    public IEnumerable<BindingDefinition> Outputs => Bindings.Where(b => b.Direction == "out");

    /// <summary>The forwarding rule of the host: exactly one httpTrigger and one http output.</summary>
    public bool IsHttpInAndOut =>
        Bindings.Count(b => b.Type == "httpTrigger") == 1 && Bindings.Count(b => b.Type == "http" && b.Direction == "out") == 1 && Bindings.Count == 2;

    public static FunctionDefinition Parse(string name, JObject json, Func<string, string?> settings)
    {
        if (json["bindings"] is not JArray bindings || bindings.Count == 0)
        {
            throw new InvalidOperationException($"{name}/function.json: 'bindings' must be a non-empty array.");
        }

        var list = new List<BindingDefinition>();
        for (var i = 0; i < bindings.Count; i++)
        {
            if (bindings[i] is not JObject b)
            {
                throw new InvalidOperationException($"{name}/function.json: bindings[{i}] must be an object.");
            }

            list.Add(BindingDefinition.Parse(name, i, b, settings));
        }

        var triggers = list.Count(b => b.Direction == "in" && b.Type.EndsWith("Trigger", StringComparison.Ordinal));
        if (triggers != 1)
        {
            throw new InvalidOperationException($"{name}/function.json: exactly one trigger binding is required, found {triggers}.");
        }

        return new FunctionDefinition(name, json, list);
    }
}

public sealed record BindingDefinition(string Type, string Direction, string Name, JObject Json)
{
    public string? Get(string key) => Json.Value<string>(key);

    public static BindingDefinition Parse(string function, int index, JObject json, Func<string, string?> settings)
    {
        var type = json.Value<string>("type") ?? throw new InvalidOperationException($"{function}/function.json: bindings[{index}].type is missing.");
        var direction = json.Value<string>("direction") ?? throw new InvalidOperationException($"{function}/function.json: bindings[{index}].direction is missing.");
        var name = json.Value<string>("name") ?? throw new InvalidOperationException($"{function}/function.json: bindings[{index}].name is missing.");
        var resolved = (JObject)json.DeepClone();
        foreach (var key in new[] { "schedule", "queueName", "topicName", "route" })
        {
            if (resolved.Value<string>(key) is { } value)
            {
                resolved[key] = Resolve(value, settings, $"{function}/function.json: bindings[{index}].{key}");
            }
        }

        return new BindingDefinition(type, direction, name, resolved);
    }

    /// <summary><c>%Name%</c> is replaced by the app setting Name, as the host does for binding expressions.</summary>
    public static string Resolve(string value, Func<string, string?> settings, string where)
    {
        if (value.Length > 2 && value[0] == '%' && value[^1] == '%')
        {
            var key = value[1..^1];
            return settings(key) ?? throw new InvalidOperationException($"{where}: app setting '{key}' is not set.");
        }

        return value;
    }

    public override string ToString() => Json.ToString(Formatting.None);
}

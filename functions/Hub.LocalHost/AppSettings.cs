using Newtonsoft.Json.Linq;

namespace Hub.LocalHost;

/// <summary>
/// App settings as the handler sees them in Azure: environment variables. Locally they come from the app root's
/// local.settings.json <c>Values</c>, then the process environment (which wins), then <c>--set key=value</c>.
/// </summary>
public sealed class AppSettings
{
    private readonly Dictionary<string, string> _values = new(StringComparer.OrdinalIgnoreCase);

    public IReadOnlyDictionary<string, string> Values => _values;

    public string? this[string key] => _values.TryGetValue(key, out var v) ? v : Environment.GetEnvironmentVariable(key);

    public static AppSettings Load(string appRoot, IEnumerable<KeyValuePair<string, string>> overrides)
    {
        var settings = new AppSettings();
        var path = Path.Combine(appRoot, "local.settings.json");
        if (File.Exists(path) && JObject.Parse(File.ReadAllText(path))["Values"] is JObject values)
        {
            foreach (var p in values.Properties())
            {
                settings._values[p.Name] = p.Value.Type == JTokenType.String ? (string)p.Value! : p.Value.ToString();
            }
        }

        foreach (var key in settings._values.Keys.ToList())
        {
            if (Environment.GetEnvironmentVariable(key) is { } env)
            {
                settings._values[key] = env;
            }
        }

        foreach (var (key, value) in overrides)
        {
            settings._values[key] = value;
        }

        return settings;
    }

    /// <summary>The Storage connection string that backs a queue or serviceBus binding's <c>connection</c> locally.</summary>
    public string QueueConnection(string? connectionSetting)
    {
        var value = connectionSetting is null ? null : this[connectionSetting];
        if (value is not null && (value.StartsWith("UseDevelopmentStorage", StringComparison.OrdinalIgnoreCase) || value.Contains("QueueEndpoint=", StringComparison.OrdinalIgnoreCase) || value.Contains("AccountKey=", StringComparison.OrdinalIgnoreCase)))
        {
            return value;
        }

        return this["AzureWebJobsStorage"] ?? "UseDevelopmentStorage=true";
    }
}

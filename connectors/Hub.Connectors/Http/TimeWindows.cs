using System.Globalization;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Hub.Connectors.Http;

/// <summary>
/// The cursor of a read by time windows: where the current window starts, how wide it is, and the page within it
/// when more than a page shares one second. Youzan and TOP both page this way.
/// </summary>
public sealed record TimeWindowCursor
{
    [JsonProperty("s", NullValueHandling = NullValueHandling.Ignore)] public DateTimeOffset? Start { get; init; }
    [JsonProperty("w", NullValueHandling = NullValueHandling.Ignore)] public long? WidthSeconds { get; init; }
    [JsonProperty("p", NullValueHandling = NullValueHandling.Ignore)] public int? Page { get; init; }

    [JsonIgnore]
    public TimeSpan? Width
    {
        get => WidthSeconds is { } w ? TimeSpan.FromSeconds(w) : null;
        init => WidthSeconds = value is { } v ? (long)Math.Ceiling(v.TotalSeconds) : null;
    }

    public string Serialize() => JsonConvert.SerializeObject(this);

    /// <exception cref="ConnectorValidationException">Not a cursor this reader wrote.</exception>
    public static TimeWindowCursor? Parse(string? cursor, string platform)
    {
        if (string.IsNullOrEmpty(cursor))
        {
            return null;
        }

        try
        {
            return JsonConvert.DeserializeObject<TimeWindowCursor>(cursor, new JsonSerializerSettings { DateParseHandling = DateParseHandling.DateTimeOffset })
                ?? throw new ConnectorValidationException($"The {platform} cursor '{cursor}' is not one this connector wrote.");
        }
        catch (JsonException ex)
        {
            throw new ConnectorValidationException($"The {platform} cursor '{cursor}' is not one this connector wrote.", ex);
        }
    }
}

/// <summary>China's platforms speak Beijing time without an offset, to the second: <c>yyyy-MM-dd HH:mm:ss</c>.</summary>
public static class BeijingTime
{
    public static readonly TimeSpan Offset = TimeSpan.FromHours(8);

    public static string Format(DateTimeOffset at) => at.ToOffset(Offset).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    public static DateTimeOffset? Parse(string? text) =>
        text is not null && DateTime.TryParseExact(text, "yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture, DateTimeStyles.None, out var local)
            ? new DateTimeOffset(local, Offset)
            : null;

    /// <summary>The start of the second: both window bounds are inclusive at one-second resolution.</summary>
    public static DateTimeOffset Floor(DateTimeOffset at) => new(at.UtcTicks - (at.UtcTicks % TimeSpan.TicksPerSecond), TimeSpan.Zero);

    /// <summary>The latest of the records' times, read by <paramref name="select"/>.</summary>
    public static DateTimeOffset? Max(IEnumerable<JObject> records, Func<JObject, string?> select)
    {
        DateTimeOffset? max = null;
        foreach (var r in records)
        {
            if (Parse(select(r)) is { } at && (max is null || at > max))
            {
                max = at;
            }
        }

        return max;
    }
}

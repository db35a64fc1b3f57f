namespace Hub.Mappings.Rules;

/// <summary>What a mapping evaluation knows besides its input: the clock, the connection's defaults, and where to report issues.</summary>
public sealed class EvalContext
{
    private List<MappingIssue>? _issues;

    public EvalContext(DateTimeOffset now, string defaultRegion = "US", TimeZoneInfo? timeZone = null)
    {
        Now = now;
        DefaultRegion = defaultRegion;
        TimeZone = timeZone ?? TimeZoneInfo.Utc;
    }

    public DateTimeOffset Now { get; set; }

    /// <summary>Region for phone numbers written without a country code (CN for Youzan and Tmall).</summary>
    public string DefaultRegion { get; set; }

    /// <summary>Zone of vendor timestamps that carry no offset (Asia/Shanghai for Chinese platforms).</summary>
    public TimeZoneInfo TimeZone { get; set; }

    /// <summary>The field being evaluated, so issues name it.</summary>
    public string Field { get; set; } = "";

    public IReadOnlyList<MappingIssue> Issues => _issues ?? (IReadOnlyList<MappingIssue>)[];

    public void Issue(string message, bool isError = false) => (_issues ??= []).Add(new MappingIssue(Field, message, isError));

    public void ClearIssues() => _issues?.Clear();
}

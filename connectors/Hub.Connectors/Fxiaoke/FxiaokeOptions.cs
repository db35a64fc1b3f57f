namespace Hub.Connectors.Fxiaoke;

/// <summary>Bound from <c>Hub:Connectors:Fxiaoke</c>.</summary>
public sealed class FxiaokeOptions
{
    public const string Section = "Hub:Connectors:Fxiaoke";

    /// <summary>Open API hosts a connection may use (纷享云, 钉钉云, 华为云, North America); sandboxes add theirs.</summary>
    public List<string> Hosts { get; set; } = ["https://open.fxiaoke.com", "https://open-ale.fxiaoke.com", "https://open-hws.fxiaoke.com", "https://open-na.sharecrm.com"];

    /// <summary>Calls per interface per window (documented: 100 per 20 s).</summary>
    public int CallsPerWindow { get; set; } = 100;

    public TimeSpan Window { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>Refresh the corpAccessToken this long before it expires (the official demo: 3 minutes).</summary>
    public TimeSpan RefreshBeforeExpiry { get; set; } = TimeSpan.FromMinutes(3);

    /// <summary>
    /// The multi-select custom field that carries the Hub's tags (Fxiaoke has no public tag API). The Hub owns the
    /// field whole; empty to write no tags.
    /// </summary>
    public string TagsField { get; set; } = "hub_tags__c";

    /// <summary>How long one push waits out "too frequent" answers (14001/30004) before leaving records pending.</summary>
    public TimeSpan BusyWaitBudget { get; set; } = TimeSpan.FromSeconds(30);
}

namespace Hub.Connectors.Youzan;

/// <summary>Bound from <c>Hub:Connectors:Youzan</c>.</summary>
public sealed class YouzanOptions
{
    public const string Section = "Hub:Connectors:Youzan";

    public string ApiBaseUrl { get; set; } = "https://open.youzanyun.com";

    /// <summary>The Hub's tool app (工具型) credentials, for installs by authorisation code; self-use apps keep theirs in the connection.</summary>
    public string? ClientId { get; set; }

    public string? ClientSecret { get; set; }

    /// <summary>Largest update-time window one trades call spans (Youzan refuses long ones; one day keeps pages short).</summary>
    public TimeSpan MaxWindow { get; set; } = TimeSpan.FromDays(1);

    /// <summary>How long one pull waits out flow limits (4101, 500100004) before handing the runtime a transient error.</summary>
    public TimeSpan ThrottleWaitBudget { get; set; } = TimeSpan.FromSeconds(45);

    /// <summary>Refresh the access token this long before <c>expires</c>.</summary>
    public TimeSpan RefreshBeforeExpiry { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Decrypt encrypted PII (<c>$…$1$</c>) through youzan.cloud.secret.decrypt.batch when the shop allows it.</summary>
    public bool Decrypt { get; set; } = true;
}

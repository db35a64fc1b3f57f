namespace Hub.Connectors.Tmall;

/// <summary>Bound from <c>Hub:Connectors:Tmall</c>.</summary>
public sealed class TmallOptions
{
    public const string Section = "Hub:Connectors:Tmall";

    /// <summary>The TOP gateway host (<c>/router/rest</c> is appended); the sandbox gateway is https://gw.api.tbsandbox.com.</summary>
    public string GatewayUrl { get; set; } = "https://eco.taobao.com";

    public string SignMethod { get; set; } = "hmac-sha256";

    /// <summary>Largest modified window of one increment call (TOP allows one day; 30 minutes is advised for busy shops).</summary>
    public TimeSpan MaxWindow { get; set; } = TimeSpan.FromDays(1);

    /// <summary>A flow-control ban shorter than this is waited out inside the pull; a longer one goes back to the runtime.</summary>
    public TimeSpan BanWaitBudget { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Fields asked of taobao.trade.fullinfo.get: the ones the source rules read.</summary>
    public string TradeFields { get; set; } =
        "tid,status,created,modified,pay_time,payment,total_fee,buyer_open_uid,ouid,omid,oaid,orders.outer_sku_id,orders.title,orders.num,orders.price";
}

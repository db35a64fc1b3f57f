namespace Hub.Connectors.HubSpot;

/// <summary>Bound from <c>Hub:Connectors:HubSpot</c>.</summary>
public sealed class HubSpotOptions
{
    public const string Section = "Hub:Connectors:HubSpot";

    /// <summary>API host; sandboxes point it at themselves.</summary>
    public string ApiBaseUrl { get; set; } = "https://api.hubapi.com";

    /// <summary>Where the merchant approves the app.</summary>
    public string AuthorizeUrl { get; set; } = "https://app.hubspot.com/oauth/authorize";

    /// <summary>The public app's client id and secret (OAuth); private-app tokens need neither.</summary>
    public string? ClientId { get; set; }

    public string? ClientSecret { get; set; }

    public string Scopes { get; set; } = "crm.objects.contacts.read crm.objects.contacts.write crm.schemas.contacts.read";

    /// <summary>Refresh an OAuth access token this long before it expires (HubSpot: a 401 alone is not a reliable signal).</summary>
    public TimeSpan RefreshBeforeExpiry { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>The contact property that carries the Hub's tags (multiple checkboxes); the Hub owns it whole.</summary>
    public string TagsProperty { get; set; } = "hub_tags";
}

namespace Hub.Connectors.ZohoCrm;

/// <summary>Bound from <c>Hub:Connectors:ZohoCrm</c>.</summary>
public sealed class ZohoCrmOptions
{
    public const string Section = "Hub:Connectors:ZohoCrm";

    public string? ClientId { get; set; }

    public string? ClientSecret { get; set; }

    /// <summary>Where installs start; Zoho sends the user's own accounts server back on the callback.</summary>
    public string DefaultAccountsServer { get; set; } = "https://accounts.zoho.com";

    /// <summary>
    /// Accounts servers a callback may name (the data centres). A forged callback cannot send the code, and the
    /// client secret with it, anywhere else.
    /// </summary>
    public List<string> AccountsServers { get; set; } =
    [
        "https://accounts.zoho.com", "https://accounts.zoho.eu", "https://accounts.zoho.in", "https://accounts.zoho.com.au",
        "https://accounts.zoho.jp", "https://accounts.zohocloud.ca", "https://accounts.zoho.sa", "https://accounts.zoho.com.cn", "https://accounts.zoho.uk",
    ];

    /// <summary>Hosts an <c>api_domain</c> may be on (<c>www.zohoapis.*</c>); sandboxes add their own.</summary>
    public List<string> ApiDomainSuffixes { get; set; } = [".zohoapis.com", ".zohoapis.eu", ".zohoapis.in", ".zohoapis.com.au", ".zohoapis.jp", ".zohoapis.ca", ".zohoapis.sa", ".zohoapis.com.cn", ".zohoapis.uk"];

    public string Scopes { get; set; } = "ZohoCRM.modules.contacts.ALL,ZohoCRM.settings.fields.READ,ZohoCRM.settings.tags.ALL,ZohoCRM.org.READ";

    /// <summary>Heavy calls (upserts of more than 10 records) allowed at once per org, in every edition.</summary>
    public int Concurrency { get; set; } = 10;

    public TimeSpan RefreshBeforeExpiry { get; set; } = TimeSpan.FromMinutes(5);
}

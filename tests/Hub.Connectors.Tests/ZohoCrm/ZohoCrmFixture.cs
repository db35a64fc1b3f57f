using System.Globalization;
using Hub.Connectors.Tests.Support;
using Hub.Sandbox.ZohoCrm;
using Microsoft.Extensions.DependencyInjection;
using Newtonsoft.Json.Linq;

namespace Hub.Connectors.Tests.ZohoCrm;

/// <summary>The Zoho sandbox and the connector configured for it: its accounts servers and API domains are allowed.</summary>
internal static class ZohoCrmFixture
{
    public static ServiceProvider Services(ZohoCrmSandbox sandbox) => ConnectorServices.Build(overrides: new Dictionary<string, string?>
    {
        ["Hub:Connectors:ZohoCrm:ClientId"] = sandbox.ClientId,
        ["Hub:Connectors:ZohoCrm:ClientSecret"] = sandbox.ClientSecret,
        ["Hub:Connectors:ZohoCrm:DefaultAccountsServer"] = sandbox.AccountsServer("us"),
        ["Hub:Connectors:ZohoCrm:AccountsServers:20"] = sandbox.AccountsServer("us"),
        ["Hub:Connectors:ZohoCrm:AccountsServers:21"] = sandbox.AccountsServer("eu"),
        ["Hub:Connectors:ZohoCrm:ApiDomainSuffixes:20"] = sandbox.BaseUrl + "/api/",
    });

    public static ConnectionContext Connection(ZohoCrmSandbox sandbox, string dc = "eu", Func<JObject, CancellationToken, Task>? save = null)
    {
        var (access, refresh) = sandbox.IssueTokens(dc);
        return new ConnectionContext("tenant-a", "zoho-1", "zoho-crm", new JObject
        {
            ["apiDomain"] = sandbox.ApiDomain(dc),
            ["accountsServer"] = sandbox.AccountsServer(dc),
            ["secrets"] = new JObject
            {
                ["accessToken"] = access,
                ["refreshToken"] = refresh,
                ["expiresAt"] = DateTimeOffset.UtcNow.AddMinutes(55).ToString("O", CultureInfo.InvariantCulture),
            },
        }) { SaveSecretsAsync = save };
    }
}

using Hub.Connectors.Tests.Support;
using Hub.Sandbox.Youzan;
using Microsoft.Extensions.DependencyInjection;
using Newtonsoft.Json.Linq;

namespace Hub.Connectors.Tests.Youzan;

internal static class YouzanFixture
{
    public static ServiceProvider Services(YouzanSandbox sandbox, IDictionary<string, string?>? more = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Hub:Connectors:Youzan:ApiBaseUrl"] = sandbox.BaseUrl,
            ["Hub:Connectors:Youzan:ThrottleWaitBudget"] = "00:00:10",
        };
        foreach (var (k, v) in more ?? new Dictionary<string, string?>())
        {
            settings[k] = v;
        }

        return ConnectorServices.Build(overrides: settings);
    }

    public static ConnectionContext Connection(YouzanSandbox sandbox, string? secret = null, Func<JObject, CancellationToken, Task>? save = null) =>
        new("tenant-a", "yz-1", "youzan", new JObject
        {
            ["kdtId"] = sandbox.KdtId,
            ["secrets"] = new JObject { ["clientId"] = sandbox.ClientId, ["clientSecret"] = secret ?? sandbox.ClientSecret },
        }) { SaveSecretsAsync = save };
}

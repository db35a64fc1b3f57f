using Hub.Connectors.Tests.Support;
using Hub.Sandbox.Fxiaoke;
using Microsoft.Extensions.DependencyInjection;
using Newtonsoft.Json.Linq;

namespace Hub.Connectors.Tests.Fxiaoke;

/// <summary>The Fxiaoke sandbox and the connector, with the documented 100 calls per 20 s compressed to 100 per second.</summary>
internal static class FxiaokeFixture
{
    public static ServiceProvider Services(FxiaokeSandbox sandbox, IDictionary<string, string?>? more = null)
    {
        sandbox.Window = TimeSpan.FromSeconds(1);
        var settings = new Dictionary<string, string?>
        {
            ["Hub:Connectors:Fxiaoke:Hosts:10"] = sandbox.BaseUrl,
            ["Hub:Connectors:Fxiaoke:Window"] = "00:00:01",
            ["Hub:Connectors:Fxiaoke:BusyWaitBudget"] = "00:00:05",
            ["Hub:Connectors:Http:AttemptTimeout"] = "00:00:02",
        };
        foreach (var (k, v) in more ?? new Dictionary<string, string?>())
        {
            settings[k] = v;
        }

        return ConnectorServices.Build(overrides: settings);
    }

    public static ConnectionContext Connection(FxiaokeSandbox sandbox, string? appSecret = null, Func<JObject, CancellationToken, Task>? save = null) =>
        new("tenant-a", "fx-1", "fxiaoke", new JObject
        {
            ["host"] = sandbox.BaseUrl,
            ["currentOpenUserId"] = sandbox.AdminOpenUserId,
            ["secrets"] = new JObject { ["appId"] = sandbox.AppId, ["appSecret"] = appSecret ?? sandbox.AppSecret, ["permanentCode"] = sandbox.PermanentCode },
        }) { SaveSecretsAsync = save };
}

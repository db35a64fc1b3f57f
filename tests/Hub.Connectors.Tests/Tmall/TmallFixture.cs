using Hub.Connectors.Tests.Support;
using Hub.Sandbox.Tmall;
using Microsoft.Extensions.DependencyInjection;
using Newtonsoft.Json.Linq;

namespace Hub.Connectors.Tests.Tmall;

internal static class TmallFixture
{
    public static ServiceProvider Services(TmallSandbox sandbox, IDictionary<string, string?>? more = null)
    {
        var settings = new Dictionary<string, string?> { ["Hub:Connectors:Tmall:GatewayUrl"] = sandbox.BaseUrl, ["Hub:Connectors:Tmall:BanWaitBudget"] = "00:00:10" };
        foreach (var (k, v) in more ?? new Dictionary<string, string?>())
        {
            settings[k] = v;
        }

        return ConnectorServices.Build(overrides: settings);
    }

    public static ConnectionContext Connection(TmallSandbox sandbox, string? secret = null, string? session = null) =>
        new("tenant-a", "tm-1", "tmall", new JObject
        {
            ["secrets"] = new JObject { ["appKey"] = sandbox.AppKey, ["appSecret"] = secret ?? sandbox.AppSecret, ["session"] = session ?? sandbox.Session },
        });
}

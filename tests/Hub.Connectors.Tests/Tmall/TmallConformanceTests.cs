using System.Globalization;
using Hub.Connectors.Tests.Conformance;
using Hub.Connectors.Tests.Support;
using Hub.Sandbox.Common;
using Hub.Sandbox.Tmall;
using Microsoft.Extensions.DependencyInjection;
using Newtonsoft.Json.Linq;

namespace Hub.Connectors.Tests.Tmall;

public sealed class TmallConformanceTests : StoreConnectorConformance
{
    private readonly TmallSandbox _sandbox = new();
    private ServiceProvider _services = null!;

    protected override string Platform => "tmall";

    protected override SandboxServer Server => _sandbox;

    public override async Task InitializeAsync()
    {
        await _sandbox.StartAsync();
        _sandbox.Seed(SandboxPeople.Generate(60), trades: OrderCount, days: 20);
        _services = TmallFixture.Services(_sandbox, ConnectorServices.Impatient);
        Connector = _services.Store("tmall");
        Connection = TmallFixture.Connection(_sandbox);
    }

    public override async Task DisposeAsync()
    {
        await _services.DisposeAsync();
        await _sandbox.DisposeAsync();
    }

    protected override ConnectionContext WithWrongCredentials() => TmallFixture.Connection(_sandbox, secret: "wrong");

    protected override IReadOnlyDictionary<string, DateTimeOffset> Truth()
    {
        lock (_sandbox.Trades)
        {
            return _sandbox.Trades.ToDictionary(t => t.Tid.ToString(CultureInfo.InvariantCulture), t => t.Modified);
        }
    }

    protected override string TouchOrder(int index)
    {
        var tid = _sandbox.Trades.OrderBy(t => t.Modified).ThenBy(t => t.Tid).ElementAt(index).Tid;
        _sandbox.UpdateTrade(tid, t => t.Status = "TRADE_CLOSED");
        return tid.ToString(CultureInfo.InvariantCulture);
    }

    protected override string IdOf(JObject record) => record["tid"]!.ToString();

    protected override DateTimeOffset UpdatedOf(JObject record) =>
        new(DateTime.ParseExact(record.Value<string>("modified")!, "yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture), TimeSpan.FromHours(8));

    protected override WebhookRequest OrderWebhook(byte[] body, string? secret = null) => new(Connection, body, new Dictionary<string, string>());

    protected override string SampleOrderJson() => """{"tid":1,"status":"WAIT_SELLER_SEND_GOODS"}""";
}

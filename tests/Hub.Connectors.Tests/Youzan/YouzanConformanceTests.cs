using System.Globalization;
using System.Text;
using Hub.Connectors.Tests.Conformance;
using Hub.Connectors.Tests.Support;
using Hub.Connectors.Youzan;
using Hub.Sandbox.Common;
using Hub.Sandbox.Youzan;
using Microsoft.Extensions.DependencyInjection;
using Newtonsoft.Json.Linq;

namespace Hub.Connectors.Tests.Youzan;

public sealed class YouzanConformanceTests : StoreConnectorConformance
{
    private readonly YouzanSandbox _sandbox = new();
    private ServiceProvider _services = null!;

    protected override string Platform => "youzan";

    protected override SandboxServer Server => _sandbox;

    public override async Task InitializeAsync()
    {
        await _sandbox.StartAsync();
        _sandbox.Seed(SandboxPeople.Generate(60), customers: 50, orders: OrderCount, days: 20);
        _services = YouzanFixture.Services(_sandbox, ConnectorServices.Impatient);
        Connector = _services.Store("youzan");
        Connection = YouzanFixture.Connection(_sandbox);
        await Connector.TestConnectionAsync(Connection, CancellationToken.None); // the token is cached on the connection
    }

    public override async Task DisposeAsync()
    {
        await _services.DisposeAsync();
        await _sandbox.DisposeAsync();
    }

    protected override ConnectionContext WithWrongCredentials() => YouzanFixture.Connection(_sandbox, secret: "wrong");

    protected override IReadOnlyDictionary<string, DateTimeOffset> Truth()
    {
        lock (_sandbox.Orders)
        {
            return _sandbox.Orders.ToDictionary(o => o.Tid, o => o.Updated);
        }
    }

    protected override string TouchOrder(int index)
    {
        var tid = _sandbox.Orders.OrderBy(o => o.Updated).ThenBy(o => o.Tid, StringComparer.Ordinal).ElementAt(index).Tid;
        _sandbox.UpdateOrder(tid, o => o.Status = "TRADE_REFUND");
        return tid;
    }

    protected override string IdOf(JObject record) => record["full_order_info"]!["order_info"]!.Value<string>("tid")!;

    protected override DateTimeOffset UpdatedOf(JObject record) =>
        new(DateTime.ParseExact(record["full_order_info"]!["order_info"]!.Value<string>("update_time")!, "yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture), TimeSpan.FromHours(8));

    protected override WebhookRequest OrderWebhook(byte[] body, string? secret = null)
    {
        var headers = new Dictionary<string, string> { [YouzanPush.TypeHeader] = "trade_TradeCreate" };
        if (secret != "")
        {
            headers[YouzanPush.SignHeader] = YouzanPush.Sign(_sandbox.ClientId, body, secret ?? _sandbox.ClientSecret);
        }

        return new WebhookRequest(Connection, body, headers);
    }

    protected override string SampleOrderJson() =>
        $$"""{"client_id":"{{_sandbox.ClientId}}","kdt_id":{{_sandbox.KdtId}},"id":"E1","type":"trade_TradeCreate","msg":"{{Uri.EscapeDataString("""{"tid":"E1","status":"WAIT_BUYER_PAY"}""")}}","msg_id":"m-1","version":1700000000,"test":false}""";
}

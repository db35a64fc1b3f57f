using Hub.Connectors.Tests.Conformance;
using Hub.Connectors.Tests.Support;
using Hub.Sandbox.Common;
using Hub.Sandbox.Fxiaoke;
using Microsoft.Extensions.DependencyInjection;
using Newtonsoft.Json.Linq;

namespace Hub.Connectors.Tests.Fxiaoke;

public sealed class FxiaokeConformanceTests : CrmConnectorConformance
{
    private readonly FxiaokeSandbox _sandbox = new();
    private ServiceProvider _services = null!;

    protected override string Platform => "fxiaoke";

    protected override SandboxServer Server => _sandbox;

    protected override (string Module, string MatchField, string CustomField, string CustomOption, string NameField, string AmountField) Target =>
        ("ContactObj", "email", "lifecycle_stage__c", "active", "name", "total_spent__c");

    protected override bool MatchIgnoresCase => false;

    protected override bool IsWriteCall(SandboxRequest request) => request.Path is "/cgi/crm/v2/data/create" or "/cgi/crm/v2/data/update";

    public override async Task InitializeAsync()
    {
        await _sandbox.StartAsync();
        _services = FxiaokeFixture.Services(_sandbox);
        Connector = _services.Crm("fxiaoke");
        Connection = FxiaokeFixture.Connection(_sandbox);
        await Connector.TestConnectionAsync(Connection, CancellationToken.None); // the token is cached on the connection
        _sandbox.ClearRequests();
    }

    public override async Task DisposeAsync()
    {
        await _services.DisposeAsync();
        await _sandbox.DisposeAsync();
    }

    protected override ConnectionContext WithWrongCredentials() => FxiaokeFixture.Connection(_sandbox, appSecret: "wrong");

    protected override IReadOnlyDictionary<string, JObject> CrmRecords() => _sandbox.Records.ToDictionary(r => r.Value<string>("email")!);

    protected override int ExpectedCalls(int records) => records;
}

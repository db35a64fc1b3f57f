using Hub.Connectors.Tests.Conformance;
using Hub.Connectors.Tests.Support;
using Hub.Sandbox.Common;
using Hub.Sandbox.HubSpot;
using Microsoft.Extensions.DependencyInjection;
using Newtonsoft.Json.Linq;

namespace Hub.Connectors.Tests.HubSpot;

public sealed class HubSpotConformanceTests : CrmConnectorConformance
{
    private readonly HubSpotSandbox _sandbox = new(null, seedProperties: true);
    private ServiceProvider _services = null!;

    protected override string Platform => "hubspot";

    protected override SandboxServer Server => _sandbox;

    protected override (string Module, string MatchField, string CustomField, string CustomOption, string NameField, string AmountField) Target =>
        ("contacts", "email", "hub_lifecycle_stage", "active", "lastname", "hub_total_spent");

    public override async Task InitializeAsync()
    {
        await _sandbox.StartAsync();
        _services = ConnectorServices.Build(overrides: new Dictionary<string, string?> { ["Hub:Connectors:HubSpot:ApiBaseUrl"] = _sandbox.BaseUrl });
        Connector = _services.Crm("hubspot");
        Connection = new ConnectionContext("tenant-a", "crm-1", "hubspot", new JObject { ["secrets"] = new JObject { ["accessToken"] = _sandbox.PrivateAppToken } });
    }

    public override async Task DisposeAsync()
    {
        await _services.DisposeAsync();
        await _sandbox.DisposeAsync();
    }

    protected override ConnectionContext WithWrongCredentials() =>
        Connection with { Settings = new JObject { ["secrets"] = new JObject { ["accessToken"] = "pat-wrong" } } };

    protected override IReadOnlyDictionary<string, JObject> CrmRecords() => _sandbox.Contacts.ToDictionary(c => c.Value<string>("email")!);

    protected override int ExpectedCalls(int records) => (int)Math.Ceiling(records / 100.0);
}

using Hub.Connectors.Tests.Conformance;
using Hub.Connectors.Tests.Support;
using Hub.Sandbox.Common;
using Hub.Sandbox.ZohoCrm;
using Microsoft.Extensions.DependencyInjection;
using Newtonsoft.Json.Linq;

namespace Hub.Connectors.Tests.ZohoCrm;

public sealed class ZohoCrmConformanceTests : CrmConnectorConformance
{
    private readonly ZohoCrmSandbox _sandbox = new();
    private ServiceProvider _services = null!;

    protected override string Platform => "zoho-crm";

    protected override SandboxServer Server => _sandbox;

    protected override (string Module, string MatchField, string CustomField, string CustomOption, string NameField, string AmountField) Target =>
        ("Contacts", "Email", "Lifecycle_Stage", "Active", "Last_Name", "Total_Spent");

    public override async Task InitializeAsync()
    {
        await _sandbox.StartAsync();
        _services = ZohoCrmFixture.Services(_sandbox);
        Connector = _services.Crm("zoho-crm");
        Connection = ZohoCrmFixture.Connection(_sandbox);
    }

    public override async Task DisposeAsync()
    {
        await _services.DisposeAsync();
        await _sandbox.DisposeAsync();
    }

    protected override ConnectionContext WithWrongCredentials() => Connection with
    {
        Settings = new JObject
        {
            ["apiDomain"] = _sandbox.ApiDomain("eu"),
            ["accountsServer"] = _sandbox.AccountsServer("eu"),
            ["secrets"] = new JObject { ["accessToken"] = "1000.wrong", ["expiresAt"] = DateTimeOffset.UtcNow.AddHours(1).ToString("O") },
        },
    };

    protected override IReadOnlyDictionary<string, JObject> CrmRecords() => _sandbox.Contacts.ToDictionary(c => c.Value<string>("Email")!.ToLowerInvariant());

    protected override int ExpectedCalls(int records) => (int)Math.Ceiling(records / 100.0);
}

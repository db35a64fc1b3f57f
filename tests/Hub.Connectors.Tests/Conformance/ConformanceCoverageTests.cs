using System.Reflection;
using Hub.Connectors.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Hub.Connectors.Tests.Conformance;

/// <summary>Every store connector the function app registers runs the conformance suite: a new one cannot skip it.</summary>
public sealed class ConformanceCoverageTests
{
    [Fact]
    public void EveryRegisteredStoreConnector_HasAConformanceSuite()
    {
        using var services = ConnectorServices.Build();
        var registered = services.GetServices<RegisteredConnector>().Where(c => c.Kind == ConnectorKind.Store).Select(c => c.Id).Order().ToList();
        var covered = typeof(StoreConnectorConformance).Assembly.GetTypes()
            .Where(t => t is { IsAbstract: false } && t.IsSubclassOf(typeof(StoreConnectorConformance)))
            .Select(t => (string)t.GetProperty("Platform", BindingFlags.Instance | BindingFlags.NonPublic)!.GetValue(RuntimeHelpersNew(t))!)
            .Order()
            .ToList();

        Assert.NotEmpty(registered);
        Assert.Equal(registered, covered);
        Assert.All(registered, id => Assert.Equal(id, services.GetRequiredKeyedService<IStoreConnector>(id).Info.Id));
    }

    [Fact]
    public void EveryRegisteredCrmConnector_HasAConformanceSuite()
    {
        using var services = ConnectorServices.Build();
        var registered = services.GetServices<RegisteredConnector>().Where(c => c.Kind == ConnectorKind.Crm).Select(c => c.Id).Order().ToList();
        var covered = typeof(CrmConnectorConformance).Assembly.GetTypes()
            .Where(t => t is { IsAbstract: false } && t.IsSubclassOf(typeof(CrmConnectorConformance)))
            .Select(t => (string)t.GetProperty("Platform", BindingFlags.Instance | BindingFlags.NonPublic)!.GetValue(RuntimeHelpersNew(t))!)
            .Order()
            .ToList();

        Assert.NotEmpty(registered);
        Assert.Equal(registered, covered);
    }

    private static object RuntimeHelpersNew(Type t) => System.Runtime.CompilerServices.RuntimeHelpers.GetUninitializedObject(t);
}

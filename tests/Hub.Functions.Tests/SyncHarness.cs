using Hub.Connectors;
using Hub.Functions.Functions;
using Hub.Functions.Hosting;
using Hub.Functions.State;
using Hub.Functions.Sync;
using Hub.Testing;
using Hub.Testing.Connectors;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Hub.Functions.Tests;

/// <summary>The handler's services against Azurite with a private table prefix and a fake clock.</summary>
public sealed class SyncHarness : IAsyncDisposable
{
    /// <param name="realClock">
    /// Run on the system clock: needed when a connector waits (Shopify bulk polls, Retry-After), which would never end on
    /// the fake clock. <see cref="Clock"/> then only seeds times the test writes.
    /// </param>
    /// <param name="replace">Registers services in place of the handler's own (a queue that fails, for one).</param>
    public SyncHarness(Action<Dictionary<string, string?>>? configure = null, bool realClock = false, Action<IServiceCollection, IConfiguration>? replace = null)
    {
        var values = new Dictionary<string, string?>
        {
            ["HubStorage"] = AzuriteFixture.ConnectionString,
            ["Hub:TablePrefix"] = AzuriteFixture.NewTablePrefix(),
            ["Hub:DataProtection:KeysPath"] = Path.Combine(Path.GetTempPath(), "hub-tests-keys"),
        };
        configure?.Invoke(values);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        var services = new ServiceCollection();
        services.AddLogging(b => b.SetMinimumLevel(LogLevel.Warning));
        services.AddSingleton<IConfiguration>(configuration);
        HubApp.AddHubServices(services, configuration);
        new TestConnectorsPlugin().Register(services, configuration);
        services.AddSingleton<TimeProvider>(realClock ? TimeProvider.System : Clock);
        replace?.Invoke(services, configuration);
        Services = services.BuildServiceProvider();
    }

    public FakeTimeProvider Clock { get; } = new(new DateTimeOffset(2026, 11, 1, 8, 0, 0, TimeSpan.Zero));
    public ServiceProvider Services { get; }
    public string Tenant { get; } = "tenant-" + Guid.NewGuid().ToString("N")[..8];

    public ConnectionStore Connections => Services.GetRequiredService<ConnectionStore>();
    public CursorStore Cursors => Services.GetRequiredService<CursorStore>();
    public RunStore Runs => Services.GetRequiredService<RunStore>();
    public ScheduleSync Scheduler => (ScheduleSync)Services.GetRequiredKeyedService<IFunction>(ScheduleSync.Name);
    public PullStream Puller => (PullStream)Services.GetRequiredKeyedService<IFunction>(PullStream.Name);

    public async Task<ConnectionEntity> AddConnectionAsync(object settings, string id = "c1", string status = ConnectionStatus.Active, DateTimeOffset? backfillStart = null)
    {
        var connection = new ConnectionEntity
        {
            PartitionKey = Tenant,
            RowKey = id,
            ConnectorId = ScriptedStoreConnector.Id,
            SettingsJson = JObject.FromObject(settings).ToString(),
            Status = status,
            BackfillStart = backfillStart,
            CreatedAt = Clock.GetUtcNow(),
        };
        await Connections.UpsertAsync(connection, CancellationToken.None);
        return connection;
    }

    public Task<InvocationResult> TickAsync() => Scheduler.InvokeAsync(Timer(), CancellationToken.None);

    public Task<InvocationResult> PullAsync(PullMessage message, int deliveryCount = 1) =>
        Puller.InvokeAsync(ServiceBus(message, deliveryCount), CancellationToken.None);

    /// <summary>A Service Bus envelope encoded as the host encodes it: body and scalars JSON-encoded a second time.</summary>
    public static Invocation ServiceBus(object body, int deliveryCount) => ServiceBus(PullStream.Name, body, deliveryCount);

    public static Invocation ServiceBus(string function, object body, int deliveryCount) => Invocation.Parse(function, Guid.NewGuid().ToString(), new JObject
    {
        ["Data"] = new JObject { ["message"] = JsonConvert.SerializeObject(JsonConvert.SerializeObject(body)) is var twice ? JToken.Parse(twice) : null },
        ["Metadata"] = new JObject
        {
            ["DeliveryCount"] = JsonConvert.SerializeObject(deliveryCount),
            ["MessageId"] = JsonConvert.SerializeObject(Guid.NewGuid().ToString()),
            ["EnqueuedTimeUtc"] = "2026-11-01T08:00:00",
            ["sys"] = new JObject { ["MethodName"] = function },
        },
    });

    public static Invocation Timer() => Invocation.Parse(ScheduleSync.Name, Guid.NewGuid().ToString(), JObject.Parse("""
        {"Data":{"timer":{"Schedule":{"AdjustForDST":true},"ScheduleStatus":null,"IsPastDue":false}},"Metadata":{"sys":{"MethodName":"ScheduleSync"}}}
        """));

    public static PullMessage Message(InvocationResult result, string output) =>
        result.Messages(output).Single().ToObject<PullMessage>()!;

    public ValueTask DisposeAsync() => Services.DisposeAsync();
}

using Azure.Data.Tables;
using Hub.Functions.State;
using Hub.Testing;
using Hub.Testing.Connectors;
using Microsoft.Extensions.Logging;
using Newtonsoft.Json.Linq;

namespace Hub.LocalHost.Tests;

/// <summary>
/// A local host on a free port running the real handler process (the build output of Hub.Functions, which is an
/// app root), with the scripted test connector loaded as a plugin, a private table prefix and emptied queues.
/// Logs go to a file named in every timeout message.
/// </summary>
public sealed class E2E : IAsyncDisposable
{
    private readonly ILoggerFactory _loggers;

    private E2E(LocalHostRunner host, ILoggerFactory loggers, string prefix, string logPath, string? tenant = null)
    {
        Tenant = tenant ?? Tenant;
        Tables = new HubTables(AzuriteFixture.Tables(), prefix);
        Host = host;
        _loggers = loggers;
        LogPath = logPath;
        Http = new HttpClient { BaseAddress = host.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        Http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", AdminToken);
        var tables = new HubTables(AzuriteFixture.Tables(), prefix);
        Connections = new ConnectionStore(tables);
        Runs = new RunStore(tables, TimeProvider.System);
        Cursors = new CursorStore(tables);
    }

    public LocalHostRunner Host { get; }
    public HttpClient Http { get; }
    public ConnectionStore Connections { get; }
    public RunStore Runs { get; }
    public CursorStore Cursors { get; }
    public string LogPath { get; }
    public string Tenant { get; } = "tenant-" + Guid.NewGuid().ToString("N")[..8];

    /// <summary>The handler's tables (the same private prefix), for assertions on pipeline state.</summary>
    public HubTables Tables { get; }

    /// <summary>The admin token every E2E host runs with (<see cref="Http"/> sends it).</summary>
    public const string AdminToken = "e2e-admin-token-0123456789abcdef";

    public static string NewTenant() => "tenant-" + Guid.NewGuid().ToString("N")[..8];

    /// <summary>The Hub.Functions build output of the same configuration as this test assembly.</summary>
    public static string AppRoot
    {
        get
        {
            var repo = AzuriteLauncher.FindRepositoryRoot() ?? throw new InvalidOperationException("repository root not found");
            var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name; // bin/<Configuration>/net10.0/
            return Path.Combine(repo, "functions", "Hub.Functions", "bin", configuration, "net10.0");
        }
    }

    public static async Task<E2E> StartAsync(int maxDeliveryCount = 10, Dictionary<string, string>? settings = null, string? appRoot = null, string? tenant = null)
    {
        var prefix = AzuriteFixture.NewTablePrefix();
        var all = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
        {
            ["HubStorage"] = AzuriteFixture.ConnectionString,
            ["AzureWebJobsStorage"] = AzuriteFixture.ConnectionString,
            ["ServiceBusConnection"] = AzuriteFixture.ConnectionString,
            ["Hub__TablePrefix"] = prefix,
            ["Hub__PluginAssemblies"] = Path.Combine(AppContext.BaseDirectory, "Hub.Testing.Connectors.dll"),
            ["Hub__Sync__MaxDeliveryCount"] = maxDeliveryCount.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Hub__DataProtection__KeysPath"] = Path.Combine(Path.GetTempPath(), "hub-e2e-keys"),
            ["ScheduleSyncCron"] = "*/1 * * * * *",
            ["ReconcileCron"] = "0 0 0 1 1 *",
            ["ResegmentCron"] = "0 0 0 1 1 *",
            ["Hub__AdminToken"] = AdminToken,
        };
        foreach (var (k, v) in settings ?? [])
        {
            all[k] = v;
        }

        // Queue names are shared: start from empty queues (tests in this collection run one at a time).
        var queues = new QueueClientFactory(AppSettings.Load(AppRoot, all), base64: true);
        foreach (var name in new[] { "pull", "pull-deadletter", "resolve", "resolve-deadletter", "push", "push-deadletter", "ingest", "ingest-poison" })
        {
            await (await queues.GetAsync(name, "ServiceBusConnection", default)).ClearMessagesAsync();
        }

        var logPath = Path.Combine(Path.GetTempPath(), $"hub-e2e-{prefix}.log");
        var loggers = LoggerFactory.Create(b => b.AddProvider(new FileLoggerProvider(logPath)).SetMinimumLevel(LogLevel.Information));
        var host = await LocalHostRunner.StartAsync(
            new LocalHostOptions { AppRoot = appRoot ?? AppRoot, HttpPort = 0, Settings = all, ServiceBusMaxDeliveryCount = maxDeliveryCount },
            loggers,
            CancellationToken.None);
        return new E2E(host, loggers, prefix, logPath, tenant);
    }

    public async Task<ConnectionEntity> AddConnectionAsync(object settings, string id = "c1")
    {
        var connection = new ConnectionEntity
        {
            PartitionKey = Tenant,
            RowKey = id,
            ConnectorId = ScriptedStoreConnector.Id,
            SettingsJson = JObject.FromObject(settings).ToString(),
            CreatedAt = DateTimeOffset.UtcNow,
            BackfillStart = DateTimeOffset.UtcNow.AddDays(-1),
        };
        await Connections.UpsertAsync(connection, default);
        return connection;
    }

    /// <summary>GET /api/runs through the local host's public port (forwarded to the handler).</summary>
    /// <summary>
    /// GET /api/runs through the local host's public port. While the handler restarts the API may briefly fail, as
    /// it would in Azure; a probe then sees "no runs yet" and polls again.
    /// </summary>
    public async Task<JObject> RunsAsync()
    {
        using var response = await Http.GetAsync($"api/runs?tenant={Tenant}&top=50");
        return response.IsSuccessStatusCode
            ? JObject.Parse(await response.Content.ReadAsStringAsync())
            : new JObject { ["runs"] = new JArray(), ["scheduler"] = new JArray(), ["status"] = (int)response.StatusCode };
    }

    public Task<T> EventuallyAsync<T>(Func<Task<T>> probe, Func<T, bool> done, string what, int seconds = 60) =>
        Eventually.ReturnsAsync(probe, done, TimeSpan.FromSeconds(seconds), $"{what} (log: {LogPath})");

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Host.DisposeAsync();
        _loggers.Dispose();
    }

    private sealed class FileLoggerProvider(string path) : ILoggerProvider
    {
        private readonly object _gate = new();

        public ILogger CreateLogger(string categoryName) => new FileLogger(this, categoryName);

        public void Dispose()
        {
        }

        private void Write(string line)
        {
            lock (_gate)
            {
                File.AppendAllText(path, line + Environment.NewLine);
            }
        }

        private sealed class FileLogger(FileLoggerProvider provider, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                provider.Write($"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel} {category}: {formatter(state, exception)} {exception}");
        }
    }
}

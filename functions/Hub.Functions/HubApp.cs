using System.Net;
using System.Reflection;
using Azure.Data.Tables;
using Azure.Security.KeyVault.Secrets;
using Hub.Connectors;
using Hub.Functions.Functions;
using Hub.Functions.Hosting;
using Hub.Functions.State;
using Hub.Functions.Sync;
using Microsoft.AspNetCore.DataProtection;

namespace Hub.Functions;

/// <summary>
/// Builds the custom handler: Kestrel on 127.0.0.1:<c>FUNCTIONS_CUSTOMHANDLER_PORT</c> (the host reaches the handler
/// on loopback only), the state stores, the connectors and one endpoint per function.
/// </summary>
public static class HubApp
{
    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateSlimBuilder(args);
        var port = Environment.GetEnvironmentVariable("FUNCTIONS_CUSTOMHANDLER_PORT")
            ?? Environment.GetEnvironmentVariable("FUNCTIONS_HTTPWORKER_PORT");
        if (port is not null)
        {
            if (!int.TryParse(port, out var portNumber) || portNumber is < 1 or > 65535)
            {
                throw new InvalidOperationException($"FUNCTIONS_CUSTOMHANDLER_PORT '{port}' is not a port number.");
            }

            builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, portNumber));
        }

        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        });
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        // Five lines per platform call (HttpClient's start/send/headers/end and Polly's attempt) cost more CPU than
        // the call in a backfill, and every line is billed once the host ships it to Application Insights. Retries,
        // throttling and failures are logged at Warning and above, so they stay.
        builder.Logging.AddFilter("System.Net.Http.HttpClient", LogLevel.Warning);
        builder.Logging.AddFilter("Polly", LogLevel.Warning);
        AddHubServices(builder.Services, builder.Configuration);
        builder.Services.AddHostedService<ParentProcessWatch>();
        builder.Services.AddHostedService<DemoConnections>();
        var app = builder.Build();
        app.MapCustomHandler();
        app.MapRunsApi();
        app.MapReceiveWebhook();
        app.MapPipelineApi();
        app.MapSetupApi();
        app.MapMappingsApi();
        app.MapOAuthApi();
        app.MapGet("/api/health", (IngestQueue ingest, IngestBatcher batcher, WebhookIntake intake) => Results.Text(new Newtonsoft.Json.Linq.JObject
        {
            ["status"] = "ok",
            ["tableOperations"] = TableOperations.Count,
            ["tableOperationsByKind"] = Newtonsoft.Json.Linq.JObject.FromObject(TableOperations.ByKindSnapshot()),
            ["rowsWrittenInTransactions"] = Newtonsoft.Json.Linq.JObject.FromObject(TableOperations.RowsInBatchesSnapshot()),
            ["webhooks"] = Webhooks(intake, ingest, batcher),
            ["resolve"] = ResolveCounters.Snapshot(),
            ["workingSetBytes"] = Environment.WorkingSet,
            ["peakWorkingSetBytes"] = System.Diagnostics.Process.GetCurrentProcess().PeakWorkingSet64,
            ["gcPauseMs"] = GC.GetTotalPauseDuration().TotalMilliseconds,
            ["gcCollections"] = new Newtonsoft.Json.Linq.JArray(GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2)),
        }.ToString(Newtonsoft.Json.Formatting.None), "application/json"));
        return app;
    }

    private static Newtonsoft.Json.Linq.JObject Webhooks(WebhookIntake intake, IngestQueue ingest, IngestBatcher batcher)
    {
        var answers = intake.Answers.Snapshot();
        return new Newtonsoft.Json.Linq.JObject
        {
            ["groups"] = intake.Counts.Flushes,
            ["events"] = intake.Counts.Items,
            ["ingestMessages"] = ingest.MessagesSent,
            ["ingestUnsent"] = batcher.Unsent,
            ["answered"] = answers.Count,
            ["answerMs"] = new Newtonsoft.Json.Linq.JObject { ["last"] = Math.Min(answers.Count, LatencyWindow.Size), ["p50"] = Math.Round(answers.P50, 2), ["p99"] = Math.Round(answers.P99, 2), ["max"] = Math.Round(answers.Max, 2) },
        };
    }

    public static void AddHubServices(IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton(TimeProvider.System);
        services.AddOptions<SyncOptions>().Bind(configuration.GetSection("Hub:Sync"));

        // Azure: identity-based (HubStorage__tableServiceUri + the managed identity). Locally: a connection string.
        var tableServiceUri = configuration["HubStorage:tableServiceUri"];
        if (tableServiceUri is not null)
        {
            services.AddSingleton(_ => new TableServiceClient(new Uri(tableServiceUri), AzureCredentials.Create(configuration), TableOperations.Options()));
        }
        else
        {
            var storage = configuration["HubStorage"] ?? configuration["AzureWebJobsStorage"]
                ?? throw new InvalidOperationException("Set HubStorage (a connection string), HubStorage__tableServiceUri (identity) or AzureWebJobsStorage.");
            services.AddSingleton(_ => new TableServiceClient(storage, TableOperations.Options()));
        }

        var prefix = configuration["Hub:TablePrefix"] ?? "";
        if (prefix.Length > 20 || !prefix.All(char.IsAsciiLetterOrDigit) || (prefix.Length > 0 && !char.IsAsciiLetter(prefix[0])))
        {
            throw new InvalidOperationException("Hub:TablePrefix must be up to 20 letters or digits, starting with a letter.");
        }

        services.AddSingleton(sp => new HubTables(sp.GetRequiredService<TableServiceClient>(), prefix));
        services.AddSingleton<ConnectionStore>();
        services.AddSingleton<CursorStore>();
        services.AddSingleton<RunStore>();
        // Secrets: Key Vault with the managed identity in Azure, Data Protection locally. Configuration only.
        var keyVaultUri = configuration["Hub:Secrets:KeyVaultUri"];
        if (keyVaultUri is not null)
        {
            services.AddSingleton(_ => new SecretClient(new Uri(keyVaultUri), AzureCredentials.Create(configuration)));
            services.AddSingleton<ISecretStore, KeyVaultSecretStore>();
        }
        else
        {
            var keysPath = configuration["Hub:DataProtection:KeysPath"]
                ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.Create), "Hub", "keys");
            services.AddDataProtection().SetApplicationName("Hub").PersistKeysToFileSystem(new DirectoryInfo(keysPath));
            services.AddSingleton<ISecretStore, DataProtectionSecretStore>();
        }

        services.AddSingleton<RecordStore>();
        services.AddSingleton<ProfileGraph>();
        services.AddSingleton<PushStore>();
        services.AddSingleton<InboxStore>();
        services.AddSingleton<ComplianceLog>();
        services.AddSingleton<MappingStore>();
        services.AddSingleton<ResolveGate>();
        services.AddSingleton<ResolveBacklog>();
        services.AddSingleton<MappedRecordCache>();
        services.AddMemoryCache();
        services.AddSingleton<BackfillHold>();
        services.AddSingleton<ProfileSweep>();
        services.AddSingleton<RulesProvider>();
        services.AddSingleton<ConnectionContexts>();
        services.AddSingleton<PushPlanner>();
        services.AddSingleton<IngestQueue>();
        services.AddSingleton<IngestBatcher>();
        services.AddSingleton<WebhookIntake>();
        services.AddSingleton<HubAccess>();

        services.AddSingleton<ScheduleSync>();
        services.AddKeyedSingleton<IFunction>(ScheduleSync.Name, (sp, _) => sp.GetRequiredService<ScheduleSync>());
        services.AddKeyedSingleton<IFunction, PullStream>(PullStream.Name);
        services.AddKeyedSingleton<IFunction, ResolveProfiles>(ResolveProfiles.Name);
        services.AddKeyedSingleton<IFunction, PushCrm>(PushCrm.Name);
        services.AddKeyedSingleton<IFunction, IngestEvent>(IngestEvent.Name);
        services.AddKeyedSingleton<IFunction, Reconcile>(Reconcile.Name);
        services.AddKeyedSingleton<IFunction, ReplayFailures>(ReplayFailures.Name);
        services.AddKeyedSingleton<IFunction, SyncNow>(SyncNow.Name);
        services.AddKeyedSingleton<IFunction, Resegment>(Resegment.Name);
        services.AddKeyedSingleton<IFunction, ResegmentDaily>(ResegmentDaily.Name);

        services.AddHubConnectors(configuration);
        LoadPlugins(services, configuration);
    }

    /// <summary>Loads connector assemblies named in <c>Hub:PluginAssemblies</c> (paths separated by ';').</summary>
    private static void LoadPlugins(IServiceCollection services, IConfiguration configuration)
    {
        var list = configuration["Hub:PluginAssemblies"];
        if (string.IsNullOrWhiteSpace(list))
        {
            return;
        }

        foreach (var path in list.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!File.Exists(path))
            {
                throw new InvalidOperationException($"Hub:PluginAssemblies names '{path}', which does not exist.");
            }

            var assembly = Assembly.LoadFrom(path);
            var plugins = assembly.GetTypes().Where(t => typeof(IHubPlugin).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false }).ToList();
            if (plugins.Count == 0)
            {
                throw new InvalidOperationException($"Plugin assembly '{path}' has no IHubPlugin implementation.");
            }

            foreach (var type in plugins)
            {
                ((IHubPlugin)Activator.CreateInstance(type)!).Register(services, configuration);
            }
        }
    }
}

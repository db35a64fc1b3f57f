using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Hub.Connectors;
using Hub.LocalHost;
using Hub.Sandbox.Shopify;
using Hub.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Newtonsoft.Json.Linq;

// The end-to-end harness of issue 7: a Shopify backfill through the whole pipeline (local host, handler process,
// Azurite, Shopify sandbox with its real cost bucket, Zoho sandbox) into Zoho, plus webhook latency under load.
//   dotnet run -c Release --project tests/Hub.Pipeline.Benchmark -- --orders 100000
// Prints a Markdown table; the README ("The pipeline") holds the figures of the last runs. --azurite-adds N times
// Azurite alone adding N rows, and nothing else.
var orders = Arg("--orders", 100_000);
var people = Arg("--people", Math.Max(300, orders / 4));
var rate = Arg("--webhook-rate", 200);
var seconds = Arg("--webhook-seconds", 10);
var warmup = Arg("--webhook-warmup", 3);

using var azuriteCts = new CancellationTokenSource(TimeSpan.FromMinutes(6));
await using var azurite = await AzuriteLauncher.EnsureAsync(null, _ => { }, azuriteCts.Token);

// --azurite-adds N: only Azurite's own pace, N rows of about 600 bytes added in transactions of 100 to a new table,
// with nothing else running: what the storage emulator alone costs a backfill on this machine.
if (Arg("--azurite-adds", 0) is > 0 and var adds)
{
    var table = new Azure.Data.Tables.TableServiceClient("UseDevelopmentStorage=true").GetTableClient("adds" + Guid.NewGuid().ToString("N")[..8]);
    await table.CreateAsync();
    var payload = new string('x', 600);
    var addClock = Stopwatch.StartNew();
    for (var b = 0; b < (adds + 99) / 100; b++)
    {
        await table.SubmitTransactionAsync(Enumerable.Range(0, Math.Min(100, adds - b * 100)).Select(i =>
            new Azure.Data.Tables.TableTransactionAction(Azure.Data.Tables.TableTransactionActionType.Add, new Azure.Data.Tables.TableEntity("p", $"{b:D7}-{i:D3}") { ["Data"] = payload })));
    }

    Console.WriteLine($"Azurite alone: {adds:N0} rows added in transactions of 100 in {addClock.Elapsed.TotalSeconds:F1} s ({adds / addClock.Elapsed.TotalSeconds:N0} rows/s)");
    await table.DeleteAsync();
    return;
}

await using var scenario = await PipelineScenario.StartAsync(people: people, shopifyOrders: orders, youzanOrders: 0, days: 25, throttled: true);
var settings = scenario.Settings;

// 1. The platforms' own bound: the same reads through the Shopify connector alone, the same writes through the
//    Zoho connector alone (into a second Zoho org), timed separately. The pipeline cannot beat the slower of the two.
var services = new ServiceCollection().AddLogging(b => b.SetMinimumLevel(LogLevel.Warning));
var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings.Select(p => new KeyValuePair<string, string?>(p.Key, p.Value))).Build();
services.AddSingleton<IConfiguration>(configuration);
services.AddSingleton(TimeProvider.System);
services.AddHubConnectors(configuration);
await using var provider = services.BuildServiceProvider();
var shopify = provider.GetRequiredKeyedService<IStoreConnector>("shopify");
var start = DateTimeOffset.UtcNow.AddDays(-(scenario.Days + 32));
var end = DateTimeOffset.UtcNow;
var shopContext = new ConnectionContext("bench", "bound", "shopify", new JObject { ["shop"] = scenario.Shop.Domain, ["secrets"] = new JObject { ["accessToken"] = scenario.Shop.AccessToken } });
var pullClock = Stopwatch.StartNew();
var pulled = 0;
foreach (var stream in new[] { "orders", "customers" })
{
    string? cursor = null;
    do
    {
        var page = await shopify.PullAsync(new PullRequest(shopContext, stream, cursor, start, end), default);
        pulled += page.Records.Count;
        cursor = page.HasMore ? page.NextCursor : null;
    }
    while (cursor is not null);
}

var pullBound = pullClock.Elapsed;
var expected = scenario.ExpectedOrderCounts(youzan: false); // the harness connects the Shopify store only
await using var zohoBound = new Hub.Sandbox.ZohoCrm.ZohoCrmSandbox();
await zohoBound.StartAsync();
var zohoTokens = zohoBound.IssueTokens(zohoBound.UserDataCentre);
var zohoSettings = new Dictionary<string, string?>(settings.Select(p => new KeyValuePair<string, string?>(p.Key, p.Value)))
{
    ["Hub:Connectors:ZohoCrm:AccountsServers:21"] = zohoBound.AccountsServer(zohoBound.UserDataCentre),
    ["Hub:Connectors:ZohoCrm:ApiDomainSuffixes:21"] = zohoBound.BaseUrl + "/api/",
    ["Hub:Connectors:ZohoCrm:ClientId"] = zohoBound.ClientId,
    ["Hub:Connectors:ZohoCrm:ClientSecret"] = zohoBound.ClientSecret,
};
var zohoServices = new ServiceCollection().AddLogging(b => b.SetMinimumLevel(LogLevel.Warning));
var zohoConfiguration = new ConfigurationBuilder().AddInMemoryCollection(zohoSettings).Build();
zohoServices.AddSingleton<IConfiguration>(zohoConfiguration);
zohoServices.AddSingleton(TimeProvider.System);
zohoServices.AddHubConnectors(zohoConfiguration);
await using var zohoProvider = zohoServices.BuildServiceProvider();
var zoho = zohoProvider.GetRequiredKeyedService<ICrmConnector>("zoho-crm");
var zohoContext = new ConnectionContext("bench", "bound-zoho", "zoho-crm", new JObject
{
    ["accountsServer"] = zohoBound.AccountsServer(zohoBound.UserDataCentre),
    ["apiDomain"] = zohoBound.ApiDomain(zohoBound.UserDataCentre),
    ["secrets"] = new JObject { ["accessToken"] = zohoTokens.Access, ["refreshToken"] = zohoTokens.Refresh, ["expiresAt"] = DateTimeOffset.UtcNow.AddMinutes(55).ToString("O", CultureInfo.InvariantCulture) },
});
var records = expected.Keys.Select(i => new CrmRecord($"p-{i}", $"bound.{i}@shoppers.example", new JObject { ["Last_Name"] = $"Bound {i}", ["Hub_Profile_Id"] = $"p-{i}", ["Order_Count"] = 1 }, [])).ToList();
var pushClock = Stopwatch.StartNew();
await Parallel.ForEachAsync(records.Chunk(zoho.Limits.MaxBatchSize), new ParallelOptions { MaxDegreeOfParallelism = zoho.Limits.MaxConcurrency }, async (chunk, ct) =>
    await zoho.UpsertAsync(zohoContext, new CrmUpsertBatch("Contacts", "Email", chunk, []), ct));
var pushBound = pushClock.Elapsed;
var bound = pullBound > pushBound ? pullBound : pushBound;

// 2. The pipeline: local host + handler process + Azurite, the tenant connected to the Shopify and Zoho sandboxes.
var tenant = "bench-" + Guid.NewGuid().ToString("N")[..6];
var repo = AzuriteLauncher.FindRepositoryRoot()!;
// The Release handler (self-contained linux-x64, as deployed) when it has been built, else the Debug one.
var appRoot = args.SkipWhile(a => a != "--app-root").Skip(1).FirstOrDefault() ?? new[] { Path.Combine("Release", "net10.0", "linux-x64"), Path.Combine("Release", "net10.0"), Path.Combine("Debug", "net10.0") }
    .Select(p => Path.Combine(repo, "functions", "Hub.Functions", "bin", p))
    .First(p => File.Exists(Path.Combine(p, "host.json")));
Console.WriteLine($"handler: {appRoot}");

var hostSettings = settings.ToDictionary(p => p.Key.Replace(":", "__", StringComparison.Ordinal), p => p.Value, StringComparer.OrdinalIgnoreCase);
hostSettings["HubStorage"] = hostSettings["AzureWebJobsStorage"] = hostSettings["ServiceBusConnection"] = "UseDevelopmentStorage=true";
hostSettings["Hub__TablePrefix"] = "b" + Guid.NewGuid().ToString("N")[..10];
hostSettings["Hub__DataProtection__KeysPath"] = Path.Combine(Path.GetTempPath(), "hub-bench-keys");
hostSettings["ScheduleSyncCron"] = "*/5 * * * * *";
hostSettings["ReconcileCron"] = "0 0 0 1 1 *";
hostSettings["ResegmentCron"] = "0 0 0 1 1 *";
hostSettings["Hub__Sync__DefaultLookback"] = $"{scenario.Days + 32}.00:00:00";
hostSettings["Hub__Demo__Tenant"] = tenant;

// --set Key=Value (repeatable): a handler setting for this run, e.g. --set Hub:Sync:ResolveBudget=00:00:30.
foreach (var value in args.Zip(args.Skip(1)).Where(p => p.First == "--set").Select(p => p.Second))
{
    var split = value.IndexOf('=', StringComparison.Ordinal);
    if (split <= 0)
    {
        throw new ArgumentException($"--set needs Key=Value, got '{value}'");
    }

    hostSettings[value[..split].Replace(":", "__", StringComparison.Ordinal)] = value[(split + 1)..];
}

hostSettings["Hub__Demo__Shopify__Shop"] = scenario.Shop.Domain;
hostSettings["Hub__Demo__Shopify__AccessToken"] = scenario.Shop.AccessToken;
hostSettings["Hub__Demo__ZohoCrm__Json"] = new JObject
{
    ["accountsServer"] = scenario.Zoho.AccountsServer(scenario.Zoho.UserDataCentre),
    ["apiDomain"] = scenario.Zoho.ApiDomain(scenario.Zoho.UserDataCentre),
    ["accessToken"] = scenario.ZohoTokens.Access,
    ["refreshToken"] = scenario.ZohoTokens.Refresh,
}.ToString(Newtonsoft.Json.Formatting.None);
var queues = new QueueClientFactory(AppSettings.Load(appRoot, hostSettings), base64: true);
foreach (var name in new[] { "pull", "resolve", "push", "ingest" })
{
    await (await queues.GetAsync(name, "ServiceBusConnection", default)).ClearMessagesAsync();
}

var pipelineClock = Stopwatch.StartNew();
// The local host runs as its own process, as the Functions host does in Azure: the sandboxes and the load below live in
// this process, and their garbage collections must not pause the host's front end (--host-in-process: the old way).
await using var host = args.Contains("--host-in-process")
    ? (IHostAddress)new InProcessHost(await LocalHostRunner.StartAsync(new LocalHostOptions { AppRoot = appRoot, HttpPort = 0, Settings = hostSettings },
        LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Warning).AddFilter("Hub.LocalHost.Handler", LogLevel.Information).AddFilter("Hub.LocalHost", LogLevel.Information).AddSimpleConsole(o => o.SingleLine = true)), default))
    : await HostProcess.StartAsync(appRoot, hostSettings);
using var http = new HttpClient { BaseAddress = host.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
while (scenario.Zoho.Contacts.Count < expected.Count)
{
    if (pipelineClock.Elapsed > TimeSpan.FromHours(3))
    {
        throw new TimeoutException($"{scenario.Zoho.Contacts.Count} of {expected.Count} contacts after 3 h");
    }

    await Task.Delay(500);
    if (pipelineClock.Elapsed.TotalSeconds % 30 < 0.5)
    {
        try
        {
            var h = JObject.Parse(await http.GetStringAsync("api/health"));
            Console.WriteLine($"{pipelineClock.Elapsed.TotalSeconds:F0} s: {scenario.Zoho.Contacts.Count}/{expected.Count} contacts, {h.Value<long>("tableOperations"):N0} table ops, {h.Value<long>("workingSetBytes") / 1048576} MiB, resolve {h["resolve"]!.ToString(Newtonsoft.Json.Formatting.None)}");
        }
        catch (HttpRequestException)
        {
        }
    }
}

var backfill = pipelineClock.Elapsed;
await Task.Delay(TimeSpan.FromSeconds(5)); // let the last updates land
var upserts = scenario.Zoho.Requests.Count(r => r.Path.EndsWith("/upsert", StringComparison.Ordinal));
var health = JObject.Parse(await http.GetStringAsync("api/health"));
var tableOps = health.Value<long>("tableOperations");
Console.WriteLine($"resolve: {health["resolve"]}");
Console.WriteLine($"table operations by kind: {health["tableOperationsByKind"]?.ToString(Newtonsoft.Json.Formatting.None)}");
Console.WriteLine($"rows written inside transactions: {health["rowsWrittenInTransactions"]?.ToString(Newtonsoft.Json.Formatting.None)}");

// 3. Webhook acknowledgement at a steady rate (signed orders/updated deliveries of unchanged orders, new event ids).
//    The first --webhook-warmup seconds at the same rate are timed apart: the handler's first webhooks and ingests
//    run code it has not compiled yet (a process's warm-up, once per instance), the rest is the steady state.
var target = new Uri(host.BaseAddress, $"api/webhooks/{tenant}/demo-shopify");
var bodies = scenario.Shop.Orders.Take(500).Select(o => Encoding.UTF8.GetBytes(ShopifySandbox.RestOrder(scenario.Shop, o).ToString(Newtonsoft.Json.Formatting.None))).ToList();
using var hooks = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
var acks = new System.Collections.Concurrent.ConcurrentBag<double>();
var warmAcks = new System.Collections.Concurrent.ConcurrentBag<double>();
var ackTimes = new System.Collections.Concurrent.ConcurrentBag<(double At, double Ms)>();
var failures = 0;
var total = rate * seconds;
var warmTotal = rate * warmup;
JObject handlerGcBefore = null!;
JObject localHostBefore = null!;
(TimeSpan Pause, int Gen2) hostGcBefore = default;
var tick = Stopwatch.StartNew();
var sends = new List<Task>(total + warmTotal);
for (var i = 0; i < total + warmTotal; i++)
{
    if (i == warmTotal)
    {
        await Task.WhenAll(sends); // the warm-up's own answers are in before the measured part starts
        sends.Clear();
        handlerGcBefore = JObject.Parse(await http.GetStringAsync("api/health"));
        localHostBefore = JObject.Parse(await http.GetStringAsync("_local/status"));
        hostGcBefore = (GC.GetTotalPauseDuration(), GC.CollectionCount(2));
        tick.Restart();
    }

    var measured = i >= warmTotal;
    var due = TimeSpan.FromSeconds((double)(measured ? i - warmTotal : i) / rate);
    if (due > tick.Elapsed)
    {
        await Task.Delay(due - tick.Elapsed);
    }

    var body = bodies[i % bodies.Count];
    sends.Add(Task.Run(async () =>
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, target) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        request.Headers.Add("X-Shopify-Topic", "orders/updated");
        request.Headers.Add("X-Shopify-Hmac-Sha256", Convert.ToBase64String(HMACSHA256.HashData(Encoding.UTF8.GetBytes(scenario.Shopify.ClientSecret), body)));
        request.Headers.Add("X-Shopify-Shop-Domain", scenario.Shop.Domain);
        request.Headers.Add("X-Shopify-Event-Id", Guid.NewGuid().ToString());
        var sw = Stopwatch.StartNew();
        using var response = await hooks.SendAsync(request);
        (measured ? acks : warmAcks).Add(sw.Elapsed.TotalMilliseconds);
        if (measured)
        {
            ackTimes.Add((due.TotalMilliseconds, sw.Elapsed.TotalMilliseconds));
        }
        if (!response.IsSuccessStatusCode)
        {
            Interlocked.Increment(ref failures);
        }
    }));
}

await Task.WhenAll(sends);
var sorted = acks.Order().ToList();
var warmSorted = warmAcks.Order().ToList();
if (Environment.GetEnvironmentVariable("HUB_BENCH_ACKS") is { } ackFile)
{
    File.WriteAllLines(ackFile, ackTimes.OrderBy(a => a.At).Select(a => $"{a.At:F0} {a.Ms:F1}"));
}
var afterAcks = JObject.Parse(await http.GetStringAsync("api/health"));
var localHostAfter = JObject.Parse(await http.GetStringAsync("_local/status"));
var localHostGc = (Pause: localHostAfter.Value<double>("gcPauseMs") - localHostBefore.Value<double>("gcPauseMs"), Gen2: localHostAfter["gcCollections"]![2]!.Value<int>() - localHostBefore["gcCollections"]![2]!.Value<int>());
var grouped = afterAcks["webhooks"]!;
var opsDuringAcks = ((JObject)afterAcks["tableOperationsByKind"]!).Properties()
    .Select(p => (p.Name, Count: p.Value.Value<long>() - (handlerGcBefore["tableOperationsByKind"]?[p.Name]?.Value<long>() ?? 0))).Where(p => p.Count > 0).OrderByDescending(p => p.Count).ToList();
Console.WriteLine($"table operations while the webhooks were sent ({opsDuringAcks.Sum(p => p.Count) / (double)total:F2} per webhook): {string.Join(", ", opsDuringAcks.Select(p => $"{p.Name} {p.Count:N0}"))}");
var handlerGc = (Pause: afterAcks.Value<double>("gcPauseMs") - handlerGcBefore.Value<double>("gcPauseMs"), Gen2: afterAcks["gcCollections"]![2]!.Value<int>() - handlerGcBefore["gcCollections"]![2]!.Value<int>());
var hostGc = (Pause: (GC.GetTotalPauseDuration() - hostGcBefore.Pause).TotalMilliseconds, Gen2: GC.CollectionCount(2) - hostGcBefore.Gen2);
var slow = sorted.Count(a => a > 50);
double Pct(List<double> list, double p) => list[Math.Clamp((int)Math.Ceiling(p * list.Count) - 1, 0, list.Count - 1)];

// 4. Webhook to CRM: refund one guest order at a time and time until its buyer's contact shows it.
var latencies = new List<double>();
foreach (var order in scenario.Shop.Orders.Where(o => o.CustomerId is null && o.FinancialStatus == "paid" && o.CancelledAt is null).Take(20))
{
    var person = PipelineScenario.IndexOfEmail(order.Email!);
    var before = scenario.Zoho.Contacts.Single(c => PipelineScenario.PersonOf(c) == person).Value<int>("Order_Count");
    order.FinancialStatus = "refunded";
    order.UpdatedAt = DateTimeOffset.UtcNow;
    var sw = Stopwatch.StartNew();
    await scenario.Shopify.DeliverWebhookAsync(target, scenario.Shop.Domain, "orders/updated", ShopifySandbox.RestOrder(scenario.Shop, order));
    while (scenario.Zoho.Contacts.Single(c => PipelineScenario.PersonOf(c) == person).Value<int>("Order_Count") != before - 1 && sw.Elapsed < TimeSpan.FromMinutes(1))
    {
        await Task.Delay(20);
    }

    latencies.Add(sw.Elapsed.TotalMilliseconds);
}

latencies.Sort();
var peak = JObject.Parse(await http.GetStringAsync("api/health")).Value<long>("peakWorkingSetBytes");
Console.WriteLine($"""
    | Figure | Value |
    |---|---|
    | Orders backfilled (Shopify sandbox, real cost bucket) | {orders:N0} orders, {expected.Count:N0} people, {pulled:N0} records |
    | Platform bound: connector-only Shopify read / Zoho write | {pullBound.TotalSeconds:F1} s / {pushBound.TotalSeconds:F1} s (bound {bound.TotalSeconds:F1} s) |
    | Pipeline wall time to the last contact | {backfill.TotalSeconds:F1} s ({backfill / bound:F2} x the bound) |
    | Zoho upsert calls per 100 changed profiles | {upserts * 100.0 / expected.Count:F2} ({upserts} calls, {expected.Count} contacts) |
    | Table Storage operations per order | {tableOps / (double)orders:F1} ({tableOps:N0} requests, batches count once) |
    | Webhook acknowledgement at {rate}/s for {seconds} s, after {warmup} s of warm-up at that rate | p50 {Pct(sorted, 0.5):F1} ms, p99 {Pct(sorted, 0.99):F1} ms, {failures} non-2xx of {total + warmTotal} |
    | The warm-up's own acknowledgements (the handler's first webhooks) | {(warmTotal == 0 ? "none" : $"p50 {Pct(warmSorted, 0.5):F1} ms, p99 {Pct(warmSorted, 0.99):F1} ms, max {warmSorted[^1]:F0} ms")} |
    | GC pauses while those webhooks were sent: handler / local host / this process (sandboxes, load{(args.Contains("--host-in-process") ? ", local host" : "")}) | {handlerGc.Pause:F0} ms ({handlerGc.Gen2} gen2) / {localHostGc.Pause:F0} ms ({localHostGc.Gen2} gen2) / {hostGc.Pause:F0} ms ({hostGc.Gen2} gen2); {slow} acknowledgements over 50 ms |
    | Inbox transactions and ingest messages for those webhooks (grouped while one is under way) | {grouped.Value<long>("groups") - handlerGcBefore["webhooks"]!.Value<long>("groups"):N0} groups of {grouped.Value<long>("events") - handlerGcBefore["webhooks"]!.Value<long>("events"):N0} events, {grouped.Value<long>("ingestMessages") - handlerGcBefore["webhooks"]!.Value<long>("ingestMessages"):N0} ingest messages |
    | The handler's own answer time (body read to answer), last {grouped["answerMs"]!.Value<long>("last"):N0} webhooks | p50 {grouped["answerMs"]!.Value<double>("p50"):F1} ms, p99 {grouped["answerMs"]!.Value<double>("p99"):F1} ms, max {grouped["answerMs"]!.Value<double>("max"):F0} ms |
    | Webhook to CRM (20 refunds, one at a time) | p50 {Pct(latencies, 0.5):F0} ms, p95 {Pct(latencies, 0.95):F0} ms |
    | Handler peak working set | {peak / 1048576.0:F0} MiB |
    """);

int Arg(string name, int fallback) => args.SkipWhile(a => a != name).Skip(1).Select(v => int.Parse(v, CultureInfo.InvariantCulture)).DefaultIfEmpty(fallback).First();

internal interface IHostAddress : IAsyncDisposable
{
    Uri BaseAddress { get; }
}

internal sealed class InProcessHost(LocalHostRunner runner) : IHostAddress
{
    public Uri BaseAddress => runner.BaseAddress;

    public ValueTask DisposeAsync() => runner.DisposeAsync();
}

/// <summary>Hub.LocalHost started as a process of its own (no Azurite, no sandbox of its own), its output echoed here.</summary>
internal sealed class HostProcess : IHostAddress
{
    private readonly Process _process;

    private HostProcess(Process process, Uri baseAddress)
    {
        _process = process;
        BaseAddress = baseAddress;
    }

    public Uri BaseAddress { get; }

    public static async Task<HostProcess> StartAsync(string appRoot, IReadOnlyDictionary<string, string> settings)
    {
        var info = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, OperatingSystem.IsWindows() ? "Hub.LocalHost.exe" : "Hub.LocalHost"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "--app-root", appRoot, "--port", "0", "--no-azurite", "--no-sandbox" })
        {
            info.ArgumentList.Add(arg);
        }

        foreach (var (key, value) in settings)
        {
            info.ArgumentList.Add("--set");
            info.ArgumentList.Add($"{key}={value}");
        }

        var ready = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        void Echo(string? line)
        {
            if (line is null)
            {
                return;
            }

            const string marker = "Setup page: ";
            if (line.IndexOf(marker, StringComparison.Ordinal) is >= 0 and var at)
            {
                var url = line[(at + marker.Length)..].Split(' ', 2)[0];
                ready.TrySetResult(new Uri(url[..(url.LastIndexOf("api/setup", StringComparison.Ordinal))]));
            }

            // The handler's information and the host's own lines; the host's per-invocation lines only when they warn.
            if (!line.Contains("info: Hub.LocalHost[0] Execut", StringComparison.Ordinal))
            {
                Console.WriteLine(line);
            }
        }

        process.OutputDataReceived += (_, e) => Echo(e.Data);
        process.ErrorDataReceived += (_, e) => Echo(e.Data);
        process.Exited += (_, _) => ready.TrySetException(new InvalidOperationException($"Hub.LocalHost exited with {process.ExitCode} before it was ready."));
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var started = await ready.Task.WaitAsync(TimeSpan.FromMinutes(2));
        return new HostProcess(process, started);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }
}

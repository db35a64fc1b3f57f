using Hub.LocalHost;

// Hub.LocalHost [--app-root DIR] [--port 7071] [--set Key=Value]... [--no-azurite] [--no-sandbox] [--sandbox-port 7180]
var appRoot = Environment.GetEnvironmentVariable("HUB_APP_ROOT");
var port = 7071;
var startAzurite = true;
var startSandbox = true;
var sandboxPort = 7180;
var settings = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--app-root" when i + 1 < args.Length:
            appRoot = args[++i];
            break;
        case "--port" when i + 1 < args.Length && int.TryParse(args[i + 1], out var p):
            port = p;
            i++;
            break;
        case "--set" when i + 1 < args.Length && args[i + 1].Contains('=', StringComparison.Ordinal):
            var pair = args[++i].Split('=', 2);
            settings[pair[0]] = pair[1];
            break;
        case "--no-azurite":
            startAzurite = false;
            break;
        case "--no-sandbox":
            startSandbox = false;
            break;
        case "--sandbox-port" when i + 1 < args.Length && int.TryParse(args[i + 1], out var sp):
            sandboxPort = sp;
            i++;
            break;
        default:
            Console.Error.WriteLine($"Unknown argument '{args[i]}'. Usage: Hub.LocalHost [--app-root DIR] [--port 7071] [--set Key=Value]... [--no-azurite] [--no-sandbox] [--sandbox-port 7180]");
            return 2;
    }
}

if (appRoot is null)
{
    var repo = AzuriteLauncher.FindRepositoryRoot();
    appRoot = repo is null ? null : Path.Combine(repo, "functions", "Hub.Functions", "bin", "Debug", "net10.0");
    if (appRoot is null || !File.Exists(Path.Combine(appRoot, "host.json")))
    {
        Console.Error.WriteLine("No app root: pass --app-root (a folder with host.json, the function folders and the handler), or build functions/Hub.Functions first.");
        return 2;
    }
}

using var loggers = LoggerFactory.Create(b => b.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; }).SetMinimumLevel(LogLevel.Information));
var log = loggers.CreateLogger("Hub.LocalHost");
using var stop = new CancellationTokenSource();
using var sigint = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });

try
{
await using var azurite = startAzurite
    ? await AzuriteLauncher.EnsureAsync(Path.Combine(AzuriteLauncher.FindRepositoryRoot() ?? Path.GetTempPath(), ".azurite"), m => log.LogInformation("{Message}", m), stop.Token)
    : null;
// The embedded default: sandbox platforms with a demo tenant connected to them, so a sync runs end to end offline.
await using var sandbox = startSandbox && AzuriteLauncher.FindRepositoryRoot() is { } repoRoot
    ? await SandboxLauncher.StartAsync(repoRoot, sandboxPort, "demo", stop.Token)
    : null;
if (sandbox is not null)
{
    foreach (var (key, value) in sandbox.Settings)
    {
        settings.TryAdd(key, value); // an explicit --set wins
    }

    log.LogInformation("Sandbox Shopify and WooCommerce on http://127.0.0.1:{Port} and :{Next}; demo tenant 'demo' is connected to both", sandboxPort, sandboxPort + 1);
}

// The setup page's admin token: --set Hub:AdminToken=... or the environment keeps one across runs; else a new one.
var adminToken = settings.GetValueOrDefault("Hub:AdminToken") ?? settings.GetValueOrDefault("Hub__AdminToken")
    ?? Environment.GetEnvironmentVariable("Hub__AdminToken")
    ?? Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24)).Replace('+', '-').Replace('/', '_');
settings["Hub:AdminToken"] = adminToken;
await using var host = await LocalHostRunner.StartAsync(new LocalHostOptions { AppRoot = appRoot, HttpPort = port, Settings = settings }, loggers, stop.Token);
Console.WriteLine();
Console.WriteLine($"Hub is running. Setup page: {host.BaseAddress}api/setup   (Ctrl+C stops it)");
Console.WriteLine($"  sign in as tenant 'demo' with the admin token {adminToken}");
Console.WriteLine();
try
{
    await Task.Delay(Timeout.Infinite, stop.Token);
}
catch (OperationCanceledException)
{
    log.LogInformation("Stopping.");
}
}
catch (OperationCanceledException)
{
    log.LogInformation("Stopped before the Hub was ready.");
    return 1;
}

return 0;

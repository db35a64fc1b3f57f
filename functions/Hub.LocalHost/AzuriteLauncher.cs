using System.Diagnostics;
using System.Net.Sockets;

namespace Hub.LocalHost;

/// <summary>
/// Makes sure Azurite (the Storage emulator, pinned in the repository's package.json) listens on its default ports.
/// When nothing listens it installs the pinned version with <c>npm ci</c> if needed and starts it; the process is
/// stopped again when this handle is disposed. An Azurite the developer started is used as it is.
/// </summary>
public sealed class AzuriteLauncher : IAsyncDisposable
{
    public const int BlobPort = 10000;
    public const int QueuePort = 10001;
    public const int TablePort = 10002;

    private readonly Process? _process;

    private AzuriteLauncher(Process? process) => _process = process;

    /// <summary>True when this handle started Azurite (and will stop it).</summary>
    public bool Started => _process is not null;

    public static bool IsListening() => PortOpen(QueuePort) && PortOpen(TablePort);

    /// <param name="dataDirectory">Where Azurite keeps its data; null keeps everything in memory.</param>
    public static async Task<AzuriteLauncher> EnsureAsync(string? dataDirectory, Action<string> log, CancellationToken ct)
    {
        if (IsListening())
        {
            log("Azurite already listening on 10001/10002.");
            return new AzuriteLauncher(null);
        }

        var root = FindRepositoryRoot() ?? throw new InvalidOperationException(
            "Azurite is not running and no package.json pinning it was found above " + AppContext.BaseDirectory + ". Start Azurite, or run from the repository.");
        var script = Path.Combine(root, "node_modules", "azurite", "dist", "src", "azurite.js");
        if (!File.Exists(script))
        {
            log("Installing Azurite with npm ci (first run) ...");
            await RunAsync("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"], root, TimeSpan.FromMinutes(5), ct);
        }

        var info = new ProcessStartInfo("node")
        {
            WorkingDirectory = root,
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        info.ArgumentList.Add(script);
        foreach (var arg in new[] { "--silent", "--disableTelemetry", "--skipApiVersionCheck", "--loose", "--blobPort", $"{BlobPort}", "--queuePort", $"{QueuePort}", "--tablePort", $"{TablePort}" })
        {
            info.ArgumentList.Add(arg);
        }

        if (dataDirectory is null)
        {
            info.ArgumentList.Add("--inMemoryPersistence");
        }
        else
        {
            Directory.CreateDirectory(dataDirectory);
            info.ArgumentList.Add("--location");
            info.ArgumentList.Add(dataDirectory);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start node.");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, e) => { if (!string.IsNullOrWhiteSpace(e.Data)) { log("[azurite] " + e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var watch = Stopwatch.StartNew();
        while (!IsListening())
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"Azurite exited with code {process.ExitCode} before listening (is another program on ports 10000-10002?).");
            }

            if (watch.Elapsed > TimeSpan.FromSeconds(60))
            {
                process.Kill(true);
                throw new TimeoutException("Azurite did not listen within 60 s.");
            }

            await Task.Delay(100, ct);
        }

        log($"Azurite started (pid {process.Id}) {(dataDirectory is null ? "in memory" : "with data in " + dataDirectory)}.");
        return new AzuriteLauncher(process);
    }

    /// <summary>The repository root: the nearest folder upwards holding a package.json that names azurite.</summary>
    public static string? FindRepositoryRoot()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var package = Path.Combine(dir.FullName, "package.json");
                if (File.Exists(package) && File.ReadAllText(package).Contains("\"azurite\"", StringComparison.Ordinal))
                {
                    return dir.FullName;
                }
            }
        }

        return null;
    }

    private static async Task RunAsync(string file, string[] args, string cwd, TimeSpan timeout, CancellationToken ct)
    {
        var info = new ProcessStartInfo(file) { WorkingDirectory = cwd, UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {file}.");
        var stderr = process.StandardError.ReadToEndAsync(ct);
        _ = process.StandardOutput.ReadToEndAsync(ct);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        await process.WaitForExitAsync(cts.Token);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed ({process.ExitCode}): {await stderr}");
        }
    }

    private static bool PortOpen(int port)
    {
        try
        {
            using var client = new TcpClient();
            return client.ConnectAsync("127.0.0.1", port).Wait(TimeSpan.FromMilliseconds(500)) && client.Connected;
        }
        catch (AggregateException)
        {
            return false;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process?.Dispose();
    }
}

using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Hub.LocalHost;

/// <summary>
/// Starts the custom handler as the host does: the executable from host.json <c>customHandler.description</c>,
/// app settings as environment variables, <c>FUNCTIONS_CUSTOMHANDLER_PORT</c> set to a free loopback port (a new
/// one each start), then <c>GET /</c> every 25 ms until any HTTP answer. Restarts the process when it dies.
/// </summary>
public sealed class HandlerProcess : IAsyncDisposable
{
    private readonly AppDefinition _app;
    private readonly AppSettings _settings;
    private readonly ILogger _logger;
    private readonly HttpClient _probe = new() { Timeout = TimeSpan.FromSeconds(2) };
    private readonly CancellationTokenSource _stopping = new();
    private readonly object _gate = new();
    private TaskCompletionSource<Uri> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Process? _process;
    private Task? _supervisor;

    public HandlerProcess(AppDefinition app, AppSettings settings, ILogger logger)
    {
        _app = app;
        _settings = settings;
        _logger = logger;
    }

    /// <summary>How many times the handler was started (1 + restarts).</summary>
    public int Starts { get; private set; }

    public int? ProcessId => _process?.Id;

    public TimeSpan InitializationTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public void Start() => _supervisor = Task.Run(SuperviseAsync);

    /// <summary>The handler's base address once it answers; waits through a restart.</summary>
    public async Task<Uri> WaitReadyAsync(CancellationToken ct)
    {
        Task<Uri> ready;
        lock (_gate)
        {
            ready = _ready.Task;
        }

        return await ready.WaitAsync(ct);
    }

    /// <summary>Kills the handler (tests use it to prove a crash loses nothing); the supervisor starts a new one.</summary>
    public void Kill()
    {
        if (_process is { } process)
        {
            KillProcess(process);
        }
    }

    private static void KillProcess(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(5000);
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // already gone
        }
    }

    private async Task SuperviseAsync()
    {
        var backoff = TimeSpan.FromMilliseconds(250);
        while (!_stopping.IsCancellationRequested)
        {
            var port = FreePort();
            using var process = StartProcess(port);
            _process = process;
            Starts++;
            var baseUri = new Uri($"http://127.0.0.1:{port}/");
            try
            {
                await WaitForProbeAsync(process, baseUri);
                lock (_gate)
                {
                    _ready.TrySetResult(baseUri);
                }

                _logger.LogInformation("Handler ready on {Uri} (pid {Pid}, start {Starts})", baseUri, process.Id, Starts);
                backoff = TimeSpan.FromMilliseconds(250);
                await process.WaitForExitAsync(_stopping.Token);
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                KillProcess(process);
                break;
            }
            catch (Exception ex)
            {
                _logger.LogError("Handler did not become ready: {Error}", ex.Message);
                Kill();
            }

            lock (_gate)
            {
                if (_ready.Task.IsCompleted)
                {
                    _ready = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
                }
            }

            if (_stopping.IsCancellationRequested)
            {
                KillProcess(process);
                break;
            }

            _logger.LogWarning("Handler exited (code {Code}); restarting in {Delay} ms", process.HasExited ? process.ExitCode : -1, backoff.TotalMilliseconds);
            try
            {
                await Task.Delay(backoff, _stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            backoff = TimeSpan.FromMilliseconds(Math.Min(backoff.TotalMilliseconds * 2, 10_000));
        }
    }

    private Process StartProcess(int port)
    {
        var description = _app.CustomHandler["description"] as Newtonsoft.Json.Linq.JObject
            ?? throw new InvalidOperationException("host.json: customHandler.description is missing.");
        var executable = description.Value<string>("defaultExecutablePath")
            ?? throw new InvalidOperationException("host.json: customHandler.description.defaultExecutablePath is missing.");
        var candidate = Path.Combine(_app.Root, executable);
        var fileName = File.Exists(candidate) ? candidate : executable; // else a command on PATH, as the host does
        var workingDirectory = Path.Combine(_app.Root, description.Value<string>("workingDirectory") ?? "");
        var info = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in description["arguments"]?.Values<string>() ?? [])
        {
            info.ArgumentList.Add(ExpandSettings(arg!));
        }

        foreach (var (key, value) in _settings.Values)
        {
            info.Environment[key] = value;
        }

        info.Environment["FUNCTIONS_CUSTOMHANDLER_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        info.Environment["FUNCTIONS_HTTPWORKER_PORT"] = info.Environment["FUNCTIONS_CUSTOMHANDLER_PORT"];
        info.Environment["FUNCTIONS_CUSTOMHANDLER_WORKER_ID"] = Guid.NewGuid().ToString();
        info.Environment["FUNCTIONS_APP_ROOT_PATH"] = _app.Root;
        info.Environment["ASPNETCORE_URLS"] = null;
        // Local only: the handler exits when this host is gone (kill -9 included), so no handler outlives its host.
        info.Environment["HUB_PARENT_PID"] = Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);

        var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start '{fileName}'.");
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { _logger.LogInformation("[handler] {Line}", e.Data); } };
        process.ErrorDataReceived += (_, e) =>
        {
            // As the host: stderr is an error unless it says "warn".
            if (e.Data is null)
            {
                return;
            }

            if (e.Data.Contains("warn", StringComparison.OrdinalIgnoreCase))
            {
                _logger.LogWarning("[handler] {Line}", e.Data);
            }
            else
            {
                _logger.LogError("[handler] {Line}", e.Data);
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private async Task WaitForProbeAsync(Process process, Uri baseUri)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < InitializationTimeout)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"handler exited with code {process.ExitCode} before it was ready");
            }

            try
            {
                using var response = await _probe.GetAsync(baseUri, _stopping.Token);
                return; // any HTTP answer counts, 404 included
            }
            catch (HttpRequestException)
            {
                await Task.Delay(25, _stopping.Token);
            }
            catch (TaskCanceledException) when (!_stopping.IsCancellationRequested)
            {
                await Task.Delay(25, _stopping.Token);
            }
        }

        throw new TimeoutException($"no answer on {baseUri} within {InitializationTimeout.TotalSeconds} s");
    }

    private string ExpandSettings(string value) =>
        System.Text.RegularExpressions.Regex.Replace(value, "%([A-Za-z0-9_:.]+)%", m => _settings[m.Groups[1].Value] ?? m.Value);

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        Kill();
        await _stopping.CancelAsync();
        Kill();
        if (_supervisor is not null)
        {
            try
            {
                await _supervisor.WaitAsync(TimeSpan.FromSeconds(10));
            }
            catch (Exception)
            {
                // shutting down
            }
        }

        _probe.Dispose();
        _stopping.Dispose();
    }
}

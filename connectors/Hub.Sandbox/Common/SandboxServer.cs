using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Hub.Sandbox.Common;

/// <summary>
/// A platform stand-in on a real Kestrel socket: it serves a platform's documented API from in-memory state, logs every
/// request for assertions, and injects faults on request (<see cref="FailNext"/>, <see cref="FailNextTimeout"/>).
/// Runs in-process for tests (port 0) and as a process for the local demo.
/// </summary>
public abstract class SandboxServer : IAsyncDisposable
{
    private readonly ConcurrentQueue<SandboxRequest> _requests = new();
    private readonly List<Fault> _faults = [];
    private Chaos? _chaos;
    private int _chaosFailures;
    private WebApplication? _app;

    protected SandboxServer(TimeProvider? clock) => Clock = clock ?? TimeProvider.System;

    public TimeProvider Clock { get; }

    /// <summary>Where the server listens, e.g. <c>http://127.0.0.1:54321</c> (no trailing slash).</summary>
    public string BaseUrl { get; private set; } = "";

    /// <summary>Every request served so far, in arrival order, with the status it got.</summary>
    public IReadOnlyList<SandboxRequest> Requests => [.. _requests];

    public void ClearRequests() => _requests.Clear();

    /// <summary>The next <paramref name="times"/> requests (whose path contains <paramref name="pathContains"/>) get this status.</summary>
    public SandboxServer FailNext(int status, TimeSpan? retryAfter = null, int times = 1, string? pathContains = null)
    {
        lock (_faults)
        {
            _faults.Add(new Fault(status, retryAfter, times, pathContains, Hang: false));
        }

        return this;
    }

    /// <summary>The next requests hang until the client gives up (its attempt timeout), as a dead upstream does.</summary>
    public SandboxServer FailNextTimeout(int times = 1, string? pathContains = null)
    {
        lock (_faults)
        {
            _faults.Add(new Fault(0, null, times, pathContains, Hang: true));
        }

        return this;
    }

    /// <summary>
    /// Chaos: from now on each request whose path contains <paramref name="pathContains"/> fails with probability
    /// <paramref name="rate"/>, with one of <paramref name="statuses"/> picked at random (0 = hang until the client gives
    /// up). 429s carry a short Retry-After. Deterministic for a seed. <see cref="StopFailing"/> ends it.
    /// </summary>
    public SandboxServer FailRandomly(double rate, string? pathContains = null, int seed = 1, params int[] statuses)
    {
        lock (_faults)
        {
            _chaos = new Chaos(rate, pathContains, new Random(seed), statuses.Length == 0 ? [429, 500, 0] : statuses);
        }

        return this;
    }

    public void StopFailing()
    {
        lock (_faults)
        {
            _chaos = null;
        }
    }

    /// <summary>Requests that chaos failed so far.</summary>
    public int ChaosFailures => _chaosFailures;

    public async Task StartAsync(int port = 0, CancellationToken cancellationToken = default)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, port));
        builder.Services.AddRouting();
        _app = builder.Build();
        _app.Use(async (context, next) =>
        {
            // Logged on arrival, so a request whose response the client stopped reading (a range download) is still
            // counted at once; the status is filled in when the answer is done.
            var entry = Record(context);
            var fault = TakeFault(context.Request.Path.Value ?? "");
            if (fault is { Hang: true })
            {
                entry.Status = 0;
                try
                {
                    await Task.Delay(TimeSpan.FromMinutes(5), context.RequestAborted);
                }
                catch (OperationCanceledException)
                {
                }

                return;
            }

            if (fault is not null)
            {
                entry.Fault = fault.Status;
                entry.Status = fault.Status;
                context.Response.StatusCode = fault.Status;
                if (fault.RetryAfter is { } wait)
                {
                    context.Response.Headers.RetryAfter = wait.TotalSeconds.ToString("0.0##", CultureInfo.InvariantCulture);
                }

                await WriteFaultAsync(context, fault.Status);
                entry.Status = context.Response.StatusCode; // Fxiaoke answers every fault with HTTP 200
                return;
            }

            context.Response.OnStarting(() =>
            {
                entry.Status = context.Response.StatusCode;
                entry.Operation = context.Items.TryGetValue(OperationKey, out var op) ? op as string : null;
                return Task.CompletedTask;
            });
            await next(context);
            entry.Status = context.Response.StatusCode;
            entry.Operation = context.Items.TryGetValue(OperationKey, out var op) ? op as string : null;
        });
        Map(_app);
        await _app.StartAsync(cancellationToken);
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseUrl = address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal).TrimEnd('/');
    }

    /// <summary>Maps the platform's routes.</summary>
    protected abstract void Map(WebApplication app);

    /// <summary>The platform's body for an injected failure.</summary>
    protected abstract Task WriteFaultAsync(HttpContext context, int status);

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        GC.SuppressFinalize(this);
    }

    private Fault? TakeFault(string path)
    {
        lock (_faults)
        {
            var fault = _faults.FirstOrDefault(f => f.PathContains is null || path.Contains(f.PathContains, StringComparison.OrdinalIgnoreCase));
            if (fault is null)
            {
                if (_chaos is { } chaos && (chaos.PathContains is null || path.Contains(chaos.PathContains, StringComparison.OrdinalIgnoreCase)) && chaos.Random.NextDouble() < chaos.Rate)
                {
                    Interlocked.Increment(ref _chaosFailures);
                    var status = chaos.Statuses[chaos.Random.Next(chaos.Statuses.Length)];
                    return new Fault(status, status == 429 ? TimeSpan.FromSeconds(0.2) : null, 1, null, Hang: status == 0);
                }

                return null;
            }

            fault.Times--;
            if (fault.Times <= 0)
            {
                _faults.Remove(fault);
            }

            return fault;
        }
    }

    private SandboxRequest Record(HttpContext context)
    {
        var entry = new SandboxRequest(
            context.Request.Method,
            context.Request.Path.Value ?? "",
            context.Request.Query.ToDictionary(q => q.Key, q => q.Value.ToString(), StringComparer.Ordinal),
            Clock.GetUtcNow())
        {
            Range = context.Request.Headers.Range.ToString() is { Length: > 0 } range ? range : null,
        };
        _requests.Enqueue(entry);
        return entry;
    }

    /// <summary>Routes put a short name of what was asked (GraphQL root field) here for the request log.</summary>
    protected const string OperationKey = "sandbox.operation";

    private sealed record Chaos(double Rate, string? PathContains, Random Random, int[] Statuses);

    private sealed class Fault(int status, TimeSpan? retryAfter, int times, string? pathContains, bool Hang)
    {
        public int Status { get; } = status;
        public TimeSpan? RetryAfter { get; } = retryAfter;
        public int Times { get; set; } = times;
        public string? PathContains { get; } = pathContains;
        public bool Hang { get; } = Hang;
    }
}

/// <summary>One request as the sandbox saw it.</summary>
public sealed class SandboxRequest(string method, string path, IReadOnlyDictionary<string, string> query, DateTimeOffset at)
{
    public string Method { get; } = method;
    public string Path { get; } = path;
    public IReadOnlyDictionary<string, string> Query { get; } = query;

    /// <summary>When it arrived.</summary>
    public DateTimeOffset At { get; } = at;

    /// <summary>The status answered; 0 for a request left hanging, -1 while it is being answered.</summary>
    public int Status { get; internal set; } = -1;

    /// <summary>What the request asked for when the path does not say (GraphQL root fields, " THROTTLED" when refused).</summary>
    public string? Operation { get; internal set; }

    /// <summary>The Range header, when the client asked for part of a resource.</summary>
    public string? Range { get; init; }

    /// <summary>The fault injected into this request (<see cref="SandboxServer.FailNext"/>), if any.</summary>
    public int? Fault { get; internal set; }
}

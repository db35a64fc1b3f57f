using System.Collections.Concurrent;
using Hub.Functions.Functions;
using Hub.Functions.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Hub.Functions.Tests;

/// <summary>
/// Runs the pipeline's queue functions in process, the way the host would: each output message goes to the queue
/// its binding names (as in the function.json files), queues are drained with several invocations at once, and a
/// failed invocation is redelivered with its delivery count raised. The local-host end-to-end tests do the same
/// over real processes; this one is for fast, exact checks of the pipeline's logic.
/// </summary>
public sealed class PipelineDriver(SyncHarness harness)
{
    private static readonly Dictionary<string, string> Triggers = new(StringComparer.Ordinal)
    {
        ["pull"] = PullStream.Name,
        ["resolve"] = ResolveProfiles.Name,
        ["push"] = PushCrm.Name,
        ["ingest"] = IngestEvent.Name,
    };

    private static readonly Dictionary<(string Function, string Output), string> Outputs = new()
    {
        [(ScheduleSync.Name, "pull")] = "pull",
        [(ScheduleSync.Name, "push")] = "push",
        [(PullStream.Name, "next")] = "pull",
        [(PullStream.Name, "resolve")] = "resolve",
        [(PullStream.Name, "push")] = "push",
        [(ResolveProfiles.Name, "push")] = "push",
        [(ResolveProfiles.Name, "next")] = "resolve",
        [(ScheduleSync.Name, "resolve")] = "resolve",
        [(PushCrm.Name, "next")] = "push",
        [(IngestEvent.Name, "resolve")] = "resolve",
        [(Reconcile.Name, "pull")] = "pull",
        [(Reconcile.Name, "ingest")] = "ingest",
        [(Reconcile.Name, "resolve")] = "resolve",
        [(ReplayFailures.Name, "push")] = "push",
        [(Resegment.Name, "resolve")] = "resolve",
        [(ResegmentDaily.Name, "resolve")] = "resolve",
    };

    private readonly ConcurrentQueue<(string Queue, JObject Body, int Delivery)> _queue = new();

    public ConcurrentDictionary<string, int> Invocations { get; } = new(StringComparer.Ordinal);

    public ConcurrentBag<string> Errors { get; } = [];

    /// <summary>The log lines of every invocation's result, prefixed with the function's name.</summary>
    public ConcurrentBag<string> Logs { get; } = [];

    /// <summary>Lets a test keep chosen messages back (return true) until <see cref="Release"/>: a run left halfway.</summary>
    public Func<string, JObject, bool>? SetAside { get; set; }

    private readonly List<(string Queue, JObject Body, int Delivery)> _setAside = [];

    /// <summary>Puts the messages kept back into their queues again (and keeps no more back).</summary>
    public int Release()
    {
        SetAside = null;
        foreach (var item in _setAside)
        {
            _queue.Enqueue(item);
        }

        var count = _setAside.Count;
        _setAside.Clear();
        return count;
    }

    /// <summary>Lets a test fail chosen invocations (return true to throw before the function runs).</summary>
    public Func<string, JObject, int, bool>? FailBefore { get; set; }

    public void Collect(string function, InvocationResult result)
    {
        foreach (var line in result.Logs)
        {
            Logs.Add($"{function}: {line}");
        }

        foreach (var ((fn, output), queue) in Outputs)
        {
            if (fn == function)
            {
                foreach (var message in result.Messages(output))
                {
                    if (SetAside?.Invoke(queue, message) == true)
                    {
                        lock (_setAside)
                        {
                            _setAside.Add((queue, message, 1));
                        }

                        continue;
                    }

                    _queue.Enqueue((queue, message, 1));
                }
            }
        }
    }

    public void Enqueue(string queue, object body) => _queue.Enqueue((queue, JObject.FromObject(body), 1));

    public async Task<InvocationResult> InvokeTimerAsync(string function)
    {
        var fn = harness.Services.GetRequiredKeyedService<IFunction>(function);
        var result = await fn.InvokeAsync(SyncHarness.Timer(), CancellationToken.None);
        Collect(function, result);
        return result;
    }

    /// <summary>Drains every queue; returns when all are empty. Messages failing 10 times are dead-lettered (an error).</summary>
    public async Task RunAsync(int parallel = 8)
    {
        while (!_queue.IsEmpty)
        {
            var batch = new List<(string Queue, JObject Body, int Delivery)>();
            while (batch.Count < parallel && _queue.TryDequeue(out var item))
            {
                batch.Add(item);
            }

            await Task.WhenAll(batch.Select(async item =>
            {
                var function = Triggers[item.Queue];
                Invocations.AddOrUpdate(function, 1, (_, n) => n + 1);
                try
                {
                    if (FailBefore?.Invoke(function, item.Body, item.Delivery) == true)
                    {
                        throw new InvalidOperationException("injected failure");
                    }

                    var fn = harness.Services.GetRequiredKeyedService<IFunction>(function);
                    var result = await fn.InvokeAsync(SyncHarness.ServiceBus(function, item.Body, item.Delivery), CancellationToken.None);
                    Collect(function, result);
                }
                catch (Exception ex)
                {
                    if (item.Delivery >= 10)
                    {
                        Errors.Add($"{function} dead-lettered: {ex.Message}");
                    }
                    else
                    {
                        _queue.Enqueue((item.Queue, item.Body, item.Delivery + 1));
                    }
                }
            }));
        }
    }

    public static string Describe(JObject body) => body.ToString(Formatting.None);
}

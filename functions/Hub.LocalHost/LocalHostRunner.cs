using Azure.Storage.Queues;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Hub.LocalHost;

public sealed class LocalHostOptions
{
    /// <summary>The Functions app root: host.json, function folders, the handler.</summary>
    public required string AppRoot { get; init; }

    /// <summary>Public HTTP port (7071 like Core Tools); 0 picks a free one.</summary>
    public int HttpPort { get; init; } = 7071;

    /// <summary>App settings that win over local.settings.json and the environment.</summary>
    public IDictionary<string, string> Settings { get; init; } = new Dictionary<string, string>();

    /// <summary>The Service Bus queues' MaxDeliveryCount (an entity property in Azure; 10 by default there too).</summary>
    public int ServiceBusMaxDeliveryCount { get; init; } = 10;
}

/// <summary>
/// The local stand-in for the Functions host: reads the app root, starts and supervises the handler, serves HTTP
/// functions, fires timers and drives queue and Service Bus triggers on Azurite queues.
/// </summary>
public sealed class LocalHostRunner : IAsyncDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Task> _drivers = [];
    private WebApplication? _web;

    private LocalHostRunner(AppDefinition app, AppSettings settings, HandlerProcess handler, QueueClientFactory queues)
    {
        App = app;
        Settings = settings;
        Handler = handler;
        Queues = queues;
    }

    public AppDefinition App { get; }
    public AppSettings Settings { get; }
    public HandlerProcess Handler { get; }
    public QueueClientFactory Queues { get; }
    public List<TimerTriggerDriver> Timers { get; } = [];
    public List<QueueTriggerDriver> QueueDrivers { get; } = [];
    public Uri BaseAddress { get; private set; } = new("http://127.0.0.1:7071/");

    public static async Task<LocalHostRunner> StartAsync(LocalHostOptions options, ILoggerFactory loggers, CancellationToken ct)
    {
        var root = Path.GetFullPath(options.AppRoot);
        var settings = AppSettings.Load(root, options.Settings);
        var app = AppDefinition.Load(root, key => settings[key]);
        var logger = loggers.CreateLogger("Hub.LocalHost");
        var handler = new HandlerProcess(app, settings, loggers.CreateLogger("Hub.LocalHost.Handler"));
        var queues = new QueueClientFactory(settings, app.Queues.Base64);
        var runner = new LocalHostRunner(app, settings, handler, queues);

        // The host's HttpClient waits functionTimeout + 1 minute for the handler.
        // A proxy, not a browser: redirects and cookies go back to the caller untouched (a shared cookie jar would hand
        // one browser's cookies to the next).
        var http = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false })
        {
            Timeout = (app.FunctionTimeout ?? TimeSpan.FromMinutes(30)) + TimeSpan.FromMinutes(1),
        };
        var invoker = new FunctionInvoker(handler, http, new OutputWriter(queues), logger);
        foreach (var function in app.Functions)
        {
            switch (function.Trigger.Type)
            {
                case "timerTrigger":
                    runner.Timers.Add(new TimerTriggerDriver(function, invoker, settings, logger));
                    break;
                case "queueTrigger":
                case "serviceBusTrigger":
                    runner.QueueDrivers.Add(new QueueTriggerDriver(function, invoker, queues, app.Queues, options.ServiceBusMaxDeliveryCount, app.ServiceBusMaxConcurrentCalls, logger));
                    break;
                case "httpTrigger":
                    break;
                default:
                    throw new InvalidOperationException($"{function.Name}: trigger type '{function.Trigger.Type}' is not emulated locally.");
            }
        }

        handler.Start();
        await handler.WaitReadyAsync(ct).WaitAsync(handler.InitializationTimeout * 2, ct);

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, options.HttpPort));
        var web = builder.Build();
        var front = new HttpFrontEnd(app, handler, http, invoker, logger);
        runner.MapLocalAdmin(web);
        // Every path, those that look like files included (the default fallback pattern skips "app.js"; the host does not).
        web.MapFallback("{**path}", front.HandleAsync);
        await web.StartAsync(ct);
        runner._web = web;
        var address = web.Urls.First();
        runner.BaseAddress = new Uri(address.EndsWith('/') ? address : address + "/");

        foreach (var timer in runner.Timers)
        {
            runner._drivers.Add(Task.Run(() => timer.RunAsync(runner._stopping.Token), CancellationToken.None));
        }

        foreach (var driver in runner.QueueDrivers)
        {
            runner._drivers.Add(Task.Run(() => driver.RunAsync(runner._stopping.Token), CancellationToken.None));
        }

        logger.LogInformation("Functions: {Functions}", string.Join(", ", app.Functions.Select(f => $"{f.Name} ({f.Trigger.Type})")));
        return runner;
    }

    /// <summary>Local-only operations on the emulated queues: inspect and replay dead-lettered messages.</summary>
    private void MapLocalAdmin(WebApplication web)
    {
        web.MapGet("/_local/status", () => Json(new JObject
        {
            ["handler"] = new JObject { ["pid"] = Handler.ProcessId, ["starts"] = Handler.Starts },
            ["functions"] = new JArray(App.Functions.Select(f => new JObject { ["name"] = f.Name, ["trigger"] = f.Trigger.Type })),
            ["timersFired"] = new JObject(Timers.Select((t, i) => new JProperty(App.Functions.Where(f => f.Trigger.Type == "timerTrigger").ElementAt(i).Name, t.Fired))),
            ["gcPauseMs"] = GC.GetTotalPauseDuration().TotalMilliseconds, // this host's own, apart from the handler's
            ["gcCollections"] = new JArray(GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2)),
        }));
        web.MapGet("/_local/queues/{name}", async (string name, CancellationToken ct) =>
        {
            var (queue, deadLetter) = await QueuesFor(name, ct);
            var props = await queue.GetPropertiesAsync(ct);
            var peeked = await deadLetter.PeekMessagesAsync(32, ct);
            return Json(new JObject
            {
                ["queue"] = name,
                ["approximateMessages"] = props.Value.ApproximateMessagesCount,
                ["deadLetterQueue"] = deadLetter.Name,
                ["deadLettered"] = new JArray(peeked.Value.Select(m => new JObject { ["id"] = m.MessageId, ["insertedOn"] = m.InsertedOn, ["body"] = m.Body.ToString() })),
            });
        });
        web.MapPost("/_local/queues/{name}/replay", async (string name, CancellationToken ct) =>
        {
            var (queue, deadLetter) = await QueuesFor(name, ct);
            var moved = 0;
            while (true)
            {
                var batch = (await deadLetter.ReceiveMessagesAsync(32, TimeSpan.FromMinutes(1), ct)).Value;
                if (batch.Length == 0)
                {
                    break;
                }

                foreach (var message in batch)
                {
                    await queue.SendMessageAsync(message.Body.ToString(), ct);
                    await deadLetter.DeleteMessageAsync(message.MessageId, message.PopReceipt, ct);
                    moved++;
                }
            }

            return Json(new JObject { ["queue"] = name, ["replayed"] = moved });
        });
    }

    public async Task<(QueueClient Queue, QueueClient DeadLetter)> QueuesFor(string name, CancellationToken ct)
    {
        var driver = QueueDrivers.FirstOrDefault(d => d.QueueName == name)
            ?? throw new BadHttpRequestException($"No trigger listens on queue '{name}'.", 404);
        var trigger = App.Functions.First(f => f.Trigger.Get("queueName") == name).Trigger;
        return (await Queues.GetAsync(name, trigger.Get("connection"), ct), await Queues.GetAsync(driver.DeadLetterQueueName, trigger.Get("connection"), ct));
    }

    private static IResult Json(JObject body) => Results.Text(body.ToString(Formatting.None), "application/json");

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        if (_web is not null)
        {
            await _web.StopAsync();
            await _web.DisposeAsync();
        }

        await Task.WhenAll(_drivers).WaitAsync(TimeSpan.FromSeconds(15)).ContinueWith(_ => { }, TaskScheduler.Default);
        await Handler.DisposeAsync();
        _stopping.Dispose();
    }
}

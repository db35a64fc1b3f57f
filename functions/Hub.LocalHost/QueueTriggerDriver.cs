using Azure;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;

namespace Hub.LocalHost;

/// <summary>
/// Drives a <c>queueTrigger</c> or <c>serviceBusTrigger</c> function from an Azurite queue with the host's
/// semantics: at-least-once; a message is hidden for 10 minutes while it runs (renewed), deleted only after the
/// invocation and its outputs succeeded; on failure it becomes visible again (<c>visibilityTimeout</c> for queues,
/// at once for Service Bus, like an abandon) and its delivery count grows; once it reaches the maximum it moves,
/// body intact, to <c>{queue}-poison</c> (queues) or <c>{queue}-deadletter</c> (Service Bus), where it stays until replayed.
/// </summary>
public sealed class QueueTriggerDriver
{
    private static readonly TimeSpan Invisibility = TimeSpan.FromMinutes(10);
    private readonly FunctionDefinition _function;
    private readonly BindingDefinition _trigger;
    private readonly FunctionInvoker _invoker;
    private readonly QueueClientFactory _queues;
    private readonly QueueSettings _settings;
    private readonly ILogger _logger;
    private readonly bool _serviceBus;
    private readonly int _maxDeliveries;
    private readonly int _concurrency;
    private long _sequence;

    public QueueTriggerDriver(FunctionDefinition function, FunctionInvoker invoker, QueueClientFactory queues, QueueSettings settings, int serviceBusMaxDeliveryCount, int serviceBusConcurrency, ILogger logger)
    {
        _function = function;
        _trigger = function.Trigger;
        _invoker = invoker;
        _queues = queues;
        _settings = settings;
        _logger = logger;
        _serviceBus = _trigger.Type == "serviceBusTrigger";
        _maxDeliveries = _serviceBus ? serviceBusMaxDeliveryCount : settings.MaxDequeueCount;
        _concurrency = _serviceBus ? serviceBusConcurrency : settings.BatchSize + settings.NewBatchThreshold;
        QueueName = _trigger.Get("queueName") ?? throw new InvalidOperationException($"{function.Name}: trigger names no queueName.");
        if (_serviceBus && _trigger.Get("topicName") is not null)
        {
            throw new InvalidOperationException($"{function.Name}: topic subscriptions are not emulated locally; use a queue.");
        }
    }

    public string QueueName { get; }

    /// <summary>Where failed messages end: Service Bus's dead-letter sub-queue, or the queue extension's poison queue.</summary>
    public string DeadLetterQueueName => DeadLetterName(QueueName, _serviceBus);

    public static string DeadLetterName(string queue, bool serviceBus) => queue + (serviceBus ? "-deadletter" : "-poison");

    public async Task RunAsync(CancellationToken ct)
    {
        var connection = _trigger.Get("connection");
        var queue = await _queues.GetAsync(QueueName, connection, ct);
        var deadLetter = await _queues.GetAsync(DeadLetterQueueName, connection, ct);
        using var slots = new SemaphoreSlim(_concurrency);
        var running = new List<Task>();
        var delay = TimeSpan.FromMilliseconds(100);
        var maxDelay = _serviceBus ? TimeSpan.FromMilliseconds(500) : _settings.MaxPollingInterval;
        while (!ct.IsCancellationRequested)
        {
            QueueMessage[] batch;
            try
            {
                var free = Math.Clamp(slots.CurrentCount, 1, 32);
                await slots.WaitAsync(ct);
                slots.Release();
                batch = (await queue.ReceiveMessagesAsync(Math.Min(free, _settings.BatchSize), Invisibility, ct)).Value;
            }
            catch (OperationCanceledException)
            {
                break;
            }
            catch (RequestFailedException ex)
            {
                _logger.LogWarning("Receiving from {Queue} failed: {Error}", QueueName, ex.Message);
                await Delay(TimeSpan.FromSeconds(1), ct);
                continue;
            }

            if (batch.Length == 0)
            {
                // Back off while idle, unless this host sends to the queue meanwhile (QueueClientFactory.Sent).
                if (await _queues.WaitForSendAsync(QueueName, delay, ct))
                {
                    delay = TimeSpan.FromMilliseconds(100);
                    continue;
                }

                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, maxDelay.TotalMilliseconds));
                continue;
            }

            delay = TimeSpan.FromMilliseconds(100);
            foreach (var message in batch)
            {
                await slots.WaitAsync(ct);
                running.Add(Task.Run(async () =>
                {
                    try
                    {
                        await ProcessAsync(queue, deadLetter, message, ct);
                    }
                    finally
                    {
                        slots.Release();
                    }
                }, CancellationToken.None));
            }

            running.RemoveAll(t => t.IsCompleted);
        }

        await Task.WhenAll(running).ContinueWith(_ => { }, TaskScheduler.Default);
    }

    private async Task ProcessAsync(QueueClient queue, QueueClient deadLetter, QueueMessage message, CancellationToken ct)
    {
        var popReceipt = message.PopReceipt;
        using var renewing = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var renewal = Task.Run(async () =>
        {
            // Keep the message hidden while the function runs, as the host renews its lock/visibility.
            while (!renewing.IsCancellationRequested)
            {
                await Delay(TimeSpan.FromMinutes(3), renewing.Token);
                if (renewing.IsCancellationRequested)
                {
                    return;
                }

                try
                {
                    var updated = await queue.UpdateMessageAsync(message.MessageId, popReceipt, visibilityTimeout: Invisibility, cancellationToken: renewing.Token);
                    popReceipt = updated.Value.PopReceipt;
                }
                catch (Exception ex) when (ex is RequestFailedException or OperationCanceledException)
                {
                    return;
                }
            }
        }, CancellationToken.None);

        var body = message.Body.ToString();
        var now = DateTimeOffset.UtcNow;
        var inserted = message.InsertedOn ?? now;
        var envelope = _serviceBus
            ? HostEnvelope.ServiceBus(_function.Name, _trigger.Name, body, message.MessageId, (int)message.DequeueCount, Interlocked.Increment(ref _sequence), inserted, now)
            : HostEnvelope.Queue(_function.Name, _trigger.Name, body, message.MessageId, message.PopReceipt, message.DequeueCount, inserted, message.ExpiresOn ?? inserted.AddDays(7), message.NextVisibleOn ?? now, now);

        InvocationOutcome outcome;
        try
        {
            outcome = await _invoker.InvokeAsync(_function, envelope, ct);
        }
        catch (OperationCanceledException)
        {
            await renewing.CancelAsync();
            return; // shutting down: the message reappears when its invisibility ends
        }

        await renewing.CancelAsync();
        await renewal;
        try
        {
            if (outcome.Success)
            {
                await queue.DeleteMessageAsync(message.MessageId, popReceipt, CancellationToken.None);
            }
            else if (message.DequeueCount >= _maxDeliveries)
            {
                // Body intact, so a replay is the very same message.
                await deadLetter.SendMessageAsync(body, CancellationToken.None);
                await queue.DeleteMessageAsync(message.MessageId, popReceipt, CancellationToken.None);
                _logger.LogError("Message {Id} on {Queue} failed {Count} deliveries and moved to {DeadLetter}: {Error}", message.MessageId, QueueName, message.DequeueCount, DeadLetterQueueName, outcome.Error);
            }
            else
            {
                var visibility = _serviceBus ? TimeSpan.Zero : _settings.VisibilityTimeout;
                await queue.UpdateMessageAsync(message.MessageId, popReceipt, visibilityTimeout: visibility, cancellationToken: CancellationToken.None);
            }
        }
        catch (RequestFailedException ex)
        {
            // The pop receipt expired (the message was already redelivered): at-least-once, the handler is idempotent.
            _logger.LogWarning("Settling message {Id} on {Queue} failed: {Error}", message.MessageId, QueueName, ex.Message);
        }
    }

    private static async Task Delay(TimeSpan delay, CancellationToken ct)
    {
        try
        {
            await Task.Delay(delay, ct);
        }
        catch (OperationCanceledException)
        {
            // stopping
        }
    }
}

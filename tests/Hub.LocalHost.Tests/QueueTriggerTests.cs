using Azure.Storage.Queues;
using Hub.Testing;
using Newtonsoft.Json.Linq;
using Xunit;

namespace Hub.LocalHost.Tests;

/// <summary>The Storage-queue trigger keeps the queue extension's rules: retries, then the poison queue.</summary>
[Collection(AzuriteFixture.Collection)]
public class QueueTriggerTests
{
    [Fact]
    public async Task QueueTrigger_FailingFunction_MovesMessageToPoisonAfterMaxDequeueCount()
    {
        var queueName = "orphan-" + Guid.NewGuid().ToString("N")[..8];
        var root = CopyAppRoot(queueName);
        try
        {
            await using var e2e = await E2E.StartAsync(appRoot: root);
            var options = new QueueClientOptions { MessageEncoding = QueueMessageEncoding.Base64 };
            var queue = new QueueClient(AzuriteFixture.ConnectionString, queueName, options);
            var poison = new QueueClient(AzuriteFixture.ConnectionString, queueName + "-poison", options);
            await queue.CreateIfNotExistsAsync();
            await poison.CreateIfNotExistsAsync();

            // "Orphan" has a function.json but no implementation in the handler: every delivery fails (404).
            await queue.SendMessageAsync("""{"orderId":42}""");

            var moved = await e2e.EventuallyAsync(
                async () => (await poison.PeekMessagesAsync(10)).Value,
                m => m.Length == 1,
                "the message to reach the poison queue");
            Assert.Equal("""{"orderId":42}""", moved[0].Body.ToString());
            Assert.Empty((await queue.PeekMessagesAsync(10)).Value);
            await queue.DeleteIfExistsAsync();
            await poison.DeleteIfExistsAsync();
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>The real app root plus a queue-triggered function, with maxDequeueCount 2 and no retry delay.</summary>
    private static string CopyAppRoot(string queueName)
    {
        var root = Path.Combine(Path.GetTempPath(), "hub-approot-" + Guid.NewGuid().ToString("N")[..8]);
        foreach (var file in Directory.GetFiles(E2E.AppRoot, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(root, Path.GetRelativePath(E2E.AppRoot, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }

        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(Path.Combine(root, "Hub.Functions"), File.GetUnixFileMode(Path.Combine(E2E.AppRoot, "Hub.Functions")));
        }
        var host = JObject.Parse(File.ReadAllText(Path.Combine(root, "host.json")));
        host["extensions"]!["queues"]!["maxDequeueCount"] = 2;
        host["extensions"]!["queues"]!["visibilityTimeout"] = "00:00:00";
        File.WriteAllText(Path.Combine(root, "host.json"), host.ToString());
        Directory.CreateDirectory(Path.Combine(root, "Orphan"));
        File.WriteAllText(Path.Combine(root, "Orphan", "function.json"), new JObject
        {
            ["bindings"] = new JArray(new JObject
            {
                ["type"] = "queueTrigger", ["direction"] = "in", ["name"] = "item", ["queueName"] = queueName, ["connection"] = "AzureWebJobsStorage",
            }),
        }.ToString());
        return root;
    }
}

/// <summary>
/// A send by the host wakes the idle listener of that queue, as the host's SharedQueueWatcher and Service Bus do;
/// without it each hop of a message chain waited out the polling back-off.
/// </summary>
public class QueueWatcherTests
{
    private static QueueClientFactory Factory() => new(AppSettings.Load(Path.GetTempPath(), []), base64: true);

    [Fact]
    public async Task ASendWakesTheWaitingListener_OnlyForItsQueue()
    {
        var queues = Factory();
        var pull = queues.WaitForSendAsync("pull", TimeSpan.FromMinutes(5), CancellationToken.None);
        var push = queues.WaitForSendAsync("push", TimeSpan.FromMilliseconds(200), CancellationToken.None);
        Assert.False(pull.IsCompleted);

        queues.Sent("pull");

        Assert.True(await pull.WaitAsync(TimeSpan.FromMinutes(1)));
        Assert.False(await push);
    }

    [Fact]
    public async Task ASendWhileNobodyWaits_WakesTheNextWait_AndSendsInARowWakeItOnce()
    {
        var queues = Factory();
        queues.Sent("resolve");
        queues.Sent("resolve");
        queues.Sent("resolve");

        Assert.True(await queues.WaitForSendAsync("resolve", TimeSpan.FromMinutes(5), CancellationToken.None).WaitAsync(TimeSpan.FromMinutes(1)));
        // One wake for the three: the listener polls once and takes whatever the three sends put there.
        Assert.False(await queues.WaitForSendAsync("resolve", TimeSpan.FromMilliseconds(100), CancellationToken.None));
    }

    [Fact]
    public async Task AStoppingHost_EndsTheWaitWithoutAWake()
    {
        var queues = Factory();
        using var stopping = new CancellationTokenSource();
        var wait = queues.WaitForSendAsync("ingest", TimeSpan.FromMinutes(5), stopping.Token);

        await stopping.CancelAsync();

        Assert.False(await wait.WaitAsync(TimeSpan.FromMinutes(1)));
    }
}

using System.Net.Http.Headers;
using System.Text;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Hub.LocalHost;

/// <summary>The outcome of one invocation: success with the handler's outputs, or failure (no output is written).</summary>
public sealed record InvocationOutcome(bool Success, JObject? Outputs, string? Error, JToken? ReturnValue = null);

/// <summary>
/// Posts an envelope to <c>/{FunctionName}</c> as the host does, with its headers, and reads the answer. A non-2xx
/// answer, a body that is not JSON, or a transport failure (handler crash) fails the invocation.
/// </summary>
public sealed class FunctionInvoker(HandlerProcess handler, HttpClient http, OutputWriter outputs, ILogger logger)
{
    public const string HostVersion = "4.1037.0-hub-localhost";

    public async Task<InvocationOutcome> InvokeAsync(FunctionDefinition function, JObject envelope, CancellationToken ct)
    {
        var invocationId = Guid.NewGuid().ToString();
        InvocationOutcome outcome;
        try
        {
            var baseUri = await handler.WaitReadyAsync(ct);
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(baseUri, function.Name))
            {
                Content = new StringContent(envelope.ToString(Formatting.None), Encoding.UTF8, "application/json"),
            };
            AddHostHeaders(request.Headers, invocationId);
            using var response = await http.SendAsync(request, ct);
            var text = await response.Content.ReadAsStringAsync(ct);
            if (!response.IsSuccessStatusCode)
            {
                outcome = new InvocationOutcome(false, null, $"handler answered {(int)response.StatusCode}: {Truncate(text)}");
            }
            else
            {
                var body = JObject.Parse(text);
                var logs = Get(body, "Logs") as JArray;
                foreach (var line in logs ?? [])
                {
                    logger.LogInformation("[{Function}] {Line}", function.Name, line.ToString());
                }

                outcome = new InvocationOutcome(true, Get(body, "Outputs") as JObject ?? [], null, Get(body, "ReturnValue"));
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or JsonException or IOException || (ex is TaskCanceledException && !ct.IsCancellationRequested))
        {
            outcome = new InvocationOutcome(false, null, $"invocation failed: {ex.Message}");
        }

        if (outcome.Success)
        {
            try
            {
                await outputs.WriteAsync(function, outcome.Outputs!, ct);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // As in Azure: an output that cannot be written fails the invocation and the trigger is redelivered.
                outcome = new InvocationOutcome(false, null, $"output binding failed: {ex.Message}");
            }
        }

        if (!outcome.Success)
        {
            logger.LogWarning("Executed '{Function}' (Failed, Id={InvocationId}): {Error}", function.Name, invocationId, outcome.Error);
        }
        else
        {
            logger.LogInformation("Executed '{Function}' (Succeeded, Id={InvocationId})", function.Name, invocationId);
        }

        return outcome;
    }

    public static void AddHostHeaders(HttpRequestHeaders headers, string invocationId)
    {
        headers.TryAddWithoutValidation("X-Azure-Functions-InvocationId", invocationId);
        headers.TryAddWithoutValidation("X-Azure-Functions-HostVersion", HostVersion);
        headers.UserAgent.Clear();
        headers.UserAgent.Add(new ProductInfoHeaderValue("Azure-Functions-Host", HostVersion));
    }

    internal static JToken? Get(JObject obj, string key) =>
        obj.Properties().FirstOrDefault(p => string.Equals(p.Name, key, StringComparison.OrdinalIgnoreCase))?.Value;

    private static string Truncate(string text) => text.Length <= 500 ? text : text[..500] + "…";
}

/// <summary>Writes a successful invocation's queue and serviceBus outputs to the Azurite queues of the same names.</summary>
public sealed class OutputWriter(QueueClientFactory queues)
{
    public async Task WriteAsync(FunctionDefinition function, JObject outputs, CancellationToken ct)
    {
        foreach (var binding in function.Outputs.Where(b => b.Type is "queue" or "serviceBus"))
        {
            var value = FunctionInvoker.Get(outputs, binding.Name);
            var binary = string.Equals(binding.Get("dataType"), "binary", StringComparison.OrdinalIgnoreCase);
            var messages = HostEnvelope.OutputMessages(value, binary);
            if (messages.Count == 0)
            {
                continue;
            }

            var queueName = binding.Get("queueName") ?? binding.Get("topicName")
                ?? throw new InvalidOperationException($"{function.Name}: output '{binding.Name}' names no queue.");
            var client = await queues.GetAsync(queueName, binding.Get("connection"), ct);
            foreach (var message in messages)
            {
                await client.SendMessageAsync(message, ct);
            }

            queues.Sent(queueName);
        }
    }
}

using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Data.Tables;

namespace Hub.Functions.State;

/// <summary>
/// Counts the requests this process sends to Table Storage (a batch transaction is one request, as it is billed),
/// shown on <c>GET /api/health</c> so the end-to-end benchmark can report operations per order.
/// </summary>
public static class TableOperations
{
    private static long _count;

    public static long Count => Interlocked.Read(ref _count);

    public static TableClientOptions Options()
    {
        var options = new TableClientOptions();
        options.AddPolicy(new CountingPolicy(), HttpPipelinePosition.PerCall);
        return options;
    }

    private sealed class CountingPolicy : HttpPipelineSynchronousPolicy
    {
        public override void OnSendingRequest(HttpMessage message) => Interlocked.Increment(ref _count);
    }
}

namespace Hub.Functions.Hosting;

/// <summary>A non-HTTP function (timer, queue, Service Bus). Registered by its function.json folder name.</summary>
public interface IFunction
{
    Task<InvocationResult> InvokeAsync(Invocation invocation, CancellationToken cancellationToken);
}

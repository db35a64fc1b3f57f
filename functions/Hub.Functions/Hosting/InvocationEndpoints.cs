using System.Text;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Hub.Functions.Hosting;

/// <summary>
/// Maps the custom-handler contract: <c>GET /</c> answers the host's readiness probe; <c>POST /{FunctionName}</c>
/// receives an enveloped invocation. Any failure answers non-2xx, so the host writes no output and redelivers.
/// </summary>
public static class InvocationEndpoints
{
    public const string InvocationIdHeader = "X-Azure-Functions-InvocationId";

    public static IEndpointRouteBuilder MapCustomHandler(this IEndpointRouteBuilder app)
    {
        app.MapGet("/", () => Results.Text("Hub custom handler is ready.", "text/plain"));
        app.MapPost("/{functionName}", InvokeAsync);
        return app;
    }

    private static async Task<IResult> InvokeAsync(string functionName, HttpContext http, IServiceProvider services, ILoggerFactory loggers)
    {
        var logger = loggers.CreateLogger("Hub.Functions.Invocation");
        var function = services.GetKeyedService<IFunction>(functionName);
        if (function is null)
        {
            return Problem(StatusCodes.Status404NotFound, "Unknown function", $"No function named '{functionName}' is registered in this handler.");
        }

        var invocationId = http.Request.Headers[InvocationIdHeader].ToString();
        Invocation invocation;
        try
        {
            using var reader = new StreamReader(http.Request.Body, Encoding.UTF8);
            using var json = new JsonTextReader(reader) { DateParseHandling = DateParseHandling.None, FloatParseHandling = FloatParseHandling.Decimal, MaxDepth = 128 };
            var envelope = await JObject.LoadAsync(json, http.RequestAborted);
            invocation = Invocation.Parse(functionName, string.IsNullOrEmpty(invocationId) ? null : invocationId, envelope);
        }
        catch (Exception ex) when (ex is JsonException or InvocationDecodingException)
        {
            logger.LogWarning("Invocation {InvocationId} of {Function}: malformed envelope: {Error}", invocationId, functionName, ex.Message);
            return Problem(StatusCodes.Status400BadRequest, "Malformed invocation envelope", ex.Message);
        }

        using var scope = logger.BeginScope(new Dictionary<string, object?> { ["InvocationId"] = invocationId, ["Function"] = functionName });
        try
        {
            var result = await function.InvokeAsync(invocation, http.RequestAborted);
            return Results.Text(result.ToJson().ToString(Formatting.None), "application/json", Encoding.UTF8);
        }
        catch (InvocationDecodingException ex)
        {
            logger.LogWarning("Invocation {InvocationId} of {Function}: bad payload: {Error}", invocationId, functionName, ex.Message);
            return Problem(StatusCodes.Status400BadRequest, "Malformed trigger payload", ex.Message);
        }
        catch (Exception ex) when (!http.RequestAborted.IsCancellationRequested)
        {
            // Non-2xx: the host writes no output binding and redelivers the trigger (Service Bus abandon, queue retry).
            logger.LogError(ex, "Invocation {InvocationId} of {Function} failed (delivery {DeliveryCount})", invocationId, functionName, invocation.DeliveryCount);
            return Problem(StatusCodes.Status500InternalServerError, "Invocation failed", ex.Message);
        }
    }

    internal static IResult Problem(int status, string title, string detail, JObject? extensions = null)
    {
        var body = new JObject { ["type"] = "about:blank", ["title"] = title, ["status"] = status, ["detail"] = detail };
        body.Merge(extensions);
        return Results.Text(body.ToString(Formatting.None), "application/problem+json", Encoding.UTF8, status);
    }
}

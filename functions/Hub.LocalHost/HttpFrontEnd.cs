using System.Text;
using Microsoft.AspNetCore.Routing.Template;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Hub.LocalHost;

/// <summary>
/// The host's public HTTP side on 127.0.0.1:7071. <c>/{routePrefix}/{route}</c> is matched against every
/// httpTrigger's route and methods. With <c>enableForwardingHttpRequest</c> and a function that has exactly one
/// httpTrigger and one http output, the request is forwarded to the handler as is (path, query, headers, raw body
/// only when Content-Length &gt; 0, as the host does); otherwise it is enveloped as <c>Data.req</c> and the answer is
/// read from <c>Outputs.res</c>. Function keys are not checked locally, as with Core Tools.
/// </summary>
public sealed class HttpFrontEnd(AppDefinition app, HandlerProcess handler, HttpClient http, FunctionInvoker invoker, ILogger logger)
{
    private static readonly HashSet<string> HopByHop = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Transfer-Encoding", "Upgrade", "Proxy-Connection", "TE", "Trailer", "Host",
    };

    private readonly List<(FunctionDefinition Function, TemplateMatcher Matcher, HashSet<string>? Methods)> _routes = app.Functions
        .Where(f => f.Trigger.Type == "httpTrigger")
        .Select(f => (f, new TemplateMatcher(TemplateParser.Parse(f.Trigger.Get("route") ?? f.Name), new RouteValueDictionary()), Methods(f)))
        .ToList();

    private static HashSet<string>? Methods(FunctionDefinition f) =>
        f.Trigger.Json["methods"] is JArray m && m.Count > 0 ? new HashSet<string>(m.Values<string>()!, StringComparer.OrdinalIgnoreCase) : null;

    public async Task HandleAsync(HttpContext context)
    {
        var prefix = "/" + app.RoutePrefix.Trim('/');
        var path = context.Request.Path.Value ?? "/";
        if (!path.StartsWith(prefix + "/", StringComparison.OrdinalIgnoreCase))
        {
            await Problem(context, 404, "Not found", $"Functions are served under {prefix}/.");
            return;
        }

        var routePath = new PathString(path[prefix.Length..]);
        var methodMismatch = false;
        foreach (var (function, matcher, methods) in _routes)
        {
            var values = new RouteValueDictionary();
            if (!matcher.TryMatch(routePath, values))
            {
                continue;
            }

            if (methods is not null && !methods.Contains(context.Request.Method))
            {
                methodMismatch = true;
                continue;
            }

            if (app.EnableForwardingHttpRequest && function.IsHttpInAndOut)
            {
                await ForwardAsync(context, function);
            }
            else
            {
                await EnvelopeAsync(context, function, values);
            }

            return;
        }

        await Problem(context, methodMismatch ? 405 : 404, methodMismatch ? "Method not allowed" : "Not found", $"No function serves {context.Request.Method} {path}.");
    }

    private async Task ForwardAsync(HttpContext context, FunctionDefinition function)
    {
        var invocationId = Guid.NewGuid().ToString();
        Uri baseUri;
        try
        {
            baseUri = await handler.WaitReadyAsync(context.RequestAborted).WaitAsync(TimeSpan.FromSeconds(30), context.RequestAborted);
        }
        catch (TimeoutException)
        {
            await Problem(context, 503, "Handler unavailable", "The function app's handler is not running.");
            return;
        }

        byte[]? body = null;
        if (context.Request.ContentLength > 0)
        {
            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
            body = buffer.ToArray();
        }

        try
        {
            HttpResponseMessage response;
            try
            {
                response = await SendAsync(context, baseUri, body, invocationId);
            }
            catch (HttpRequestException ex) when (ex.InnerException is System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.ConnectionRefused })
            {
                // The handler died before the request reached it (nothing was processed): wait for the restarted
                // handler and send the same request once more.
                baseUri = await handler.WaitReadyAsync(context.RequestAborted).WaitAsync(TimeSpan.FromSeconds(30), context.RequestAborted);
                response = await SendAsync(context, baseUri, body, invocationId);
            }

            using (response)
            {
                context.Response.StatusCode = (int)response.StatusCode;
                foreach (var header in response.Headers.Concat(response.Content.Headers))
                {
                    if (!HopByHop.Contains(header.Key))
                    {
                        context.Response.Headers[header.Key] = header.Value.ToArray();
                    }
                }

                var bytes = await response.Content.ReadAsByteArrayAsync(context.RequestAborted);
                await context.Response.Body.WriteAsync(bytes, context.RequestAborted);
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or TimeoutException)
        {
            logger.LogWarning("Forwarding {Method} {Path} to {Function} failed: {Error}", context.Request.Method, context.Request.Path, function.Name, ex.Message);
            await Problem(context, 500, "Function failed", $"The handler did not answer: {ex.Message}");
        }
    }

    private async Task<HttpResponseMessage> SendAsync(HttpContext context, Uri baseUri, byte[]? body, string invocationId)
    {
        var target = new Uri(baseUri, context.Request.Path.Value + context.Request.QueryString.Value);
        using var request = new HttpRequestMessage(new HttpMethod(context.Request.Method), target);
        if (body is not null)
        {
            request.Content = new ByteArrayContent(body);
        }

        foreach (var header in context.Request.Headers)
        {
            if (HopByHop.Contains(header.Key) || header.Key.StartsWith("X-Forwarded-", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            if (!request.Headers.TryAddWithoutValidation(header.Key, (IEnumerable<string?>)header.Value))
            {
                request.Content?.Headers.TryAddWithoutValidation(header.Key, (IEnumerable<string?>)header.Value);
            }
        }

        // What a reverse proxy tells the app behind it: the address the browser used (OAuth callback URLs).
        request.Headers.TryAddWithoutValidation("X-Forwarded-Host", context.Request.Host.ToString());
        request.Headers.TryAddWithoutValidation("X-Forwarded-Proto", context.Request.Scheme);
        request.Headers.TryAddWithoutValidation("X-Azure-Functions-InvocationId", invocationId);
        request.Headers.TryAddWithoutValidation("X-Azure-Functions-HostVersion", FunctionInvoker.HostVersion);
        return await http.SendAsync(request, HttpCompletionOption.ResponseContentRead, context.RequestAborted);
    }

    private async Task EnvelopeAsync(HttpContext context, FunctionDefinition function, RouteValueDictionary values)
    {
        var trigger = function.Trigger;
        var request = new JObject
        {
            ["Url"] = $"{context.Request.Scheme}://{context.Request.Host}{context.Request.Path}{context.Request.QueryString}",
            ["Method"] = context.Request.Method,
            ["Query"] = new JObject(context.Request.Query.Select(q => new JProperty(q.Key, q.Value.ToString()))),
            ["Headers"] = new JObject(context.Request.Headers.Select(h => new JProperty(h.Key, new JArray(h.Value.Select(v => new JValue(v)))))),
            ["Params"] = new JObject(values.Select(v => new JProperty(v.Key, v.Value?.ToString()))),
            ["Identities"] = new JArray(),
        };
        if (context.Request.ContentLength > 0)
        {
            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
            var contentType = context.Request.ContentType ?? "";
            request["Body"] = contentType.StartsWith("application/octet-stream", StringComparison.OrdinalIgnoreCase) || contentType.StartsWith("multipart/", StringComparison.OrdinalIgnoreCase)
                ? Convert.ToBase64String(buffer.ToArray())
                : Encoding.UTF8.GetString(buffer.ToArray());
        }

        var metadata = new JObject { ["sys"] = HostEnvelope.Sys(function.Name, DateTimeOffset.UtcNow) };
        foreach (var (key, value) in values)
        {
            metadata[key] = HostEnvelope.Scalar(value?.ToString());
        }

        var outcome = await invoker.InvokeAsync(function, HostEnvelope.Envelope(new JObject { [trigger.Name] = request }, metadata), context.RequestAborted);
        if (!outcome.Success)
        {
            await Problem(context, 500, "Function failed", outcome.Error ?? "failed");
            return;
        }

        var output = function.Outputs.FirstOrDefault(b => b.Type == "http");
        var res = output?.Name == "$return" ? outcome.ReturnValue : output is null ? null : FunctionInvoker.Get(outcome.Outputs!, output.Name);
        if (res is not JObject response)
        {
            // The host throws when res is not an object (breaking change of 2020).
            await Problem(context, 500, "Function failed", "Outputs.res must be a JSON object.");
            return;
        }

        context.Response.StatusCode = int.TryParse(FunctionInvoker.Get(response, "statusCode")?.ToString(), out var status) ? status : 200;
        if (FunctionInvoker.Get(response, "headers") is JObject headers)
        {
            foreach (var header in headers.Properties())
            {
                context.Response.Headers[header.Name] = header.Value.ToString();
            }
        }

        var body = FunctionInvoker.Get(response, "body");
        if (body is not null && body.Type != JTokenType.Null)
        {
            await context.Response.WriteAsync(body.Type == JTokenType.String ? (string)body! : body.ToString(Formatting.None), context.RequestAborted);
        }
    }

    internal static Task Problem(HttpContext context, int status, string title, string detail)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/problem+json";
        return context.Response.WriteAsync(new JObject { ["type"] = "about:blank", ["title"] = title, ["status"] = status, ["detail"] = detail }.ToString(Formatting.None));
    }
}

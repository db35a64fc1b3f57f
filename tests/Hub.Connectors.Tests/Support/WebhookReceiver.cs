using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Hub.Connectors.Tests.Support;

/// <summary>
/// A real HTTP endpoint that hands each delivery's raw bytes and headers to a connector's parser and answers as the
/// Hub's webhook function will: 200 on success or ping, 401 for a bad signature, 400 for a malformed delivery.
/// </summary>
internal sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;

    private WebhookReceiver(WebApplication app) => _app = app;

    public ConcurrentQueue<WebhookBatch> Accepted { get; } = new();

    public ConcurrentQueue<int> Statuses { get; } = new();

    /// <summary>Answer this status instead of parsing (a receiver that is down).</summary>
    public int? ForceStatus { get; set; }

    public Uri Url { get; private set; } = null!;

    public static async Task<WebhookReceiver> StartAsync(IStoreConnector connector, ConnectionContext connection)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var receiver = new WebhookReceiver(app);
        app.MapPost("/webhooks", async (HttpContext context) =>
        {
            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer);
            var status = receiver.ForceStatus ?? Handle(connector, connection, buffer.ToArray(), context.Request.Headers, receiver);
            receiver.Statuses.Enqueue(status);
            context.Response.StatusCode = status;
            if (status == 200 && receiver.ForceStatus is null && receiver.Accepted.LastOrDefault()?.ReplyJson is { } reply)
            {
                context.Response.ContentType = "application/json";
                await context.Response.WriteAsync(reply);
            }
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        receiver.Url = new Uri(address + "/webhooks");
        return receiver;
    }

    private static int Handle(IStoreConnector connector, ConnectionContext connection, byte[] body, IHeaderDictionary headers, WebhookReceiver receiver)
    {
        try
        {
            var batch = connector.ParseWebhook(new WebhookRequest(connection, body, headers.Select(h => new KeyValuePair<string, string>(h.Key, h.Value.ToString()))));
            receiver.Accepted.Enqueue(batch);
            return 200;
        }
        catch (WebhookUnauthorizedException)
        {
            return 401;
        }
        catch (ConnectorValidationException)
        {
            return 400;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

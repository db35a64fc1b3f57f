using Hub.Connectors;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Newtonsoft.Json.Linq;

namespace Hub.Testing.Connectors;

/// <summary>
/// A store connector registered only in tests (loaded by the handler through <c>Hub:PluginAssemblies</c>), whose
/// behaviour the connection's settings script: how many pages, how many records per page, how often to fail
/// before succeeding (every page, or from page <c>failFromPage</c> on), to fail always, or to crash the handler
/// process once (marker file), or to answer slowly (<c>delayMs</c>). It counts the calls made to it.
/// It proves the runtime's paths, retries and dead-lettering without any platform.
/// </summary>
public sealed class ScriptedStoreConnector : IStoreConnector
{
    public const string Id = "test-scripted";

    private static readonly Dictionary<string, int> FailuresSoFar = new(StringComparer.Ordinal);
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> CallsSoFar = new(StringComparer.Ordinal);

    /// <summary>How many pages a connection asked for, failed attempts included (each is a call to the store).</summary>
    public static int Calls(string tenant, string connectionId) => CallsSoFar.GetValueOrDefault($"{tenant}/{connectionId}");

    public ConnectorInfo Info { get; } = new(
        Id,
        "Scripted test store",
        ConnectorKind.Store,
        "none",
        [new StreamInfo("orders", "updated_at", TimeSpan.FromMinutes(60))]);

    /// <summary>The scripted store accepts any connection except one scripted to have bad credentials.</summary>
    public Task TestConnectionAsync(ConnectionContext connection, CancellationToken cancellationToken) =>
        connection.Settings.Value<bool?>("validationError") == true
            ? Task.FromException(new ConnectorValidationException("The store rejected the credentials (scripted)."))
            : Task.CompletedTask;

    public async Task<PullPage> PullAsync(PullRequest request, CancellationToken cancellationToken)
    {
        if (request.Connection.Settings.Value<int?>("delayMs") is { } delay)
        {
            await Task.Delay(delay, cancellationToken); // a slow store: two invocations of one page overlap
        }

        return Pull(request);
    }

    private static PullPage Pull(PullRequest request)
    {
        var s = request.Connection.Settings;
        CallsSoFar.AddOrUpdate($"{request.Connection.TenantId}/{request.Connection.ConnectionId}", 1, (_, n) => n + 1);
        var key = $"{request.Connection.TenantId}/{request.Connection.ConnectionId}/{request.Cursor}";
        if (s.Value<string>("crashOnceMarker") is { } marker && !File.Exists(marker))
        {
            File.WriteAllText(marker, key);
            Environment.Exit(70); // the handler dies mid-invocation
        }

        if (s.Value<bool?>("validationError") == true)
        {
            throw new ConnectorValidationException("The store rejected the credentials (scripted).");
        }

        if (s.Value<bool?>("alwaysFail") == true)
        {
            throw new ConnectorTransientException("Scripted outage: 503 from the store.");
        }

        var page = request.Cursor is null ? 0 : int.Parse(request.Cursor, System.Globalization.CultureInfo.InvariantCulture);
        var failTimes = page >= (s.Value<int?>("failFromPage") ?? 0) ? s.Value<int?>("failTimes") ?? 0 : 0;
        lock (FailuresSoFar)
        {
            FailuresSoFar.TryGetValue(key, out var failed);
            if (failed < failTimes)
            {
                FailuresSoFar[key] = failed + 1;
                throw new ConnectorTransientException($"Scripted failure {failed + 1} of {failTimes}.");
            }
        }

        var pages = s.Value<int?>("pages") ?? 1;
        var perPage = s.Value<int?>("perPage") ?? 3;
        var records = Enumerable.Range(0, perPage).Select(i =>
        {
            var updated = request.WindowStart.AddMinutes(page * perPage + i + 1);
            return new JObject { ["id"] = $"o{page}-{i}", ["updated_at"] = updated.ToString("O") };
        }).ToList();
        var more = page + 1 < pages;
        if (s.Value<bool?>("moreWithoutCursor") == true)
        {
            return new PullPage(records, null, true, null); // a broken connector
        }

        var max = records.Count == 0 ? (DateTimeOffset?)null : request.WindowStart.AddMinutes(page * perPage + perPage);
        return new PullPage(records, more ? (page + 1).ToString(System.Globalization.CultureInfo.InvariantCulture) : null, more, max);
    }
}

public sealed class TestConnectorsPlugin : IHubPlugin
{
    public void Register(IServiceCollection services, IConfiguration configuration) =>
        services.AddStoreConnector<ScriptedStoreConnector>(ScriptedStoreConnector.Id);
}

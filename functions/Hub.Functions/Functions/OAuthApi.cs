using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Azure;
using Azure.Data.Tables;
using Hub.Connectors;
using Hub.Functions.Hosting;
using Hub.Functions.State;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Hub.Functions.Functions;

/// <summary>
/// OAuth connect flows for the platforms that have them (Shopify, Zoho CRM, Youzan, HubSpot: every connector that is
/// an <see cref="IOAuthInstaller"/>), as forwarded HTTP function <c>OAuth</c>:
/// <list type="number">
/// <item><c>POST /api/oauth/{connector}/start?tenant=</c> (bearer checked) with <c>{"id","displayName","account",
/// "backfillStart","intervalMinutes"}</c>: the connector validates the account (Shopify's shop domain, Zoho's data
/// centre) and builds the authorize URL with a fresh state nonce. The Installs table keeps the pending install under
/// the nonce's hash for ten minutes, bound to this browser by a random value whose hash is stored and which goes
/// back only as an HttpOnly, SameSite=Lax cookie scoped to <c>/api/oauth</c>.</item>
/// <item>The platform sends the browser to <c>GET /api/oauth/{connector}/callback</c>: the pending install is
/// taken (deleted with its ETag, so a callback works once), its browser binding checked in constant time, the
/// callback verified by the connector (state, Shopify's HMAC and timestamp, Zoho's accounts server) and the code
/// exchanged. The tokens are tested against the platform, stored encrypted, and the browser goes back to the setup
/// page with the outcome in plain words. Nothing is stored when any step fails.</item>
/// </list>
/// The callback URL is <c>Hub:PublicBaseUrl</c> + <c>/api/oauth/{connector}/callback</c> (register it with each
/// platform's app); locally the host's own address, from the forwarded Host.
/// </summary>
public static class OAuthApi
{
    public const string CookieName = "hub_oauth";
    private const string Partition = "install";
    private static readonly TimeSpan InstallFor = TimeSpan.FromMinutes(10);

    public static IEndpointRouteBuilder MapOAuthApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/oauth/{connector}/start", StartAsync);
        app.MapGet("/api/oauth/{connector}/callback", CallbackAsync);
        return app;
    }

    /// <summary>The Hub's public origin: <c>Hub:PublicBaseUrl</c>, else what the front end forwarded, else the request's own.</summary>
    internal static string PublicBase(HttpContext http)
    {
        var configured = http.RequestServices.GetRequiredService<IConfiguration>()["Hub:PublicBaseUrl"];
        if (!string.IsNullOrEmpty(configured))
        {
            return configured.TrimEnd('/');
        }

        var host = http.Request.Headers["X-Forwarded-Host"].ToString() is { Length: > 0 } forwarded ? forwarded : http.Request.Host.ToString();
        var scheme = http.Request.Headers["X-Forwarded-Proto"].ToString() is { Length: > 0 } proto ? proto : http.Request.Scheme;
        return $"{scheme}://{host}";
    }

    private static Uri CallbackUri(HttpContext http, string connector) => new($"{PublicBase(http)}/api/oauth/{Uri.EscapeDataString(connector)}/callback");

    private static string Hex(string value) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(value)));

    private static string Nonce() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static async Task<IResult> StartAsync(string connector, HttpContext http, ConnectionStore connections, HubTables tables, IServiceProvider services, TimeProvider clock, CancellationToken ct)
    {
        var (tenant, problem) = await PipelineApi.AuthorizeAsync(http, ct);
        if (problem is not null)
        {
            return problem;
        }

        if (services.GetKeyedService<IOAuthInstaller>(connector) is not { } installer)
        {
            return InvocationEndpoints.Problem(StatusCodes.Status404NotFound, "No OAuth for this platform", $"'{connector}' does not connect with OAuth; use its key form.");
        }

        JObject body;
        try
        {
            using var reader = new StreamReader(http.Request.Body, Encoding.UTF8);
            var text = await reader.ReadToEndAsync(ct);
            body = text.Length == 0 ? [] : JObject.Parse(text.Length > 16 * 1024 ? throw new JsonReaderException("The form is at most 16 KiB.") : text);
        }
        catch (JsonException ex)
        {
            return InvocationEndpoints.Problem(StatusCodes.Status400BadRequest, "Malformed form", ex.Message);
        }

        var id = body.Value<string>("id") ?? "";
        try
        {
            HubTables.ValidateKey(id, "id");
        }
        catch (ArgumentException ex)
        {
            return InvocationEndpoints.Problem(StatusCodes.Status400BadRequest, "Invalid connection id", ex.Message);
        }

        if (await connections.GetAsync(tenant, id, ct) is { } existing && existing.ConnectorId != connector)
        {
            return InvocationEndpoints.Problem(StatusCodes.Status409Conflict, "Id in use", $"{id} is already a {existing.ConnectorId} connection.");
        }

        DateTimeOffset? backfill = null;
        if (body["backfillStart"] is { Type: not JTokenType.Null } start && start.ToString().Length > 0)
        {
            if (!DateTimeOffset.TryParse(start.ToString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed) || parsed > clock.GetUtcNow())
            {
                return InvocationEndpoints.Problem(StatusCodes.Status400BadRequest, "Invalid backfill start", "backfillStart must be a date in the past (yyyy-MM-dd).");
            }

            backfill = parsed;
        }

        var state = Nonce();
        var binding = Nonce();
        var redirect = CallbackUri(http, connector);
        OAuthStart begun;
        try
        {
            begun = installer.BeginInstall(new OAuthBegin(body.Value<string>("account") ?? "", redirect, state));
        }
        catch (ConnectorValidationException ex)
        {
            return InvocationEndpoints.Problem(StatusCodes.Status400BadRequest, "Cannot start the install", ex.Message);
        }

        var table = await tables.GetAsync(HubTables.Installs, ct);
        var now = clock.GetUtcNow();
        await foreach (var expired in table.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey eq {Partition} and ExpiresAt lt {now}"), select: ["PartitionKey", "RowKey"], maxPerPage: 100, cancellationToken: ct))
        {
            // Installs abandoned at the platform's consent screen: removed by the next start, never kept.
            await table.DeleteEntityAsync(expired.PartitionKey, expired.RowKey, Azure.ETag.All, ct);
        }

        await table.AddEntityAsync(new TableEntity(Partition, Hex(state))
        {
            ["Tenant"] = tenant,
            ["Connector"] = connector,
            ["ConnectionId"] = id,
            ["DisplayName"] = body.Value<string>("displayName") is { Length: > 0 and <= 100 } name ? name : id,
            ["Account"] = begun.Account,
            ["BackfillStart"] = backfill,
            ["IntervalMinutes"] = body.Value<int?>("intervalMinutes") is { } minutes and >= 1 and <= 1440 ? minutes : null,
            ["Binding"] = Hex(binding),
            ["RedirectUri"] = redirect.ToString(),
            ["ExpiresAt"] = now + InstallFor,
        }, ct);
        http.Response.Cookies.Append(CookieName, binding, new CookieOptions
        {
            HttpOnly = true,
            SameSite = SameSiteMode.Lax, // sent on the platform's top-level redirect back, never on cross-site subrequests
            Secure = redirect.Scheme == Uri.UriSchemeHttps,
            Path = "/api/oauth",
            MaxAge = InstallFor,
        });
        http.Response.Headers.CacheControl = "no-store";
        return Results.Text(new JObject { ["authorizeUrl"] = begun.AuthorizeUrl.ToString(), ["account"] = begun.Account, ["expiresInSeconds"] = (int)InstallFor.TotalSeconds }.ToString(Formatting.None), "application/json", Encoding.UTF8);
    }

    private static async Task<IResult> CallbackAsync(string connector, HttpContext http, ConnectionStore connections, ISecretStore secrets, HubTables tables, IServiceProvider services, TimeProvider clock, ILoggerFactory loggers, CancellationToken ct)
    {
        var logger = loggers.CreateLogger("Hub.OAuth");
        http.Response.Headers.CacheControl = "no-store";
        http.Response.Headers["Referrer-Policy"] = "no-referrer"; // the code must not leak to the next page's requests
        IResult Back(string? connected, string? error)
        {
            http.Response.Cookies.Delete(CookieName, new CookieOptions { Path = "/api/oauth" });
            var query = connected is not null ? $"connected={Uri.EscapeDataString(connected)}" : $"oauth_error={Uri.EscapeDataString(error ?? "")}";
            return Results.Redirect($"/api/setup?{query}#connections");
        }

        var query = http.Request.Query.ToDictionary(p => p.Key, p => p.Value.ToString(), StringComparer.Ordinal);
        if (!query.TryGetValue("state", out var state) || state.Length is 0 or > 200)
        {
            return Back(null, "The platform sent the browser back without this install's state; start the connection again.");
        }

        var table = await tables.GetAsync(HubTables.Installs, ct);
        var found = await table.GetEntityIfExistsAsync<TableEntity>(Partition, Hex(state), cancellationToken: ct);
        if (!found.HasValue || found.Value!.GetString("Connector") != connector)
        {
            return Back(null, "This install is unknown or was already completed; start the connection again.");
        }

        var install = found.Value;
        try
        {
            await table.DeleteEntityAsync(Partition, install.RowKey, install.ETag, ct); // one use, even when two callbacks race
        }
        catch (RequestFailedException ex) when (ex.Status is 404 or 412)
        {
            return Back(null, "This install was already completed; start the connection again.");
        }

        if (install.GetDateTimeOffset("ExpiresAt") is not { } expires || expires < clock.GetUtcNow())
        {
            return Back(null, "This install took longer than ten minutes; start the connection again.");
        }

        var cookie = http.Request.Cookies[CookieName] ?? "";
        if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Hex(cookie)), Encoding.ASCII.GetBytes(install.GetString("Binding") ?? "")))
        {
            // Someone else's callback link: connecting it would put their account into this browser's tenant (or ours into theirs).
            logger.LogWarning("OAuth callback for {Connector} without the browser binding of its install", connector);
            return Back(null, "This install was started in another browser; start the connection again here.");
        }

        var tenant = install.GetString("Tenant")!;
        var id = install.GetString("ConnectionId")!;
        var installer = services.GetRequiredKeyedService<IOAuthInstaller>(connector);
        OAuthGrant grant;
        try
        {
            grant = await installer.CompleteInstallAsync(new OAuthCallback(query, state, new Uri(install.GetString("RedirectUri")!)), ct);
        }
        catch (ConnectorTransientException ex)
        {
            return Back(null, $"The platform did not answer; try again in a minute ({ex.Message}).");
        }
        catch (ConnectorException ex)
        {
            logger.LogInformation("OAuth install of {Tenant}/{Connection} ({Connector}) refused", tenant, id, connector);
            return Back(null, ex.Message);
        }

        var settings = (JObject)grant.Settings.DeepClone();
        var context = new ConnectionContext(tenant, id, connector, (JObject)settings.DeepClone());
        context.Settings["secrets"] = grant.Secrets.DeepClone();
        try
        {
            var store = services.GetKeyedService<IStoreConnector>(connector);
            await (store is not null ? store.TestConnectionAsync(context, ct) : services.GetRequiredKeyedService<ICrmConnector>(connector).TestConnectionAsync(context, ct));
        }
        catch (ConnectorException ex)
        {
            return Back(null, $"The platform granted access, but the first call failed: {ex.Message}");
        }

        var existing = await connections.GetAsync(tenant, id, ct);
        if (existing is not null && existing.ConnectorId != connector)
        {
            return Back(null, $"{id} is already a {existing.ConnectorId} connection.");
        }

        var row = existing ?? new ConnectionEntity { PartitionKey = tenant, RowKey = id, CreatedAt = clock.GetUtcNow() };
        row.ConnectorId = connector;
        row.DisplayName = install.GetString("DisplayName") ?? id;
        row.SettingsJson = settings.ToString(Formatting.None);
        // A test call may have refreshed the tokens: store what the context holds now.
        row.SecretsRef = await secrets.SaveAsync(tenant, id, (JObject)context.Settings["secrets"]!, ct);
        row.Status = ConnectionStatus.Active;
        row.BackfillStart = install.GetDateTimeOffset("BackfillStart") ?? row.BackfillStart;
        row.IntervalMinutes = install.GetInt32("IntervalMinutes") ?? row.IntervalMinutes;
        await connections.UpsertAsync(row, ct);
        logger.LogInformation("OAuth install of {Tenant}/{Connection} ({Connector}) connected", tenant, id, connector);
        return Back(id, null);
    }
}

using System.Security.Cryptography;
using System.Text;
using Azure;
using Azure.Data.Tables;
using Hub.Functions.State;
using Newtonsoft.Json.Linq;

namespace Hub.Functions.Hosting;

/// <summary>The outcome of an access check: 200, or 401/403 with what to do about it.</summary>
public sealed record AccessDecision(int Status, string Title, string Detail)
{
    public static readonly AccessDecision Allowed = new(200, "", "");

    public bool IsAllowed => Status == 200;
}

/// <summary>
/// Who may act for which tenant on the setup page and its APIs (docs/adr/0014-setup-access.md). Requests carry
/// <c>Authorization: Bearer &lt;token&gt;</c>. The admin token (setting <c>Hub:AdminToken</c>: printed by
/// <c>./hub run</c> locally, a Key Vault reference in Azure) acts for every tenant and issues tenant tokens; a tenant
/// token acts for its own tenant only. Tokens are stored as their SHA-256 only (table Access, partition
/// <c>token</c>); the admin token is compared in constant time. No token is ever logged.
/// </summary>
public sealed class HubAccess(IConfiguration configuration, HubTables tables, TimeProvider clock)
{
    public const string TokenPartition = "token";
    private const string TenantTokenPrefix = "hubt_";

    private readonly byte[]? _admin = configuration["Hub:AdminToken"] is { Length: >= 16 } admin ? Hash(admin) : null;

    /// <summary>May the bearer of <paramref name="authorization"/> act for <paramref name="tenant"/>?</summary>
    public async Task<AccessDecision> CheckAsync(string? authorization, string tenant, CancellationToken ct)
    {
        if (Bearer(authorization) is not { } token)
        {
            return new(401, "Sign in", "Send Authorization: Bearer <token>: the admin token (./hub run prints it) or a tenant token.");
        }

        if (IsAdmin(token))
        {
            return AccessDecision.Allowed;
        }

        var owner = await TenantOfAsync(token, ct);
        return owner is null ? new(401, "Unknown token", "The token is not valid (revoked, mistyped, or from another installation).")
            : owner == tenant ? AccessDecision.Allowed
            : new(403, "Not your tenant", "This token belongs to another tenant.");
    }

    /// <summary>Only the admin token (tenant tokens are issued and revoked with it).</summary>
    public AccessDecision CheckAdmin(string? authorization) =>
        Bearer(authorization) is not { } token ? new(401, "Sign in", "Send Authorization: Bearer <admin token>.")
        : IsAdmin(token) ? AccessDecision.Allowed
        : new(403, "Admin only", "Only the admin token may do this.");

    /// <summary>The tenant a token acts for: null for unknown tokens, "*" for the admin token.</summary>
    public async Task<string?> WhoAsync(string? authorization, CancellationToken ct) =>
        Bearer(authorization) is not { } token ? null : IsAdmin(token) ? "*" : await TenantOfAsync(token, ct);

    /// <summary>Who saved something, for histories: "admin", or the tenant token's label and id (never the token).</summary>
    public async Task<string> DescribeAsync(string? authorization, string tenant, CancellationToken ct)
    {
        if (Bearer(authorization) is not { } token)
        {
            return "anonymous";
        }

        if (IsAdmin(token))
        {
            return "admin";
        }

        var table = await tables.GetAsync(HubTables.Access, ct);
        var key = Convert.ToHexString(Hash(token));
        var row = await table.GetEntityIfExistsAsync<TableEntity>(TokenPartition, key, cancellationToken: ct);
        return row.HasValue && row.Value!.GetString("Tenant") == tenant ? $"{row.Value.GetString("Label")} ({key[..12]})" : "unknown";
    }

    /// <summary>Issues a new tenant token; only its hash is kept, so this is the one time it can be shown.</summary>
    public async Task<string> IssueAsync(string tenant, string label, CancellationToken ct)
    {
        HubTables.ValidateKey(tenant, "tenant");
        var token = TenantTokenPrefix + Base64Url(RandomNumberGenerator.GetBytes(32));
        var table = await tables.GetAsync(HubTables.Access, ct);
        await table.AddEntityAsync(new TableEntity(TokenPartition, Convert.ToHexString(Hash(token)))
        {
            ["Tenant"] = tenant,
            ["Label"] = label.Length > 100 ? label[..100] : label,
            ["IssuedAt"] = clock.GetUtcNow(),
        }, ct);
        return token;
    }

    /// <summary>Tenant tokens of a tenant (label, issue time, hash prefix as the id): never the tokens themselves.</summary>
    public async Task<JArray> ListAsync(string tenant, CancellationToken ct)
    {
        var table = await tables.GetAsync(HubTables.Access, ct);
        var list = new JArray();
        await foreach (var row in table.QueryAsync<TableEntity>(r => r.PartitionKey == TokenPartition && r.GetString("Tenant") == tenant, cancellationToken: ct))
        {
            list.Add(new JObject { ["id"] = row.RowKey[..12], ["label"] = row.GetString("Label"), ["issuedAt"] = row.GetDateTimeOffset("IssuedAt") });
        }

        return list;
    }

    /// <summary>Revokes a tenant token by the id <see cref="ListAsync"/> shows; false when no such token.</summary>
    public async Task<bool> RevokeAsync(string tenant, string id, CancellationToken ct)
    {
        var table = await tables.GetAsync(HubTables.Access, ct);
        await foreach (var row in table.QueryAsync<TableEntity>(r => r.PartitionKey == TokenPartition && r.GetString("Tenant") == tenant, cancellationToken: ct))
        {
            if (id.Length >= 12 && row.RowKey.StartsWith(id, StringComparison.Ordinal))
            {
                await table.DeleteEntityAsync(row.PartitionKey, row.RowKey, ETag.All, ct);
                return true;
            }
        }

        return false;
    }

    private bool IsAdmin(string token) => _admin is not null && CryptographicOperations.FixedTimeEquals(Hash(token), _admin);

    private async Task<string?> TenantOfAsync(string token, CancellationToken ct)
    {
        if (!token.StartsWith(TenantTokenPrefix, StringComparison.Ordinal) || token.Length > 100)
        {
            return null;
        }

        // The row key is the token's hash: a lookup reveals nothing about other tokens.
        var table = await tables.GetAsync(HubTables.Access, ct);
        var row = await table.GetEntityIfExistsAsync<TableEntity>(TokenPartition, Convert.ToHexString(Hash(token)), cancellationToken: ct);
        return row.HasValue ? row.Value!.GetString("Tenant") : null;
    }

    private static string? Bearer(string? authorization) =>
        authorization is not null && authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && authorization[7..].Trim() is { Length: > 0 } token ? token : null;

    private static byte[] Hash(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}

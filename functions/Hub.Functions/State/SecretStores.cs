using System.Security.Cryptography;
using System.Text;
using Azure;
using Azure.Security.KeyVault.Secrets;
using Microsoft.AspNetCore.DataProtection;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Hub.Functions.State;

/// <summary>
/// Where a connection's secrets (OAuth tokens, API keys, webhook secrets) live. The Connections row keeps only a
/// reference: a Data Protection payload locally, a Key Vault secret name in Azure. Never plain text at rest.
/// </summary>
public interface ISecretStore
{
    /// <summary>Stores the secrets and returns the reference to keep on the connection row.</summary>
    Task<string> SaveAsync(string tenantId, string connectionId, JObject secrets, CancellationToken ct);

    /// <summary>Reads the secrets a reference points at; an empty object for no reference.</summary>
    Task<JObject> LoadAsync(string? reference, CancellationToken ct);

    /// <summary>Removes the secrets (disconnect). Key Vault keeps a soft-deleted copy for its retention period.</summary>
    Task DeleteAsync(string? reference, CancellationToken ct);
}

/// <summary>
/// Local default: ASP.NET Core Data Protection (AES-256-CBC + HMACSHA256, key ring rotated every 90 days, kept in
/// <c>Hub:DataProtection:KeysPath</c>). The payload itself is the reference, prefixed <c>dp:</c>.
/// </summary>
public sealed class DataProtectionSecretStore(IDataProtectionProvider provider) : ISecretStore
{
    private const string Prefix = "dp:";
    private readonly IDataProtector _protector = provider.CreateProtector("Hub.ConnectionSecrets.v1");

    public Task<string> SaveAsync(string tenantId, string connectionId, JObject secrets, CancellationToken ct) =>
        Task.FromResult(Prefix + _protector.Protect(Bind(tenantId, connectionId, secrets)));

    public Task<JObject> LoadAsync(string? reference, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(reference))
        {
            return Task.FromResult(new JObject());
        }

        if (!reference.StartsWith(Prefix, StringComparison.Ordinal))
        {
            throw new InvalidOperationException("This secret reference was not written by the Data Protection store (is Hub:Secrets:KeyVaultUri missing?).");
        }

        var envelope = JObject.Parse(_protector.Unprotect(reference[Prefix.Length..]));
        return Task.FromResult((JObject)envelope["secrets"]!);
    }

    public Task DeleteAsync(string? reference, CancellationToken ct) => Task.CompletedTask; // the reference is the secret

    // Tenant and connection are sealed in with the secrets, so a payload copied onto another row is recognisable.
    private static string Bind(string tenantId, string connectionId, JObject secrets) =>
        new JObject { ["tenant"] = tenantId, ["connection"] = connectionId, ["secrets"] = secrets }.ToString(Formatting.None);
}

/// <summary>
/// Azure: one Key Vault secret per connection, read and written with the Function App's managed identity
/// (role Key Vault Secrets Officer on the vault). The reference is <c>kv:{secret name}</c>; rotating a secret writes
/// a new version, and readers always get the latest.
/// </summary>
public sealed class KeyVaultSecretStore(SecretClient client) : ISecretStore
{
    private const string Prefix = "kv:";

    public async Task<string> SaveAsync(string tenantId, string connectionId, JObject secrets, CancellationToken ct)
    {
        var name = SecretName(tenantId, connectionId);
        var secret = new KeyVaultSecret(name, secrets.ToString(Formatting.None));
        secret.Properties.ContentType = "application/json";
        secret.Properties.Tags["tenant"] = tenantId;
        secret.Properties.Tags["connection"] = connectionId;
        await client.SetSecretAsync(secret, ct);
        return Prefix + name;
    }

    public async Task<JObject> LoadAsync(string? reference, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(reference))
        {
            return [];
        }

        var secret = await client.GetSecretAsync(Name(reference), cancellationToken: ct);
        return JObject.Parse(secret.Value.Value);
    }

    public async Task DeleteAsync(string? reference, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(reference))
        {
            return;
        }

        try
        {
            await client.StartDeleteSecretAsync(Name(reference), ct);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            // already gone: deleting is idempotent
        }
    }

    /// <summary>
    /// Key Vault names allow 1-127 letters, digits and dashes: a hash of tenant and connection, so no tenant id or
    /// PII appears in the vault's names.
    /// </summary>
    public static string SecretName(string tenantId, string connectionId)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{tenantId}\n{connectionId}"));
        return "conn-" + Convert.ToHexStringLower(hash.AsSpan(0, 16));
    }

    private static string Name(string reference) => reference.StartsWith(Prefix, StringComparison.Ordinal)
        ? reference[Prefix.Length..]
        : throw new InvalidOperationException("This secret reference was not written by the Key Vault store.");
}

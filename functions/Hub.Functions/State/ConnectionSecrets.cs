using Microsoft.AspNetCore.DataProtection;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Hub.Functions.State;

/// <summary>
/// Encrypts a connection's secrets (tokens, keys) before they reach Table Storage, with ASP.NET Core Data
/// Protection (AES-256-CBC + HMAC, keys rotated every 90 days). The key ring lives outside the tables.
/// </summary>
public sealed class ConnectionSecrets(IDataProtectionProvider provider)
{
    private readonly IDataProtector _protector = provider.CreateProtector("Hub.ConnectionSecrets.v1");

    public string Protect(JObject secrets) => _protector.Protect(secrets.ToString(Formatting.None));

    public JObject Unprotect(string? protectedSecrets) =>
        string.IsNullOrEmpty(protectedSecrets) ? [] : JObject.Parse(_protector.Unprotect(protectedSecrets));
}

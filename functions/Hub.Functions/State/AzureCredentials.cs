using Azure.Core;
using Azure.Identity;

namespace Hub.Functions.State;

/// <summary>
/// The credential for Azure resources. In Azure the Function App runs as a user-assigned managed identity whose
/// client id is in <c>AZURE_CLIENT_ID</c>; elsewhere (a developer against real Azure) the default chain applies.
/// </summary>
public static class AzureCredentials
{
    public static TokenCredential Create(IConfiguration configuration)
    {
        var clientId = configuration["AZURE_CLIENT_ID"];
        return string.IsNullOrEmpty(clientId)
            ? new DefaultAzureCredential()
            : new ManagedIdentityCredential(ManagedIdentityId.FromUserAssignedClientId(clientId));
    }
}

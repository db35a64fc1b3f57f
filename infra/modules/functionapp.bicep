// Flex Consumption function app running the Hub's custom handler (docs/adr/0004). Every connection is
// identity-based: the host's storage and Service Bus bindings (<connection>__* settings), the handler's tables
// (HubStorage__tableServiceUri), Key Vault and Application Insights, all as the user-assigned identity.
param planName string
param appName string
param location string
param tags object
param identityId string
param identityClientId string
param storageAccountName string
param deploymentContainerUrl string
param tableServiceUri string
param queueServiceUri string
param serviceBusFqdn string
param keyVaultUri string
param appInsightsConnectionString string
param maximumInstanceCount int
param instanceMemoryMB int

@description('Flex Consumption runtime stack for a custom handler.')
param runtimeName string
param runtimeVersion string

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { tier: 'FlexConsumption', name: 'FC1' }
  properties: { reserved: true }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: appName
  location: location
  tags: union(tags, { 'azd-service-name': 'hub' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // Key Vault references in app settings (Hub__AdminToken) resolve with the app's user-assigned identity.
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: runtimeName
        version: runtimeVersion
      }
    }
  }
}

resource settings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: app
  name: 'appsettings'
  properties: {
    // The host's own storage, identity-based.
    AzureWebJobsStorage__accountName: storageAccountName
    AzureWebJobsStorage__credential: 'managedidentity'
    AzureWebJobsStorage__clientId: identityClientId
    // "connection": "ServiceBusConnection" in function.json.
    ServiceBusConnection__fullyQualifiedNamespace: serviceBusFqdn
    ServiceBusConnection__credential: 'managedidentity'
    ServiceBusConnection__clientId: identityClientId
    // The handler (Hub.Functions): state tables and secrets with Azure.Identity.
    AZURE_CLIENT_ID: identityClientId
    HubStorage__tableServiceUri: tableServiceUri
    // IngestEvent's queueTrigger (connection HubStorage) and ReceiveWebhook's sends, with the managed identity.
    HubStorage__queueServiceUri: queueServiceUri
    HubStorage__credential: 'managedidentity'
    HubStorage__clientId: identityClientId
    Hub__Secrets__KeyVaultUri: keyVaultUri
    // The setup page's admin token: a Key Vault secret the operator sets (docs/adr/0014-setup-access.md).
    Hub__AdminToken: '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/hub-admin-token/)'
    Hub__Sync__MaxDeliveryCount: '10'
    // OAuth callbacks (/api/oauth/{connector}/callback) are built on this; register them with each platform's app.
    Hub__PublicBaseUrl: 'https://${app.properties.defaultHostName}'
    // %ScheduleSyncCron% in ScheduleSync/function.json.
    ScheduleSyncCron: '0 */1 * * * *'
    // %ReconcileCron% in Reconcile/function.json: hourly re-reads of recent windows.
    ReconcileCron: '0 5 * * * *'
    // %ResegmentCron% in ResegmentDaily/function.json: the daily re-segmentation sweep.
    ResegmentCron: '0 30 3 * * *'
    APPLICATIONINSIGHTS_CONNECTION_STRING: appInsightsConnectionString
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  }
}

output name string = app.name
output url string = 'https://${app.properties.defaultHostName}'

// The Hub on Azure: a Flex Consumption function app (custom handler) with Service Bus queues, Table Storage,
// Key Vault and Application Insights, all reached with one user-assigned managed identity (no keys).
// Deploy: `azd up`, or `az deployment sub create -l <region> -f infra/main.bicep -p environmentName=<name>`.
targetScope = 'subscription'

@minLength(1)
@maxLength(32)
@description('Environment name (dev, prod...): names the resource group and every resource.')
param environmentName string

@minLength(1)
@description('Azure region for every resource, e.g. westeurope, eastasia.')
param location string

@description('Largest number of function app instances Flex Consumption may scale out to.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Memory per instance in MB (Flex Consumption offers 512, 2048 and 4096).')
@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

@description('Flex Consumption runtime stack of the function app: the custom-handler stack by default (docs/adr/0004).')
param functionRuntimeName string = 'custom'
param functionRuntimeVersion string = '1.0'

@description('Object id of a person or group to grant Key Vault Secrets Officer and Table Data Contributor, for operations (optional).')
param operatorPrincipalId string = ''

var tags = { 'azd-env-name': environmentName, application: 'hub' }

resource group 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-hub-${environmentName}'
  location: location
  tags: tags
}

module hub 'resources.bicep' = {
  name: 'hub-resources'
  scope: group
  params: {
    environmentName: environmentName
    location: location
    tags: tags
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    operatorPrincipalId: operatorPrincipalId
    functionRuntimeName: functionRuntimeName
    functionRuntimeVersion: functionRuntimeVersion
  }
}

output AZURE_RESOURCE_GROUP string = group.name
output AZURE_LOCATION string = location
output FUNCTION_APP_NAME string = hub.outputs.functionAppName
output FUNCTION_APP_URL string = hub.outputs.functionAppUrl
output RUNS_URL string = '${hub.outputs.functionAppUrl}/api/runs'
output SERVICE_BUS_NAMESPACE string = hub.outputs.serviceBusNamespace
output KEY_VAULT_URI string = hub.outputs.keyVaultUri
output STORAGE_ACCOUNT_NAME string = hub.outputs.storageAccountName
output AZURE_CLIENT_ID string = hub.outputs.identityClientId

// Everything inside the Hub's resource group. The queue list mirrors the function.json bindings:
// tests/Hub.Infra.Tests fails the build when a binding has no queue, app setting or role here.
param environmentName string
param location string
param tags object
param maximumInstanceCount int
param instanceMemoryMB int
param operatorPrincipalId string
param functionRuntimeName string
param functionRuntimeVersion string

var token = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))

// receive: a serviceBusTrigger reads it (Azure Service Bus Data Receiver on the queue);
// send: a serviceBus output writes it (Azure Service Bus Data Sender on the queue).
var serviceBusQueues = [
  { name: 'pull', receive: true, send: true }
  { name: 'resolve', receive: true, send: true }
  { name: 'push', receive: true, send: true }
]

// Storage queues (HubStorage): ingest is sent by ReceiveWebhook itself (a forwarded HTTP function has no output
// binding; ADR 0011) and read by IngestEvent's queueTrigger.
var storageQueues = ['ingest', 'ingest-poison']

// Tables the handler uses (HubStorage); created here so the first run needs no create permission race.
var hubTables = ['Connections', 'Cursors', 'Runs', 'Members', 'Orders', 'Identities', 'Profiles', 'Ledger', 'Failures', 'Pending', 'Inbox', 'Compliance', 'Access', 'Mappings', 'Installs', 'Backlog']

module identity 'modules/identity.bicep' = {
  name: 'identity'
  params: { name: 'id-hub-${token}', location: location, tags: tags }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    workspaceName: 'log-hub-${token}'
    appInsightsName: 'appi-hub-${token}'
    location: location
    tags: tags
    principalId: identity.outputs.principalId
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    name: 'sthub${token}'
    location: location
    tags: tags
    tables: hubTables
    queues: storageQueues
    deploymentContainer: 'app-package'
    principalId: identity.outputs.principalId
    operatorPrincipalId: operatorPrincipalId
  }
}

module serviceBus 'modules/servicebus.bicep' = {
  name: 'servicebus'
  params: {
    name: 'sb-hub-${token}'
    location: location
    tags: tags
    queues: serviceBusQueues
    principalId: identity.outputs.principalId
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    name: 'kv-hub-${token}'
    location: location
    tags: tags
    principalId: identity.outputs.principalId
    operatorPrincipalId: operatorPrincipalId
  }
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  params: {
    planName: 'plan-hub-${token}'
    appName: 'func-hub-${token}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    tableServiceUri: storage.outputs.tableServiceUri
    queueServiceUri: storage.outputs.queueServiceUri
    serviceBusFqdn: serviceBus.outputs.fullyQualifiedNamespace
    keyVaultUri: keyVault.outputs.uri
    appInsightsConnectionString: monitoring.outputs.connectionString
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    runtimeName: functionRuntimeName
    runtimeVersion: functionRuntimeVersion
  }
}

output functionAppName string = functionApp.outputs.name
output functionAppUrl string = functionApp.outputs.url
output serviceBusNamespace string = serviceBus.outputs.fullyQualifiedNamespace
output keyVaultUri string = keyVault.outputs.uri
output storageAccountName string = storage.outputs.name
output identityClientId string = identity.outputs.clientId

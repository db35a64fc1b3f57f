// Service Bus namespace and the queues the function.json bindings use. Roles are granted per queue:
// Data Receiver where a trigger reads, Data Sender where an output writes. Local auth (SAS keys) is disabled.
param name string
param location string
param tags object
@description('Queues as { name, receive, send }.')
param queues array
param principalId string

var serviceBusDataReceiver = '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0'
var serviceBusDataSender = '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' = {
  name: name
  location: location
  tags: tags
  sku: { name: 'Standard', tier: 'Standard' }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
  }
}

// maxDeliveryCount 10 matches the handler's Hub__Sync__MaxDeliveryCount; expired messages are dead-lettered, not
// dropped. No duplicate detection: the Functions output binding cannot set MessageId, and the handlers are
// idempotent instead (docs/adr/0003).
resource queue 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = [for q in queues: {
  parent: namespace
  name: q.name
  properties: {
    maxDeliveryCount: 10
    lockDuration: 'PT5M'
    defaultMessageTimeToLive: 'P14D'
    deadLetteringOnMessageExpiration: true
    requiresDuplicateDetection: false
    maxSizeInMegabytes: 1024
  }
}]

resource receivers 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (q, i) in queues: if (q.receive) {
  name: guid(namespace.id, q.name, principalId, serviceBusDataReceiver)
  scope: queue[i]
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', serviceBusDataReceiver)
  }
}]

resource senders 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (q, i) in queues: if (q.send) {
  name: guid(namespace.id, q.name, principalId, serviceBusDataSender)
  scope: queue[i]
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', serviceBusDataSender)
  }
}]

output fullyQualifiedNamespace string = '${namespace.name}.servicebus.windows.net'

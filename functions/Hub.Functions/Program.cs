using Hub.Functions;

var app = HubApp.Build(args);
await app.RunAsync();

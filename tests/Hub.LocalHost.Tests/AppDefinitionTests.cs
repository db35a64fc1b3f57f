using Newtonsoft.Json.Linq;
using Xunit;

namespace Hub.LocalHost.Tests;

public class AppDefinitionTests
{
    [Fact]
    public void Load_RepositoryFunctions_ResolvesSettingsAndBindings()
    {
        var app = AppDefinition.Load(E2E.AppRoot, key => key switch { "ScheduleSyncCron" => "0 */5 * * * *", "ReconcileCron" => "0 5 * * * *", "ResegmentCron" => "0 30 3 * * *", _ => null });

        Assert.True(app.EnableForwardingHttpRequest);
        Assert.Equal("api", app.RoutePrefix);
        Assert.Equal(5, app.Queues.MaxDequeueCount);
        var schedule = app.Functions.Single(f => f.Name == "ScheduleSync");
        Assert.Equal("0 */5 * * * *", schedule.Trigger.Get("schedule"));
        var pull = app.Functions.Single(f => f.Name == "PullStream");
        Assert.Equal(("serviceBusTrigger", "pull"), (pull.Trigger.Type, pull.Trigger.Get("queueName")));
        Assert.True(app.Functions.Single(f => f.Name == "Runs").IsHttpInAndOut);
        Assert.True(app.Functions.Single(f => f.Name == "ReceiveWebhook").IsHttpInAndOut); // forwarded: the raw body reaches the handler
        Assert.False(app.Functions.Single(f => f.Name == "ReplayFailures").IsHttpInAndOut); // enveloped: it sends push messages
        Assert.Equal(("queueTrigger", "ingest"), (app.Functions.Single(f => f.Name == "IngestEvent").Trigger.Type, app.Functions.Single(f => f.Name == "IngestEvent").Trigger.Get("queueName")));
    }

    [Fact]
    public void Load_MissingSetting_NamesTheFileAndSetting()
    {
        var error = Assert.Throws<InvalidOperationException>(() => AppDefinition.Load(E2E.AppRoot, key => key is "ReconcileCron" or "ResegmentCron" ? "0 5 * * * *" : null));

        Assert.Contains("ScheduleSync/function.json", error.Message, StringComparison.Ordinal);
        Assert.Contains("ScheduleSyncCron", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_TwoTriggers_IsRejected()
    {
        var json = JObject.Parse("""{"bindings":[{"type":"timerTrigger","direction":"in","name":"a","schedule":"* * * * * *"},{"type":"queueTrigger","direction":"in","name":"b","queueName":"q"}]}""");

        Assert.Throws<InvalidOperationException>(() => FunctionDefinition.Parse("Bad", json, _ => null));
    }
}

using System.Net;
using Hub.Testing;
using Newtonsoft.Json.Linq;
using Xunit;

namespace Hub.LocalHost.Tests;

/// <summary>
/// The local host and a real handler process over real HTTP, with Azurite: timers fire, Service Bus semantics hold
/// (redelivery with a growing DeliveryCount, dead-lettering with the body intact, replay), and a crash of the
/// handler loses nothing.
/// </summary>
[Collection(AzuriteFixture.Collection)]
public class LocalHostEndToEndTests
{
    private static JObject? Run(JObject runs) => runs["runs"]!.Children<JObject>().FirstOrDefault();

    [Fact]
    public async Task Timer_FiresOnSchedule_PullsEveryPage_AndRunsApiShowsIt()
    {
        await using var e2e = await E2E.StartAsync();
        await e2e.AddConnectionAsync(new { pages = 3, perPage = 4 });

        var runs = await e2e.EventuallyAsync(e2e.RunsAsync, r => Run(r)?.Value<string>("status") == "succeeded", "the pull run to succeed");

        var run = Run(runs)!;
        Assert.Equal((3, 12), (run.Value<int>("pages"), run.Value<int>("records")));
        Assert.Equal(1, run.Value<int>("lastDeliveryCount"));
        var ticks = runs["scheduler"]!.Children<JObject>().ToList();
        Assert.True(ticks.Count >= 1);
        Assert.All(ticks, t => Assert.Equal("succeeded", t.Value<string>("status")));
        await e2e.EventuallyAsync(e2e.RunsAsync, r => r["scheduler"]!.Count() >= 3, "three scheduler ticks, one a second");
    }

    [Fact]
    public async Task FailedDelivery_IsRedeliveredWithDeliveryCount2_AndSucceeds()
    {
        await using var e2e = await E2E.StartAsync();
        await e2e.AddConnectionAsync(new { pages = 1, perPage = 2, failTimes = 1 });

        var runs = await e2e.EventuallyAsync(e2e.RunsAsync, r => Run(r)?.Value<string>("status") == "succeeded", "the run to succeed on its second delivery");

        var run = Run(runs)!;
        Assert.Equal(2, run.Value<int>("lastDeliveryCount"));
        Assert.Equal(1, run.Value<int>("failures"));
        Assert.Equal(2, run.Value<int>("attempts"));
    }

    [Fact]
    public async Task AlwaysFailing_IsDeadLetteredWithBodyIntact_AndReplayResumesIt()
    {
        await using var e2e = await E2E.StartAsync(maxDeliveryCount: 3);
        var connection = await e2e.AddConnectionAsync(new { pages = 2, perPage = 1, alwaysFail = true });

        var queue = await e2e.EventuallyAsync(
            async () => JObject.Parse(await e2e.Http.GetStringAsync("_local/queues/pull")),
            q => q["deadLettered"]!.Any(),
            "the message to reach the dead-letter queue");

        var body = JObject.Parse(queue["deadLettered"]![0]!.Value<string>("body")!);
        var run = Run(await e2e.RunsAsync())!;
        Assert.Equal((e2e.Tenant, "c1", "orders", 0, run.Value<string>("id")), (body.Value<string>("tenantId"), body.Value<string>("connectionId"), body.Value<string>("stream"), body.Value<int>("seq"), body.Value<string>("runId")));
        Assert.Equal("failed", run.Value<string>("status"));
        Assert.Equal(3, run.Value<int>("lastDeliveryCount"));
        Assert.Contains("dead-lettered", run.Value<string>("error"), StringComparison.Ordinal);

        // The merchant fixes the store, then the operator replays: the run resumes from the page that failed.
        connection.SettingsJson = JObject.FromObject(new { pages = 2, perPage = 1 }).ToString();
        await e2e.Connections.UpsertAsync(connection, default);
        using var replay = await e2e.Http.PostAsync("_local/queues/pull/replay", null);
        Assert.Equal(1, JObject.Parse(await replay.Content.ReadAsStringAsync()).Value<int>("replayed"));

        var resumed = await e2e.EventuallyAsync(e2e.RunsAsync, r => Run(r)?.Value<string>("status") == "succeeded", "the replayed run to succeed");
        Assert.Equal((2, 2), (Run(resumed)!.Value<int>("pages"), Run(resumed)!.Value<int>("records")));
        Assert.Empty(JObject.Parse(await e2e.Http.GetStringAsync("_local/queues/pull"))["deadLettered"]!);
    }

    [Fact]
    public async Task HandlerCrash_IsRestarted_AndNoMessageIsLost()
    {
        var marker = Path.Combine(Path.GetTempPath(), $"hub-crash-{Guid.NewGuid():N}");
        await using var e2e = await E2E.StartAsync();
        await e2e.AddConnectionAsync(new { pages = 3, perPage = 5, crashOnceMarker = marker });

        var runs = await e2e.EventuallyAsync(e2e.RunsAsync, r => Run(r)?.Value<string>("status") == "succeeded", "the run to finish after the crash");

        Assert.True(File.Exists(marker), "the handler should have crashed once");
        Assert.Equal(2, e2e.Host.Handler.Starts);
        var run = Run(runs)!;
        Assert.Equal((3, 15), (run.Value<int>("pages"), run.Value<int>("records")));
        File.Delete(marker);
    }

    [Fact]
    public async Task HandlerKilledFromOutside_IsRestartedOnANewPort()
    {
        await using var e2e = await E2E.StartAsync();
        var firstPid = e2e.Host.Handler.ProcessId;

        e2e.Host.Handler.Kill();
        await e2e.EventuallyAsync(() => Task.FromResult(e2e.Host.Handler.Starts), s => s == 2, "the handler to be restarted");
        var runs = await e2e.EventuallyAsync(async () => (await e2e.Http.GetAsync($"api/runs?tenant={e2e.Tenant}")).StatusCode, s => s == HttpStatusCode.OK, "the API to answer again");

        Assert.NotEqual(firstPid, e2e.Host.Handler.ProcessId);
        Assert.Equal(HttpStatusCode.OK, runs);
    }

    [Fact]
    public async Task Http_UnknownRouteWrongMethodAndBadQuery_GetProblemDetails()
    {
        await using var e2e = await E2E.StartAsync();

        using var unknown = await e2e.Http.GetAsync("api/nothing-here");
        using var wrongMethod = await e2e.Http.DeleteAsync("api/runs");
        using var badQuery = await e2e.Http.GetAsync($"api/runs?tenant={e2e.Tenant}&top=9999");

        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, wrongMethod.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, badQuery.StatusCode);
        Assert.Equal("application/problem+json", badQuery.Content.Headers.ContentType!.MediaType);
        Assert.Contains("top", JObject.Parse(await badQuery.Content.ReadAsStringAsync()).Value<string>("detail"), StringComparison.Ordinal);
    }
}

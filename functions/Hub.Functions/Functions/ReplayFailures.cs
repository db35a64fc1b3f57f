using Hub.Functions.Hosting;
using Hub.Functions.State;
using Hub.Functions.Sync;
using Newtonsoft.Json.Linq;

namespace Hub.Functions.Functions;

/// <summary>
/// <c>POST /api/failures/replay?tenant=</c> (function <c>ReplayFailures</c>, enveloped HTTP because it sends <c>push</c>
/// messages through its output binding). Puts open failures back in the outbox, forced (pushed even if the Ledger says
/// unchanged), and nudges their targets. Filters, all optional: <c>connection</c>, <c>module</c>, <c>profile</c> (one
/// record), <c>code</c>, <c>kind</c>. The payload is recomputed with the current rules, so a record rejected for a
/// mapping mistake goes out fixed once the mapping is. The failure stays open until the CRM accepts the record.
/// </summary>
public sealed class ReplayFailures(PushStore push, ResolveGate gate, HubAccess access, TimeProvider clock) : IFunction
{
    public const string Name = nameof(ReplayFailures);
    public const string PushOutput = "push";

    public async Task<InvocationResult> InvokeAsync(Invocation invocation, CancellationToken cancellationToken)
    {
        var request = invocation.ReadObject("req");
        string? Q(string name) => EnvelopedHttp.Query(request, name);
        var result = new InvocationResult();
        var (tenant, denied) = await EnvelopedHttp.AuthorizeAsync(access, request, cancellationToken);
        if (denied is not null)
        {
            return result.Set("res", denied);
        }

        var connection = Q("connection");
        var module = Q("module");
        var profile = Q("profile");
        var code = Q("code");
        var kind = Q("kind");
        var open = await push.FailuresAsync(tenant, connection, "open", 10_000, cancellationToken);
        var chosen = open.Where(f => (module is null || f.GetString("Module") == module)
            && (profile is null || f.GetString("ProfileId") == profile)
            && (code is null || f.GetString("Code") == code)
            && (kind is null || f.GetString("Kind") == kind)).ToList();
        var now = clock.GetUtcNow();
        if (chosen.Count > 0)
        {
            // A forced row replaces a held one, and a drain takes it at once: a resolution that knows the held row
            // (HeldGraphRows) must forget it before that, so the gate is disturbed first.
            await gate.DisturbAsync(tenant, cancellationToken);
        }

        foreach (var group in chosen.GroupBy(f => (Connection: f.GetString("ConnectionId")!, Module: f.GetString("Module")!)))
        {
            await push.EnqueueAsync(tenant, group.Key.Connection, group.Key.Module, group.Select(f => (f.GetString("ProfileId")!, f.GetString("Hash") ?? "", true, true)), cancellationToken);
            foreach (var failure in group)
            {
                await push.MarkReplayedAsync(failure, now, cancellationToken);
            }

            result.Send(PushOutput, new PushMessage(tenant, group.Key.Connection, group.Key.Module));
        }

        result.Logs.Add($"Replay for {tenant}: {chosen.Count} failure(s) back in the outbox.");
        return result.Set("res", EnvelopedHttp.Response(202, new JObject { ["tenant"] = tenant, ["replayed"] = chosen.Count }));
    }
}

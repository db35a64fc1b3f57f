using Hub.Functions.Hosting;
using Hub.Functions.State;
using Hub.Functions.Sync;

namespace Hub.Functions.Functions;

/// <summary>
/// <c>resolve</c> trigger. Folds the named records into the identity graph (merges included), recomputes the
/// affected profiles' metrics and segments, and hands the profiles whose CRM payload changed to the outbox, sending
/// one <c>push</c> nudge per CRM target. Idempotent: resolving the same records again writes nothing and pushes nothing.
/// </summary>
public sealed class ResolveProfiles(ProfileGraph graph, PushPlanner planner, ResolveGate gate, ILogger<ResolveProfiles> logger) : IFunction
{
    public const string Name = nameof(ResolveProfiles);
    public const string PushOutput = "push";

    public async Task<InvocationResult> InvokeAsync(Invocation invocation, CancellationToken cancellationToken)
    {
        var message = invocation.Read<ResolveMessage>("message");
        if (string.IsNullOrEmpty(message.TenantId) || message.Records is null)
        {
            throw new InvocationDecodingException("A resolve message needs tenantId and records.");
        }

        HubTables.ValidateKey(message.TenantId, "tenant");
        ResolveOutcome outcome;
        await using (await gate.EnterAsync(message.TenantId, cancellationToken))
        {
            outcome = await graph.ResolveAsync(message.TenantId, message.Records, message.Profiles ?? [], cancellationToken, message.RulesAsOf);
        }

        var kicks = await planner.PlanAsync(message.TenantId, outcome.Changed, outcome.Removed, cancellationToken, outcome.MergedInto);
        var result = new InvocationResult();
        foreach (var kick in kicks)
        {
            result.Send(PushOutput, kick);
        }

        result.Logs.Add($"Resolved {message.Records.Count} record(s) of {message.TenantId}: component of {outcome.Records} record(s), {outcome.Profiles} profile(s), {outcome.Changed.Count} changed, {outcome.MergedInto.Count} merged, {outcome.Removed.Count} removed, attempt {outcome.Attempts}.");
        if (outcome.RefusedJoins.Count > 0)
        {
            logger.LogInformation("Tenant {Tenant}: {Count} join(s) refused by identity limits: {First}", message.TenantId, outcome.RefusedJoins.Count, outcome.RefusedJoins[0]);
        }

        return result;
    }
}

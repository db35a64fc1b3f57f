using Hub.Mappings.Model;
using Hub.Mappings.Rules;
using Newtonsoft.Json.Linq;

namespace Hub.Mappings;

/// <summary>Sample records from a connected store, and optionally the target to dry-run against.</summary>
/// <param name="Platform">Source platform id (<c>shopify</c>).</param>
/// <param name="Entity"><c>member</c> or <c>order</c>.</param>
/// <param name="ConnectionId">The store connection the samples come from.</param>
/// <param name="Records">Raw vendor JSON, as the platform returned it.</param>
/// <param name="Crm">Target CRM id for payloads (<c>zoho-crm</c>), or null for no payloads.</param>
/// <param name="Module">Target module (<c>Contacts</c>).</param>
/// <param name="Region">Phone region override of the connection.</param>
/// <param name="Ledger">Profile id → hash of the payload last pushed, to classify creates/updates/unchanged.</param>
public sealed record PreviewRequest(
    string Platform,
    string Entity,
    string ConnectionId,
    IReadOnlyList<JToken> Records,
    string? Crm = null,
    string? Module = null,
    string? Region = null,
    IReadOnlyDictionary<string, string>? Ledger = null)
{
    /// <summary>Record key (<c>m:</c>/<c>o:</c> + source key) → the profile it belongs to now, so a dry run names stored profiles.</summary>
    public IReadOnlyDictionary<string, string>? Previous { get; init; }
}

public sealed record PreviewRecord(int Index, JObject Canonical, IReadOnlyList<MappingIssue> Issues, bool Valid);

public sealed record PreviewPayload(string ProfileId, string Action, JObject Payload, IReadOnlyList<string> Tags, string Hash, IReadOnlyList<MappingIssue> Issues);

/// <summary>Dry-run counts, as a CRM sync would act.</summary>
public sealed record DryRunCounts(int Creates, int Updates, int Unchanged, int Invalid, int InvalidRecords);

public sealed record PreviewResult(
    IReadOnlyList<PreviewRecord> Records,
    IReadOnlyList<JObject> Profiles,
    IReadOnlyList<PreviewPayload> Payloads,
    DryRunCounts Counts,
    IReadOnlyList<string> RefusedJoins);

/// <summary>
/// What the setup page's mapping editor and the dry run call: rules + sample records → canonical records with their
/// issues, resolved profiles with metrics and segments, CRM payloads with what a sync would do, and counts.
/// </summary>
public static class Preview
{
    public const string Create = "create";
    public const string Update = "update";
    public const string Unchanged = "unchanged";
    public const string Invalid = "invalid";

    /// <summary>Loads rule documents for the editor: the rule set, or every error with its file and JSON path.</summary>
    public static (RuleSet? Rules, IReadOnlyList<RuleError> Errors) TryLoad(RuleSet defaults, IEnumerable<RuleDocument> overrides)
    {
        try
        {
            return (defaults.WithOverrides(overrides), []);
        }
        catch (RuleLoadException ex)
        {
            return (null, ex.Errors);
        }
    }

    public static PreviewResult Run(RuleSet rules, PreviewRequest request, DateTimeOffset now)
    {
        var source = rules.Source(request.Platform, request.Entity);
        var ctx = source.Context(now, request.Region);
        var records = new List<PreviewRecord>();
        var members = new List<Member>();
        var orders = new List<Order>();
        for (var i = 0; i < request.Records.Count; i++)
        {
            var raw = request.Records[i];
            var canonical = source.Preview(raw, ctx);
            ctx.ClearIssues();
            if (request.Entity == "member")
            {
                var mapped = source.MapMember(raw, request.ConnectionId, ctx);
                records.Add(new PreviewRecord(i, canonical, mapped.Issues, mapped.IsValid));
                if (mapped.Value is { } m)
                {
                    members.Add(m);
                }
            }
            else
            {
                var mapped = source.MapOrder(raw, request.ConnectionId, ctx);
                records.Add(new PreviewRecord(i, canonical, mapped.Issues, mapped.IsValid));
                if (mapped.Value is { } o)
                {
                    orders.Add(o);
                }
            }
        }

        var batch = new ProfileEngine(rules).Build(members, orders, now, request.Previous);
        var profiles = batch.Profiles.Select(p => p.View()).ToList();
        var payloads = new List<PreviewPayload>();
        if (request.Crm is not null && request.Module is not null)
        {
            var target = rules.Target(request.Crm, request.Module);
            var targetCtx = new EvalContext(now);
            foreach (var view in profiles)
            {
                var payload = target.Map(view, targetCtx);
                var id = view.Value<string>("id")!;
                var action = !payload.IsValid ? Invalid
                    : request.Ledger is not null && request.Ledger.TryGetValue(id, out var hash) ? (hash == payload.Hash ? Unchanged : Update)
                    : Create;
                payloads.Add(new PreviewPayload(id, action, payload.Payload, payload.Tags, payload.Hash, payload.Issues));
            }
        }

        var counts = new DryRunCounts(
            payloads.Count(p => p.Action == Create),
            payloads.Count(p => p.Action == Update),
            payloads.Count(p => p.Action == Unchanged),
            payloads.Count(p => p.Action == Invalid),
            records.Count(r => !r.Valid));
        return new PreviewResult(records, profiles, payloads, counts, batch.Resolution.RefusedJoins);
    }
}

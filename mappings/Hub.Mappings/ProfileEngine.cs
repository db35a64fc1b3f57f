using Hub.Mappings.Identity;
using Hub.Mappings.Model;
using Hub.Mappings.Rules;

namespace Hub.Mappings;

/// <summary>
/// The whole mapping path on canonical records: identity resolution, metrics, segments and tags. Pure: the same
/// records, rules and clock give the same profiles.
/// </summary>
public sealed class ProfileEngine(RuleSet rules)
{
    private readonly IdentityResolver _resolver = new(rules.Identity);

    public RuleSet Rules => rules;

    /// <summary>The resolver, for the match keys of single records (the stored identity graph indexes them).</summary>
    public IdentityResolver Resolver => _resolver;

    public ProfileBatch Build(IReadOnlyCollection<Member> members, IReadOnlyCollection<Order> orders, DateTimeOffset now, IReadOnlyDictionary<string, string>? previousAssignments = null)
    {
        var resolution = _resolver.Resolve(members, orders, previousAssignments);
        var ordersByProfile = new Dictionary<string, List<Order>>(StringComparer.Ordinal);
        foreach (var order in orders)
        {
            if (resolution.Assignments.TryGetValue("o:" + order.Source.Key, out var id))
            {
                (ordersByProfile.TryGetValue(id, out var list) ? list : ordersByProfile[id] = []).Add(order);
            }
        }

        var ctx = new EvalContext(now);
        foreach (var profile in resolution.Profiles)
        {
            // The newest version of each order only (a re-pulled order counts once).
            var profileOrders = ordersByProfile.TryGetValue(profile.Id, out var list)
                ? list.GroupBy(o => o.Source.Key).Select(g => g.MaxBy(o => o.Source.VendorUpdatedAt ?? DateTimeOffset.MinValue)!)
                : [];
            rules.Segments.ComputeMetrics(profile, profileOrders, now);
            rules.Segments.Apply(profile, ctx);
        }

        return new ProfileBatch(resolution);
    }
}

public sealed record ProfileBatch(Resolution Resolution)
{
    public IReadOnlyList<Profile> Profiles => Resolution.Profiles;
}

using System.Security.Cryptography;
using System.Text;
using Hub.Mappings.Model;

namespace Hub.Mappings.Identity;

/// <summary>The outcome of a resolution: the profiles, which profile each record belongs to, merges and refused joins.</summary>
public sealed record Resolution(
    IReadOnlyList<Profile> Profiles,
    IReadOnlyDictionary<string, string> Assignments,
    IReadOnlyDictionary<string, string> MergedInto,
    IReadOnlyList<string> RefusedJoins);

/// <summary>
/// Deterministic, explainable identity resolution. Records (members and orders) that share a match key join into
/// one profile (union-find). Keys join in priority order, and a join that would give a profile more distinct values
/// of a limited identifier than allowed (two different emails when the limit is 1) is refused and reported.
/// Blocked values, masked and encrypted values, and never-match types (Tmall OAID) join nothing. The result does not
/// depend on input order, and resolving the same records again changes nothing.
/// </summary>
public sealed class IdentityResolver(IdentityRules rules)
{
    public Resolution Resolve(IEnumerable<Member> members, IEnumerable<Order> orders, IReadOnlyDictionary<string, string>? previous = null)
    {
        var records = Collect(members, orders);
        var memo = new Dictionary<(string Type, string Value), bool>();
        var n = records.Count;
        var parent = Enumerable.Range(0, n).ToArray();
        var limited = rules.Identifiers.Where(i => i.Limit is not null).ToDictionary(i => i.Type, i => i.Limit!.Value, StringComparer.Ordinal);
        // Limited identifier values per component root, created only when a root first needs them.
        var values = new Dictionary<string, HashSet<string>>?[n];
        var keysByNode = new (string Type, string Key)[n][];
        var byKey = new Dictionary<string, (IdentifierRule Rule, List<int> Nodes)>(StringComparer.Ordinal);
        var pool = new HashSet<string>(StringComparer.Ordinal); // one string instance per distinct key
        for (var i = 0; i < n; i++)
        {
            var keys = MatchKeys(records[i], memo).ToArray();
            for (var k = 0; k < keys.Length; k++)
            {
                var (type, key) = keys[k];
                if (pool.TryGetValue(key, out var shared))
                {
                    key = shared;
                    keys[k] = (type, key);
                }
                else
                {
                    pool.Add(key);
                }

                if (!byKey.TryGetValue(key, out var entry))
                {
                    byKey[key] = entry = (rules.Rule(type)!, new List<int>(2));
                }

                entry.Nodes.Add(i);
            }

            keysByNode[i] = keys;
        }

        Dictionary<string, HashSet<string>> Values(int root)
        {
            if (values[root] is { } existing)
            {
                return existing;
            }

            var created = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
            foreach (var (type, key) in keysByNode[root])
            {
                if (limited.ContainsKey(type))
                {
                    (created.TryGetValue(type, out var set) ? set : created[type] = new(StringComparer.Ordinal)).Add(key);
                }
            }

            return values[root] = created;
        }

        int Find(int x)
        {
            while (parent[x] != x)
            {
                parent[x] = parent[parent[x]];
                x = parent[x];
            }

            return x;
        }

        var refused = new List<string>();
        foreach (var (key, (rule, nodes)) in byKey.OrderBy(k => k.Value.Rule.Priority).ThenBy(k => k.Key, StringComparer.Ordinal))
        {
            var first = nodes[0];
            for (var j = 1; j < nodes.Count; j++)
            {
                var a = Find(first);
                var b = Find(nodes[j]);
                if (a == b)
                {
                    continue;
                }

                // A limit guards against joins by keys as weak as or weaker than its own type: a shared Shopify
                // customer id (priority 1) still joins two emails, a shared phone (4) does not. A join that brings no
                // value the larger side lacks is no conflict: a guest order with the customer's email still joins
                // a customer whose account (by its id) already holds a second email.
                var va = Values(a);
                var vb = Values(b);
                var conflict = limited.FirstOrDefault(l => rules.Rule(l.Key)!.Priority <= rule.Priority &&
                    va.TryGetValue(l.Key, out var sa) && vb.TryGetValue(l.Key, out var sb) &&
                    sa.Union(sb).Count() is var union && union > l.Value && union > Math.Max(sa.Count, sb.Count));
                if (conflict.Key is not null)
                {
                    refused.Add($"{Mask(key)} would join records with more than {conflict.Value} {conflict.Key} value(s): {records[first].Key} and {records[nodes[j]].Key} stay apart");
                    continue;
                }

                // Union by record-key order keeps the root choice independent of input order.
                var (root, child) = string.CompareOrdinal(records[a].Key, records[b].Key) <= 0 ? (a, b) : (b, a);
                parent[child] = root;
                var rootValues = Values(root);
                foreach (var (type, set) in Values(child))
                {
                    (rootValues.TryGetValue(type, out var target) ? target : rootValues[type] = new(StringComparer.Ordinal)).UnionWith(set);
                }

                values[child] = null;
            }
        }

        var components = Enumerable.Range(0, n).GroupBy(Find).Select(g => g.OrderBy(i => records[i].Key, StringComparer.Ordinal).ToList())
            .OrderBy(g => records[g[0]].Key, StringComparer.Ordinal).ToList();
        var profiles = new List<Profile>(components.Count);
        var assignments = new Dictionary<string, string>(StringComparer.Ordinal);
        var mergedInto = new Dictionary<string, string>(StringComparer.Ordinal);
        var claimed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var component in components)
        {
            var earlier = component.Select(i => previous is not null && previous.TryGetValue(records[i].Key, out var id) ? id : null)
                .Where(id => id is not null && !claimed.Contains(id)).Select(id => id!).Distinct().Order(StringComparer.Ordinal).ToList();
            var profileId = earlier.Count > 0 ? earlier[0] : NewId(records[component[0]].Key);
            claimed.UnionWith(earlier);
            var profile = Build(profileId, component.Select(i => records[i]).ToList(), component.SelectMany(i => keysByNode[i]).Select(k => k.Key));
            foreach (var other in earlier.Skip(1))
            {
                profile.MergedIds.Add(other);
                mergedInto[other] = profileId;
            }

            foreach (var i in component)
            {
                assignments[records[i].Key] = profileId;
            }

            profiles.Add(profile);
        }

        return new Resolution(profiles, assignments, mergedInto, refused);
    }

    /// <summary>The match keys a member would join on (blocked, masked and never-match values left out).</summary>
    public IReadOnlyList<string> KeysOf(Member member) =>
        MatchKeys(new Record("m:" + member.Source.Key, member.Source, member.Email, member.Phone, member.Identifiers, member, null), []).Select(k => k.Key).ToList();

    /// <summary>The match keys an order's buyer would join on.</summary>
    public IReadOnlyList<string> KeysOf(Order order) =>
        MatchKeys(new Record("o:" + order.Source.Key, order.Source, order.Email, order.Phone, order.Identifiers, null, order), []).Select(k => k.Key).ToList();

    private static string NewId(string firstRecordKey) =>
        "p-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(firstRecordKey)).AsSpan(0, 10));

    private static string Mask(string key)
    {
        var colon = key.IndexOf(':', StringComparison.Ordinal);
        return colon < 0 ? "(key)" : key[..colon] + ":" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)).AsSpan(0, 4));
    }

    // Whether a value may join records, memoised for one resolution: the same email or phone recurs on many orders.
    private bool CanMatch(Dictionary<(string Type, string Value), bool> memo, string type, string value)
    {
        if (!memo.TryGetValue((type, value), out var ok))
        {
            memo[(type, value)] = ok = rules.CanMatch(type, value);
        }

        return ok;
    }

    private IEnumerable<(string Type, string Key)> MatchKeys(Record record, Dictionary<(string Type, string Value), bool> memo)
    {
        if (record.Email is { } email && CanMatch(memo, "email", email))
        {
            yield return ("email", "email:" + email);
        }

        if (record.Phone is { } phone && CanMatch(memo, "phone", phone))
        {
            yield return ("phone", "phone:" + phone);
        }

        foreach (var (type, value) in record.Identifiers.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            if (!CanMatch(memo, type, value))
            {
                continue;
            }

            var scope = rules.Rule(type)!.Scope;
            yield return (type, scope switch
            {
                IdentifierScope.Global => $"{type}:{value}",
                IdentifierScope.Platform => $"{type}:{record.Source.Platform}:{value}",
                _ => $"{type}:{record.Source.Platform}:{record.Source.ConnectionId}:{value}",
            });
        }
    }

    /// <summary>Members and orders as graph nodes; a record seen twice keeps its newest version.</summary>
    private static List<Record> Collect(IEnumerable<Member> members, IEnumerable<Order> orders)
    {
        var byKey = new Dictionary<string, Record>(StringComparer.Ordinal);
        foreach (var record in members.Select(m => new Record("m:" + m.Source.Key, m.Source, m.Email, m.Phone, m.Identifiers, m, null))
            .Concat(orders.Select(o => new Record("o:" + o.Source.Key, o.Source, o.Email, o.Phone, o.Identifiers, null, o))))
        {
            if (!byKey.TryGetValue(record.Key, out var existing) || Newer(record, existing))
            {
                byKey[record.Key] = record;
            }
        }

        return byKey.Values.OrderBy(r => r.Key, StringComparer.Ordinal).ToList();
    }

    /// <summary>The newer version of one vendor record; equal times fall back to content, so input order never decides.</summary>
    private static bool Newer(Record a, Record b)
    {
        var c = Nullable.Compare(a.Source.VendorUpdatedAt, b.Source.VendorUpdatedAt);
        return c != 0 ? c > 0 : string.CompareOrdinal(Fingerprint(a), Fingerprint(b)) > 0;
    }

    private static string Fingerprint(Record r) =>
        $"{r.Email}|{r.Phone}|{r.Member?.Name ?? r.Order?.Name}|{string.Join(",", r.Identifiers.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Key + "=" + p.Value))}|{r.Order?.Total}|{r.Order?.Status}";

    private Profile Build(string id, List<Record> records, IEnumerable<string> matchKeys)
    {
        var profile = new Profile { Id = id };
        profile.MatchKeys = matchKeys.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        profile.RecordKeys = records.Select(r => r.Key).ToArray(); // records arrive sorted by key
        foreach (var r in records)
        {
            profile.Platforms.Add(r.Source.Platform);
            if (r.Email is not null)
            {
                profile.Emails.Add(r.Email);
            }

            if (r.Phone is not null)
            {
                profile.Phones.Add(r.Phone);
            }

            foreach (var (type, value) in r.Identifiers)
            {
                (profile.Identifiers.TryGetValue(type, out var set) ? set : profile.Identifiers[type] = new()).Add(value);
            }

            if (r.Member is { } m)
            {
                profile.Sources.Add(m.Source);
                profile.PlatformTags.UnionWith(m.Tags);
            }
        }

        var survivorship = rules.Survivorship;
        profile.Email = Pick(records, "email", r => r.Email, survivorship);
        profile.Phone = Pick(records, "phone", r => r.Phone, survivorship);
        profile.Name = Pick(records, "name", r => r.Member?.Name ?? r.Order?.Name, survivorship);
        profile.GivenName = Pick(records, "givenName", r => r.Member?.GivenName, survivorship);
        profile.FamilyName = Pick(records, "familyName", r => r.Member?.FamilyName, survivorship);
        profile.PlatformLevel = Pick(records, "platformLevel", r => r.Member?.PlatformLevel, survivorship);
        var address = PickRecord(records, "address", r => r.Member is { Address.IsEmpty: false }, survivorship);
        if (address?.Member is { } withAddress)
        {
            profile.Address = withAddress.Address;
        }

        var consent = PickRecord(records, "consent", r => r.Member is { Consent: { Email: not null } or { Sms: not null } }, survivorship);
        if (consent?.Member is { } withConsent)
        {
            profile.Consent = withConsent.Consent;
        }

        profile.Points = records.Where(r => r.Member?.Points is not null).Select(r => r.Member!.Points).Sum();
        if (!records.Any(r => r.Member?.Points is not null))
        {
            profile.Points = null;
        }

        profile.Sources.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
        return profile;
    }

    private static string? Pick(List<Record> records, string field, Func<Record, string?> value, Survivorship survivorship) =>
        PickRecord(records, field, r => !string.IsNullOrWhiteSpace(value(r)), survivorship) is { } r ? value(r) : null;

    private static Record? PickRecord(List<Record> records, string field, Func<Record, bool> has, Survivorship survivorship)
    {
        var candidates = records.Where(has);
        var ordered = survivorship.StrategyFor(field) == "sourcePriority"
            ? candidates.OrderBy(r => survivorship.SourceRank(r.Source.Platform)).ThenByDescending(r => r.Source.VendorUpdatedAt ?? DateTimeOffset.MinValue)
            : candidates.OrderByDescending(r => r.Source.VendorUpdatedAt ?? DateTimeOffset.MinValue).ThenBy(r => survivorship.SourceRank(r.Source.Platform));
        return ordered.ThenBy(r => r.Key, StringComparer.Ordinal).FirstOrDefault();
    }

    internal sealed record Record(string Key, SourceRef Source, string? Email, string? Phone, IdentifierMap Identifiers, Member? Member, Order? Order);
}

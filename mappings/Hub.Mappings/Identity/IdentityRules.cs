using System.Text.RegularExpressions;
using Hub.Mappings.Rules;
using Newtonsoft.Json.Linq;

namespace Hub.Mappings.Identity;

/// <summary>Where an identifier is unique: everywhere (email, phone), within a platform (Tmall omid), or one shop.</summary>
public enum IdentifierScope
{
    Global,
    Platform,
    Connection,
}

/// <summary>One identifier type that may join records: its priority (lower joins first) and how many values a profile may hold.</summary>
public sealed record IdentifierRule(string Type, int Priority, int? Limit, IdentifierScope Scope);

/// <summary>
/// Identity rules: which identifiers match records into one profile, in what priority, with what limits, and which
/// values never match (blocked patterns; identifier types such as Tmall's weekly OAID that must never join).
/// </summary>
public sealed class IdentityRules
{
    private readonly Dictionary<string, IdentifierRule> _identifiers;
    private readonly Dictionary<string, Regex[]> _blocked;
    private readonly HashSet<string> _neverMatch;

    private IdentityRules(Dictionary<string, IdentifierRule> identifiers, Dictionary<string, Regex[]> blocked, HashSet<string> neverMatch, Survivorship survivorship)
    {
        _identifiers = identifiers;
        _blocked = blocked;
        _neverMatch = neverMatch;
        Survivorship = survivorship;
    }

    public IReadOnlyCollection<IdentifierRule> Identifiers => _identifiers.Values;
    public Survivorship Survivorship { get; }

    public IdentifierRule? Rule(string type) => _identifiers.TryGetValue(type, out var r) ? r : null;

    /// <summary>True when the value may join records: its type is a match key and no blocked pattern matches it.</summary>
    public bool CanMatch(string type, string value)
    {
        if (_neverMatch.Contains(type) || !_identifiers.ContainsKey(type) || string.IsNullOrWhiteSpace(value))
        {
            return false;
        }

        if (Normalisers.IsEncrypted(value) || value.Contains('*', StringComparison.Ordinal))
        {
            return false; // encrypted or masked values are never match keys
        }

        return !IsBlocked(type, value) && !IsBlocked("*", value);
    }

    private bool IsBlocked(string type, string value)
    {
        if (!_blocked.TryGetValue(type, out var patterns))
        {
            return false;
        }

        foreach (var pattern in patterns)
        {
            try
            {
                if (pattern.IsMatch(value))
                {
                    return true;
                }
            }
            catch (RegexMatchTimeoutException)
            {
                return true; // a value we cannot judge in time never joins anything
            }
        }

        return false;
    }

    /// <summary>
    /// Linear-time matching where the pattern allows it (no catastrophic backtracking on hostile values); patterns
    /// with back-references fall back to the backtracking engine with a timeout.
    /// </summary>
    private static Regex Compile(string pattern)
    {
        const RegexOptions options = RegexOptions.CultureInvariant | RegexOptions.IgnoreCase;
        try
        {
            return new Regex(pattern, options | RegexOptions.NonBacktracking);
        }
        catch (NotSupportedException)
        {
            return new Regex(pattern, options, TimeSpan.FromSeconds(1));
        }
    }

    internal static IdentityRules Compile(string file, JObject json, List<RuleError> errors)
    {
        var identifiers = new Dictionary<string, IdentifierRule>(StringComparer.Ordinal);
        var list = (JArray)json["identifiers"]!;
        for (var i = 0; i < list.Count; i++)
        {
            var item = (JObject)list[i];
            var type = item.Value<string>("type")!;
            if (identifiers.ContainsKey(type))
            {
                errors.Add(new RuleError(file, $"$.identifiers[{i}].type", $"'{type}' is listed twice"));
                continue;
            }

            identifiers[type] = new IdentifierRule(type, item.Value<int>("priority"), item.Value<int?>("limit"),
                Enum.Parse<IdentifierScope>(item.Value<string>("scope") ?? "global", ignoreCase: true));
        }

        var blocked = new Dictionary<string, Regex[]>(StringComparer.Ordinal);
        foreach (var property in (json["blocked"] as JObject ?? []).Properties())
        {
            var patterns = new List<Regex>();
            var values = (JArray)property.Value;
            for (var i = 0; i < values.Count; i++)
            {
                try
                {
                    patterns.Add(Compile((string)values[i]!));
                }
                catch (ArgumentException ex)
                {
                    errors.Add(new RuleError(file, $"$.blocked.{property.Name}[{i}]", $"not a valid regular expression: {ex.Message}"));
                }
            }

            blocked[property.Name] = patterns.ToArray();
        }

        var neverMatch = new HashSet<string>((json["neverMatch"] as JArray ?? []).Values<string>().Select(s => s!), StringComparer.Ordinal);
        foreach (var type in neverMatch.Where(identifiers.ContainsKey))
        {
            errors.Add(new RuleError(file, "$.neverMatch", $"'{type}' is both a match identifier and in neverMatch"));
        }

        var survivorship = Survivorship.Compile(file, json["survivorship"] as JObject, errors);
        return new IdentityRules(identifiers, blocked, neverMatch, survivorship);
    }
}

/// <summary>How a profile's single-valued fields are chosen among its records: most recent non-empty, or by source priority.</summary>
public sealed class Survivorship
{
    private readonly Dictionary<string, string> _fields;
    private readonly List<string> _sourcePriority;

    private Survivorship(string defaultStrategy, Dictionary<string, string> fields, List<string> sourcePriority)
    {
        Default = defaultStrategy;
        _fields = fields;
        _sourcePriority = sourcePriority;
    }

    public string Default { get; }

    public string StrategyFor(string field) => _fields.TryGetValue(field, out var s) ? s : Default;

    /// <summary>Rank of a platform in the source priority list (lower wins); unknown platforms come last.</summary>
    public int SourceRank(string platform)
    {
        var index = _sourcePriority.IndexOf(platform);
        return index < 0 ? int.MaxValue : index;
    }

    internal static Survivorship Compile(string file, JObject? json, List<RuleError> errors)
    {
        var strategy = json?.Value<string>("default") ?? "mostRecent";
        var fields = (json?["fields"] as JObject ?? []).Properties().ToDictionary(p => p.Name, p => (string)p.Value!, StringComparer.Ordinal);
        var priority = (json?["sourcePriority"] as JArray ?? []).Values<string>().Select(s => s!).ToList();
        if (fields.Values.Append(strategy).Contains("sourcePriority") && priority.Count == 0)
        {
            errors.Add(new RuleError(file, "$.survivorship.sourcePriority", "a field uses sourcePriority but no sourcePriority list is given"));
        }

        return new Survivorship(strategy, fields, priority);
    }
}

using Hub.Mappings.Model;
using Hub.Mappings.Rules;
using Newtonsoft.Json.Linq;

namespace Hub.Mappings.Segments;

/// <summary>One segment: ordered rules, the first whose condition holds gives the value, else the default.</summary>
public sealed record SegmentDefinition(string Name, IReadOnlyList<(string Value, Func<JToken, EvalContext, bool> When)> Rules, string? Default);

/// <summary>
/// Metrics and segment rules as data: which order statuses count, RFM thresholds, and segments (lifecycle, value
/// tier, VIP level, repurchase, RFM tier…) whose conditions read the profile view. Thresholds such as the
/// lifecycle's day limits live in the rule file, never in code.
/// </summary>
public sealed class SegmentRules
{
    private SegmentRules(HashSet<OrderStatus> excluded, decimal[] recency, decimal[] frequency, decimal[] monetary, IReadOnlyList<SegmentDefinition> segments, IReadOnlyList<(string Name, Func<JToken, EvalContext, bool> When)> tags)
    {
        Excluded = excluded;
        RecencyDays = recency;
        Frequency = frequency;
        Monetary = monetary;
        Segments = segments;
        Tags = tags;
    }

    public IReadOnlySet<OrderStatus> Excluded { get; }

    /// <summary>Upper bounds in days for recency scores 5, 4, 3, 2 (older scores 1).</summary>
    public decimal[] RecencyDays { get; }

    /// <summary>Lower bounds of order count for frequency scores 2, 3, 4, 5.</summary>
    public decimal[] Frequency { get; }

    /// <summary>Lower bounds of total spent for monetary scores 2, 3, 4, 5.</summary>
    public decimal[] Monetary { get; }

    public IReadOnlyList<SegmentDefinition> Segments { get; }
    public IReadOnlyList<(string Name, Func<JToken, EvalContext, bool> When)> Tags { get; }

    /// <summary>Computes the metrics of <paramref name="profile"/> from its orders.</summary>
    public void ComputeMetrics(Profile profile, IEnumerable<Order> orders, DateTimeOffset now)
    {
        var m = profile.Metrics;
        m.TotalSpentByCurrency.Clear();
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        m.OrderCount = 0;
        m.FirstOrderAt = m.LastOrderAt = null;
        foreach (var order in orders)
        {
            if (Excluded.Contains(order.Status))
            {
                continue;
            }

            var currency = order.Currency ?? "XXX";
            m.TotalSpentByCurrency[currency] = (m.TotalSpentByCurrency.TryGetValue(currency, out var sum) ? sum : 0) + order.Total - order.Refunded;
            counts[currency] = (counts.TryGetValue(currency, out var c) ? c : 0) + 1;
            m.OrderCount++;
            var at = order.CreatedAt ?? order.Source.VendorUpdatedAt;
            if (at is { } t)
            {
                m.FirstOrderAt = m.FirstOrderAt is null || t < m.FirstOrderAt ? t : m.FirstOrderAt;
                m.LastOrderAt = m.LastOrderAt is null || t > m.LastOrderAt ? t : m.LastOrderAt;
            }
        }

        var main = m.TotalSpentByCurrency.OrderByDescending(p => p.Value).ThenBy(p => p.Key, StringComparer.Ordinal).FirstOrDefault();
        m.Currency = main.Key;
        m.TotalSpent = main.Key is null ? 0 : main.Value;
        m.AverageOrderValue = main.Key is null ? 0 : decimal.Round(main.Value / counts[main.Key], 2);
        m.DaysSinceLastOrder = m.LastOrderAt is { } last ? (int)Math.Floor((now - last).TotalDays) : null;
        m.Repurchase = m.OrderCount >= 2;
        profile.Rfm = m.OrderCount == 0 ? null : (Score(RecencyDays, m.DaysSinceLastOrder ?? int.MaxValue, lowerIsBetter: true), Score(Frequency, m.OrderCount, false), Score(Monetary, m.TotalSpent, false));
    }

    /// <summary>Evaluates every segment in order (a later one may read an earlier one) and the tags.</summary>
    public void Apply(Profile profile, EvalContext ctx)
    {
        profile.Segments.Clear();
        profile.Tags.Clear();
        var view = profile.View();
        var segments = (JObject)view["segments"]!;
        foreach (var segment in Segments)
        {
            var value = segment.Default;
            foreach (var (candidate, when) in segment.Rules)
            {
                if (when(view, ctx))
                {
                    value = candidate;
                    break;
                }
            }

            if (value is not null)
            {
                profile.Segments[segment.Name] = value;
                segments[segment.Name] = value;
            }
        }

        view["segments"] = segments;
        foreach (var (name, when) in Tags)
        {
            if (when(view, ctx))
            {
                profile.Tags.Add(name);
            }
        }
    }

    private static int Score(decimal[] bounds, decimal value, bool lowerIsBetter)
    {
        if (lowerIsBetter)
        {
            for (var i = 0; i < bounds.Length; i++)
            {
                if (value <= bounds[i])
                {
                    return 5 - i;
                }
            }

            return 1;
        }

        var score = 1;
        foreach (var bound in bounds)
        {
            if (value >= bound)
            {
                score++;
            }
        }

        return score;
    }

    internal static SegmentRules Compile(string file, JObject json, List<RuleError> errors)
    {
        var compiler = new MappingCompiler(file, errors);
        var conditions = new ConditionCompiler(compiler);
        var excluded = new HashSet<OrderStatus>();
        var list = json["metrics"]?["excludeStatuses"] as JArray ?? [];
        for (var i = 0; i < list.Count; i++)
        {
            if (Enum.TryParse<OrderStatus>((string?)list[i], ignoreCase: true, out var status))
            {
                excluded.Add(status);
            }
            else
            {
                compiler.Error($"$.metrics.excludeStatuses[{i}]", $"'{list[i]}' is not an order status");
            }
        }

        decimal[] Bounds(string name, bool ascending)
        {
            var values = (json["rfm"]?[name] as JArray ?? []).Select(v => v.Value<decimal>()).ToArray();
            if (values.Length != 4)
            {
                compiler.Error($"$.rfm.{name}", "needs exactly four thresholds (five scores)");
            }
            else if (!values.SequenceEqual(ascending ? values.Order() : values.OrderDescending()))
            {
                compiler.Error($"$.rfm.{name}", "thresholds must be in ascending order");
            }

            return values;
        }

        var recency = Bounds("recencyDays", true);
        var frequency = Bounds("frequency", true);
        var monetary = Bounds("monetary", true);
        var segments = new List<SegmentDefinition>();
        var defs = (JArray)json["segments"]!;
        for (var i = 0; i < defs.Count; i++)
        {
            var def = (JObject)defs[i];
            var rules = (JArray)def["rules"]!;
            var compiled = new List<(string, Func<JToken, EvalContext, bool>)>();
            for (var j = 0; j < rules.Count; j++)
            {
                compiled.Add(((string)rules[j]["value"]!, conditions.Compile(rules[j]["when"], $"$.segments[{i}].rules[{j}].when")));
            }

            var name = def.Value<string>("name")!;
            if (segments.Any(s => s.Name == name))
            {
                compiler.Error($"$.segments[{i}].name", $"segment '{name}' is defined twice");
            }

            segments.Add(new SegmentDefinition(name, compiled, def.Value<string>("default")));
        }

        var tags = (json["tags"] as JArray ?? []).OfType<JObject>().Select((t, i) => (t.Value<string>("name")!, conditions.Compile(t["when"], $"$.tags[{i}].when"))).ToList();
        return new SegmentRules(excluded, recency, frequency, monetary, segments, tags);
    }
}

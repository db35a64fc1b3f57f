using System.Globalization;
using System.Xml;
using Newtonsoft.Json.Linq;

namespace Hub.Mappings.Rules;

/// <summary>
/// Conditions as data: <c>all</c>, <c>any</c>, <c>not</c>, <c>exists</c>, <c>eq</c>, <c>ne</c>, <c>in</c>,
/// <c>gt</c>, <c>gte</c>, <c>lt</c>, <c>lte</c>, <c>contains</c>, <c>olderThan</c>, <c>newerThan</c>. Operands are
/// mappings (<c>{"@path": "$.metrics.orderCount"}</c>) or literals. Numbers compare as decimals, dates as instants.
/// </summary>
public sealed class ConditionCompiler(MappingCompiler mappings)
{
    public Func<JToken, EvalContext, bool> Compile(JToken? condition, string path)
    {
        if (condition is not JObject { Count: 1 } o)
        {
            mappings.Error(path, "a condition is an object with exactly one operator (all, any, not, exists, eq, ne, in, gt, gte, lt, lte, contains, olderThan, newerThan)");
            return (_, _) => false;
        }

        var op = o.Properties().Single();
        var at = MappingCompiler.Child(path, op.Name);
        switch (op.Name)
        {
            case "all":
            case "any":
                if (op.Value is not JArray { Count: > 0 } list)
                {
                    mappings.Error(at, "expects a non-empty array of conditions");
                    return (_, _) => false;
                }

                var parts = list.Select((c, i) => Compile(c, $"{at}[{i}]")).ToArray();
                return op.Name == "all"
                    ? (input, ctx) => parts.All(p => p(input, ctx))
                    : (input, ctx) => parts.Any(p => p(input, ctx));
            case "not":
                var inner = Compile(op.Value, at);
                return (input, ctx) => !inner(input, ctx);
            case "exists":
                var value = mappings.Compile(op.Value, at);
                return (input, ctx) => !MappingCompiler.IsBlank(value.Eval(input, ctx));
            case "eq":
            case "ne":
            case "gt":
            case "gte":
            case "lt":
            case "lte":
            case "in":
            case "contains":
            case "olderThan":
            case "newerThan":
                return Binary(op.Name, op.Value, at);
            default:
                mappings.Error(at, $"unknown condition operator '{op.Name}'");
                return (_, _) => false;
        }
    }

    private Func<JToken, EvalContext, bool> Binary(string op, JToken args, string at)
    {
        if (args is not JArray { Count: 2 } pair)
        {
            mappings.Error(at, "expects [left, right]");
            return (_, _) => false;
        }

        var left = mappings.Compile(pair[0], $"{at}[0]");
        if (op is "olderThan" or "newerThan")
        {
            var span = Duration(pair[1], $"{at}[1]");
            return (input, ctx) =>
            {
                var date = Normalisers.Date(left.Eval(input, ctx), null, ctx);
                if (date is null)
                {
                    return false;
                }

                var age = ctx.Now - date.Value;
                return op == "olderThan" ? age > span : age <= span;
            };
        }

        var right = mappings.Compile(pair[1], $"{at}[1]");
        return op switch
        {
            "eq" => (input, ctx) => Equal(left.Eval(input, ctx), right.Eval(input, ctx)),
            "ne" => (input, ctx) => !Equal(left.Eval(input, ctx), right.Eval(input, ctx)),
            "in" => (input, ctx) => right.Eval(input, ctx) is JArray list && left.Eval(input, ctx) is { } l && list.Any(x => Equal(l, x)),
            "contains" => (input, ctx) => Contains(left.Eval(input, ctx), right.Eval(input, ctx)),
            _ => (input, ctx) => Compare(left.Eval(input, ctx), right.Eval(input, ctx)) is { } c && op switch
            {
                "gt" => c > 0,
                "gte" => c >= 0,
                "lt" => c < 0,
                _ => c <= 0,
            },
        };
    }

    private TimeSpan Duration(JToken token, string at)
    {
        if (token.Type is JTokenType.Integer or JTokenType.Float)
        {
            return TimeSpan.FromDays(token.Value<double>());
        }

        if (token.Type == JTokenType.String)
        {
            try
            {
                return XmlConvert.ToTimeSpan((string)token!);
            }
            catch (FormatException)
            {
            }
        }

        mappings.Error(at, "expects a number of days or an ISO 8601 duration such as \"P30D\"");
        return TimeSpan.MaxValue;
    }

    public static bool Equal(JToken? a, JToken? b)
    {
        if (MappingCompiler.IsBlank(a) || MappingCompiler.IsBlank(b))
        {
            return MappingCompiler.IsBlank(a) && MappingCompiler.IsBlank(b);
        }

        if (Compare(a, b) is { } c)
        {
            return c == 0;
        }

        return string.Equals(MappingCompiler.AsString(a), MappingCompiler.AsString(b), StringComparison.Ordinal);
    }

    // Comparisons only need a context for parsing; their issues are never reported. One per thread, reused.
    [ThreadStatic]
    private static EvalContext? _scratch;

    public static int? Compare(JToken? a, JToken? b)
    {
        var ctx = _scratch ??= new EvalContext(DateTimeOffset.UnixEpoch);
        ctx.ClearIssues();
        if (a is JValue { Type: JTokenType.Integer or JTokenType.Float } || b is JValue { Type: JTokenType.Integer or JTokenType.Float })
        {
            var x = Normalisers.Number(a, ctx);
            var y = Normalisers.Number(b, ctx);
            return x is null || y is null ? null : x.Value.CompareTo(y.Value);
        }

        if (a is JValue { Value: DateTimeOffset } || b is JValue { Value: DateTimeOffset })
        {
            var x = Normalisers.Date(a, null, ctx);
            var y = Normalisers.Date(b, null, ctx);
            return x is null || y is null ? null : x.Value.CompareTo(y.Value);
        }

        var sa = MappingCompiler.AsString(a);
        var sb = MappingCompiler.AsString(b);
        if (sa is null || sb is null)
        {
            return null;
        }

        if (decimal.TryParse(sa, NumberStyles.Number, CultureInfo.InvariantCulture, out var da) && decimal.TryParse(sb, NumberStyles.Number, CultureInfo.InvariantCulture, out var db))
        {
            return da.CompareTo(db);
        }

        return string.CompareOrdinal(sa, sb);
    }

    private static bool Contains(JToken? haystack, JToken? needle) => haystack switch
    {
        JArray list => list.Any(x => Equal(x, needle)),
        _ => MappingCompiler.AsString(haystack) is { } s && MappingCompiler.AsString(needle) is { } n && s.Contains(n, StringComparison.Ordinal),
    };
}

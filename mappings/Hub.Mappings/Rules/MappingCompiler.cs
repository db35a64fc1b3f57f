using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Newtonsoft.Json.Linq;

namespace Hub.Mappings.Rules;

/// <summary>A compiled mapping: evaluated against an input token; null means "undefined" (the key is dropped).</summary>
public delegate JToken? Mapping(JToken input, EvalContext ctx);

/// <summary>What a compiled mapping yields, as far as it is known at load time (used for type checks).</summary>
public enum ValueKind
{
    Any,
    String,
    Number,
    Bool,
    Date,
    Array,
    Object,
    Null,
}

public sealed record CompiledMapping(Mapping Eval, ValueKind Kind);

/// <summary>
/// Compiles mapping values once. Mapping-kit semantics: a value is either raw JSON or an object with exactly one
/// <c>@directive</c> key; a directive never sits beside raw keys; an object without directives is a nested object
/// whose undefined members are dropped; an explicit null stays null. Every error carries the file and JSON path.
/// </summary>
public sealed partial class MappingCompiler(string file, List<RuleError> errors)
{
    public static readonly IReadOnlySet<string> Directives = new HashSet<string>(StringComparer.Ordinal)
    {
        "@path", "@literal", "@if", "@lookup", "@template", "@coalesce", "@arrayPath",
        "@phone", "@email", "@name", "@date", "@money", "@number", "@bool", "@split", "@case", "@join",
    };

    private static readonly CompiledMapping Undefined = new((_, _) => null, ValueKind.Any);

    public string File => file;

    public void Error(string path, string message) => errors.Add(new RuleError(file, path, message));

    public CompiledMapping Compile(JToken? mapping, string path)
    {
        switch (mapping)
        {
            case null:
                Error(path, "a mapping is required here");
                return Undefined;
            case JValue value:
                var literal = value.DeepClone();
                return new((_, _) => literal, KindOf(value));
            case JArray array:
                var items = array.Select((item, i) => Compile(item, $"{path}[{i}]")).ToArray();
                return new((input, ctx) =>
                {
                    var result = new JArray();
                    foreach (var item in items)
                    {
                        if (item.Eval(input, ctx) is { } v)
                        {
                            result.Add(v);
                        }
                    }

                    return result;
                }, ValueKind.Array);
            case JObject obj:
                return CompileObject(obj, path);
            default:
                Error(path, $"unexpected {mapping.Type}");
                return Undefined;
        }
    }

    private CompiledMapping CompileObject(JObject obj, string path)
    {
        var directiveKeys = obj.Properties().Where(p => p.Name.StartsWith('@')).ToList();
        if (directiveKeys.Count == 0)
        {
            var members = obj.Properties().Select(p => (p.Name, Compiled: Compile(p.Value, Child(path, p.Name)))).ToArray();
            return new((input, ctx) =>
            {
                var result = new JObject();
                foreach (var (name, compiled) in members)
                {
                    if (compiled.Eval(input, ctx) is { } v)
                    {
                        result[name] = v;
                    }
                }

                return result;
            }, ValueKind.Object);
        }

        if (obj.Count > 1)
        {
            Error(path, directiveKeys.Count == obj.Count
                ? $"one directive per object, found {string.Join(", ", directiveKeys.Select(k => k.Name))}"
                : $"directive {directiveKeys[0].Name} cannot sit beside raw keys ({string.Join(", ", obj.Properties().Where(p => !p.Name.StartsWith('@')).Select(p => p.Name))})");
            return Undefined;
        }

        var directive = directiveKeys[0];
        var at = Child(path, directive.Name);
        var args = directive.Value;
        return directive.Name switch
        {
            "@path" => CompilePath(args, at),
            "@literal" => Literal(args),
            "@if" => CompileIf(args, at),
            "@lookup" => CompileLookup(args, at),
            "@template" => CompileTemplate(args, at),
            "@coalesce" => CompileCoalesce(args, at),
            "@arrayPath" => CompileArrayPath(args, at),
            "@phone" => CompilePhone(args, at),
            "@email" => Unary(args, at, (v, ctx) => Str(Normalisers.Email(AsString(v), ctx)), ValueKind.String),
            "@name" => CompileName(args, at),
            "@date" => CompileDate(args, at),
            "@money" => CompileMoney(args, at),
            "@number" => Unary(args, at, (v, ctx) => Normalisers.Number(v, ctx) is { } d ? new JValue(d) : null, ValueKind.Number),
            "@bool" => Unary(args, at, (v, _) => AsBool(v) is { } b ? new JValue(b) : null, ValueKind.Bool),
            "@split" => CompileSplit(args, at),
            "@case" => CompileCase(args, at),
            "@join" => CompileJoin(args, at),
            _ => UnknownDirective(directive.Name, at),
        };
    }

    private CompiledMapping UnknownDirective(string name, string path)
    {
        Error(path, $"unknown directive {name}; known: {string.Join(", ", Directives)}");
        return Undefined;
    }

    private static CompiledMapping Literal(JToken args)
    {
        var value = args.DeepClone();
        return new((_, _) => value, KindOf(value));
    }

    public JsonPath? Path(JToken args, string at)
    {
        if (args is not JValue { Type: JTokenType.String } s)
        {
            Error(at, "expects a JSONPath string such as \"$.email\"");
            return null;
        }

        if (!JsonPath.TryCompile((string)s!, out var path, out var error))
        {
            Error(at, error!);
            return null;
        }

        return path;
    }

    private CompiledMapping CompilePath(JToken args, string at)
    {
        var path = Path(args, at);
        if (path is null)
        {
            return Undefined;
        }

        if (path.IsMulti)
        {
            return new((input, _) => new JArray(path.SelectMany(input)), ValueKind.Array);
        }

        return new((input, _) => path.Select(input), ValueKind.Any);
    }

    private CompiledMapping CompileIf(JToken args, string at)
    {
        if (args is not JObject o || o["then"] is null)
        {
            Error(at, "expects { \"exists\" | \"when\": …, \"then\": …, \"else\"?: … }");
            return Undefined;
        }

        Func<JToken, EvalContext, bool> condition;
        if (o["exists"] is { } exists)
        {
            var value = Compile(exists, Child(at, "exists"));
            condition = (input, ctx) => !IsBlank(value.Eval(input, ctx));
        }
        else if (o["when"] is { } when)
        {
            condition = new ConditionCompiler(this).Compile(when, Child(at, "when"));
        }
        else
        {
            Error(at, "needs a condition: \"exists\" or \"when\"");
            return Undefined;
        }

        foreach (var key in o.Properties().Select(p => p.Name).Where(k => k is not ("exists" or "when" or "then" or "else")))
        {
            Error(Child(at, key), "unknown key in @if");
        }

        var then = Compile(o["then"], Child(at, "then"));
        var otherwise = o["else"] is { } e ? Compile(e, Child(at, "else")) : Undefined;
        return new((input, ctx) => condition(input, ctx) ? then.Eval(input, ctx) : otherwise.Eval(input, ctx), then.Kind == otherwise.Kind ? then.Kind : ValueKind.Any);
    }

    private CompiledMapping CompileLookup(JToken args, string at)
    {
        if (args is not JObject o || o["value"] is null || o["map"] is not JObject map)
        {
            Error(at, "expects { \"value\": …, \"map\": { … }, \"default\"?: … }");
            return Undefined;
        }

        var value = Compile(o["value"], Child(at, "value"));
        var table = map.Properties().ToDictionary(p => p.Name, p => p.Value.DeepClone(), StringComparer.Ordinal);
        var hasDefault = o.ContainsKey("default");
        var fallback = o["default"]?.DeepClone();
        var ignoreCase = o.Value<bool?>("ignoreCase") ?? false;
        if (ignoreCase)
        {
            table = new Dictionary<string, JToken>(table, StringComparer.OrdinalIgnoreCase);
        }

        var kinds = table.Values.Select(KindOf).Distinct().ToList();
        return new((input, ctx) =>
        {
            var key = AsString(value.Eval(input, ctx));
            if (key is not null && table.TryGetValue(key, out var mapped))
            {
                return mapped;
            }

            return hasDefault ? fallback ?? JValue.CreateNull() : null;
        }, kinds.Count == 1 ? kinds[0] : ValueKind.Any);
    }

    private CompiledMapping CompileTemplate(JToken args, string at)
    {
        if (args is not JValue { Type: JTokenType.String } s)
        {
            Error(at, "expects a string with {{$.path}} placeholders");
            return Undefined;
        }

        var parts = new List<(string Text, JsonPath? Path)>();
        var text = (string)s!;
        var last = 0;
        foreach (Match m in Placeholder().Matches(text))
        {
            parts.Add((text[last..m.Index], null));
            if (JsonPath.TryCompile(m.Groups[1].Value.Trim(), out var path, out var error))
            {
                parts.Add(("", path));
            }
            else
            {
                Error(at, error!);
            }

            last = m.Index + m.Length;
        }

        parts.Add((text[last..], null));
        return new((input, _) =>
        {
            var sb = new StringBuilder();
            foreach (var (literal, path) in parts)
            {
                sb.Append(path is null ? literal : AsString(path.Select(input)) ?? "");
            }

            var result = sb.ToString().Trim();
            return result.Length == 0 ? null : new JValue(result);
        }, ValueKind.String);
    }

    private CompiledMapping CompileCoalesce(JToken args, string at)
    {
        if (args is not JArray { Count: > 0 } array)
        {
            Error(at, "expects a non-empty array of mappings");
            return Undefined;
        }

        var options = array.Select((a, i) => Compile(a, $"{at}[{i}]")).ToArray();
        var kinds = options.Select(o => o.Kind).Distinct().ToList();
        return new((input, ctx) =>
        {
            foreach (var option in options)
            {
                var v = option.Eval(input, ctx);
                if (!IsBlank(v))
                {
                    return v;
                }
            }

            return null;
        }, kinds.Count == 1 ? kinds[0] : ValueKind.Any);
    }

    private CompiledMapping CompileArrayPath(JToken args, string at)
    {
        if (args is not JArray { Count: 2 } pair)
        {
            Error(at, "expects [\"$.path.to.array\", { item mapping, paths relative to the item }]");
            return Undefined;
        }

        var path = Path(pair[0], $"{at}[0]");
        var item = Compile(pair[1], $"{at}[1]");
        if (path is null)
        {
            return Undefined;
        }

        return new((input, ctx) =>
        {
            var items = path.IsMulti ? path.SelectMany(input) : path.Select(input) is JArray a ? a : [];
            var result = new JArray();
            foreach (var element in items)
            {
                if (item.Eval(element, ctx) is { } v)
                {
                    result.Add(v);
                }
            }

            return result;
        }, ValueKind.Array);
    }

    private CompiledMapping CompilePhone(JToken args, string at)
    {
        CompiledMapping value;
        string? region = null;
        if (args is JObject o && o["value"] is not null && !o.Properties().Any(p => p.Name.StartsWith('@')))
        {
            value = Compile(o["value"], Child(at, "value"));
            region = o.Value<string>("region");
        }
        else
        {
            value = Compile(args, at);
        }

        return new((input, ctx) => Str(Normalisers.Phone(AsString(value.Eval(input, ctx)), region ?? ctx.DefaultRegion, ctx)), ValueKind.String);
    }

    private CompiledMapping CompileName(JToken args, string at)
    {
        if (args is not JObject o || o.Properties().Any(p => p.Name.StartsWith('@')) || !o.Properties().Any())
        {
            return Unary(args, at, (v, _) => Str(Normalisers.Name(AsString(v), null, null)), ValueKind.String);
        }

        var full = o["full"] is { } f ? Compile(f, Child(at, "full")) : Undefined;
        var given = o["given"] is { } g ? Compile(g, Child(at, "given")) : Undefined;
        var family = o["family"] is { } fa ? Compile(fa, Child(at, "family")) : Undefined;
        foreach (var key in o.Properties().Select(p => p.Name).Where(k => k is not ("full" or "given" or "family")))
        {
            Error(Child(at, key), "unknown key in @name (full, given, family)");
        }

        return new((input, ctx) => Str(Normalisers.Name(AsString(full.Eval(input, ctx)), AsString(given.Eval(input, ctx)), AsString(family.Eval(input, ctx)))), ValueKind.String);
    }

    private CompiledMapping CompileDate(JToken args, string at)
    {
        var (value, options) = ValueWithOptions(args, at, "timeZone", "format", "outputTimeZone");
        var zone = options?.Value<string>("timeZone");
        if (zone is not null && Normalisers.Zone(zone) is null)
        {
            Error(Child(at, "timeZone"), $"unknown time zone '{zone}' (use an IANA id such as Asia/Shanghai)");
        }

        // Output for targets: a format (e.g. "yyyy-MM-dd" for CRM date fields), in an output zone (default: as is).
        var format = options?.Value<string>("format");
        var outputZone = options?.Value<string>("outputTimeZone") is { } oz ? Normalisers.Zone(oz) : null;
        if (options?.Value<string>("outputTimeZone") is { } badZone && outputZone is null)
        {
            Error(Child(at, "outputTimeZone"), $"unknown time zone '{badZone}'");
        }

        if (format is not null)
        {
            try
            {
                _ = DateTimeOffset.UnixEpoch.ToString(format, CultureInfo.InvariantCulture);
            }
            catch (FormatException)
            {
                Error(Child(at, "format"), $"'{format}' is not a date format");
            }

            return new((input, ctx) =>
            {
                if (Normalisers.Date(value.Eval(input, ctx), zone, ctx) is not { } d)
                {
                    return null;
                }

                var shown = outputZone is null ? d : TimeZoneInfo.ConvertTime(d, outputZone);
                return new JValue(shown.ToString(format, CultureInfo.InvariantCulture));
            }, ValueKind.String);
        }

        return new((input, ctx) => Normalisers.Date(value.Eval(input, ctx), zone, ctx) is { } d ? new JValue(d) : null, ValueKind.Date);
    }

    private CompiledMapping CompileMoney(JToken args, string at)
    {
        var (value, options) = ValueWithOptions(args, at, "unit");
        var unit = options?.Value<string>("unit");
        if (unit is not null and not ("yuan" or "fen" or "cents" or "major"))
        {
            Error(Child(at, "unit"), $"unknown unit '{unit}' (major, yuan, fen, cents)");
        }

        return new((input, ctx) => Normalisers.Money(value.Eval(input, ctx), unit, ctx) is { } d ? new JValue(d) : null, ValueKind.Number);
    }

    private CompiledMapping CompileSplit(JToken args, string at)
    {
        var (value, options) = ValueWithOptions(args, at, "separator");
        var separator = options?.Value<string>("separator") ?? ",";
        return new((input, ctx) =>
        {
            var v = value.Eval(input, ctx);
            if (v is JArray already)
            {
                return already;
            }

            var text = AsString(v);
            return text is null ? null : new JArray(text.Split(separator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Cast<object>().ToArray());
        }, ValueKind.Array);
    }

    private CompiledMapping CompileCase(JToken args, string at)
    {
        var (value, options) = ValueWithOptions(args, at, "to");
        var to = options?.Value<string>("to") ?? "lower";
        if (to is not ("lower" or "upper"))
        {
            Error(Child(at, "to"), "must be \"lower\" or \"upper\"");
        }

        return new((input, ctx) => AsString(value.Eval(input, ctx)) is { } s ? new JValue(to == "upper" ? s.ToUpperInvariant() : s.ToLowerInvariant()) : null, ValueKind.String);
    }

    private CompiledMapping CompileJoin(JToken args, string at)
    {
        if (args is not JObject o || o["values"] is null)
        {
            Error(at, "expects { \"values\": [mappings] or a mapping yielding an array, \"separator\"?: \" \" }");
            return Undefined;
        }

        var values = Compile(o["values"], Child(at, "values"));
        var separator = o.Value<string>("separator") ?? " ";
        return new((input, ctx) =>
        {
            var v = values.Eval(input, ctx);
            var parts = (v as JArray ?? []).Select(AsString).Where(s => !string.IsNullOrWhiteSpace(s)).ToList();
            return parts.Count == 0 ? null : new JValue(string.Join(separator, parts));
        }, ValueKind.String);
    }

    /// <summary><c>{"@x": mapping}</c> or <c>{"@x": {"value": mapping, option: …}}</c>.</summary>
    private (CompiledMapping Value, JObject? Options) ValueWithOptions(JToken args, string at, params string[] allowed)
    {
        if (args is JObject o && o["value"] is not null && !o.Properties().Any(p => p.Name.StartsWith('@')))
        {
            foreach (var key in o.Properties().Select(p => p.Name).Where(k => k != "value" && !allowed.Contains(k)))
            {
                Error(Child(at, key), $"unknown option (allowed: value, {string.Join(", ", allowed)})");
            }

            return (Compile(o["value"], Child(at, "value")), o);
        }

        return (Compile(args, at), null);
    }

    private CompiledMapping Unary(JToken args, string at, Func<JToken?, EvalContext, JToken?> apply, ValueKind kind)
    {
        var value = Compile(args, at);
        return new((input, ctx) => apply(value.Eval(input, ctx), ctx), kind);
    }

    public static string Child(string path, string key) =>
        key.All(c => char.IsLetterOrDigit(c) || c is '_' or '@') ? $"{path}.{key}" : $"{path}['{key}']";

    public static ValueKind KindOf(JToken token) => token.Type switch
    {
        JTokenType.String => ValueKind.String,
        JTokenType.Integer or JTokenType.Float => ValueKind.Number,
        JTokenType.Boolean => ValueKind.Bool,
        JTokenType.Date => ValueKind.Date,
        JTokenType.Array => ValueKind.Array,
        JTokenType.Object => ValueKind.Object,
        JTokenType.Null => ValueKind.Null,
        _ => ValueKind.Any,
    };

    public static bool IsBlank(JToken? v) => v is null || v.Type == JTokenType.Null || (v.Type == JTokenType.String && string.IsNullOrWhiteSpace((string?)v)) || (v is JArray { Count: 0 });

    public static string? AsString(JToken? v) => v switch
    {
        null => null,
        JValue { Type: JTokenType.Null } => null,
        JValue { Type: JTokenType.String } s => (string?)s,
        JValue { Type: JTokenType.Boolean } b => (bool)b ? "true" : "false",
        JValue { Value: DateTimeOffset d } => d.ToString("O", CultureInfo.InvariantCulture),
        JValue { Value: IFormattable f } => f.ToString(null, CultureInfo.InvariantCulture),
        JValue other => Convert.ToString(other.Value, CultureInfo.InvariantCulture),
        _ => v.ToString(Newtonsoft.Json.Formatting.None),
    };

    public static bool? AsBool(JToken? v) => v switch
    {
        JValue { Type: JTokenType.Boolean } b => (bool)b,
        JValue { Type: JTokenType.Integer } i => (long)i != 0,
        JValue { Type: JTokenType.String } s => ((string)s!).Trim().ToLowerInvariant() switch
        {
            "true" or "1" or "yes" or "y" or "subscribed" => true,
            "false" or "0" or "no" or "n" or "unsubscribed" or "not_subscribed" => false,
            _ => null,
        },
        _ => null,
    };

    private static JValue? Str(string? s) => s is null ? null : new JValue(s);

    [GeneratedRegex(@"\{\{\s*([^}]+?)\s*\}\}")]
    private static partial Regex Placeholder();
}

using System.Security.Cryptography;
using System.Text;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Hub.Mappings.Rules;

/// <summary>
/// Profile → CRM payload for one CRM module. Keys are the CRM's API names; <see cref="Owned"/> lists the fields the
/// Hub writes (nothing else in the CRM is touched); <see cref="MatchKey"/> is the CRM field upserts match on.
/// Tags are limited to the names the rule allows (Zoho's tags are scarce: segments go to fields).
/// </summary>
public sealed class TargetRule
{
    private readonly (string Field, CompiledMapping Mapping)[] _fields;
    private readonly (string Name, Func<JToken, EvalContext, bool> When)[] _tags;

    private TargetRule(string file, string crm, string module, string matchKey, IReadOnlyList<string> owned, (string, CompiledMapping)[] fields, (string, Func<JToken, EvalContext, bool>)[] tags)
    {
        File = file;
        Crm = crm;
        Module = module;
        MatchKey = matchKey;
        Owned = owned;
        _fields = fields;
        _tags = tags;
    }

    public string File { get; }
    public string Crm { get; }
    public string Module { get; }
    public string MatchKey { get; }

    /// <summary>Unique CRM fields matched on, in order, when <see cref="MatchKey"/> is empty (a buyer known by phone only).</summary>
    public IReadOnlyList<string> FallbackKeys { get; private init; } = [];
    public IReadOnlyList<string> Owned { get; }
    public IEnumerable<string> TagNames => _tags.Select(t => t.Name);

    /// <summary>The payload for one profile view, and the tags the Hub sets on the record.</summary>
    public TargetPayload Map(JObject profileView, EvalContext ctx)
    {
        ctx.ClearIssues();
        var payload = new JObject();
        foreach (var (field, mapping) in _fields)
        {
            ctx.Field = field;
            if (mapping.Eval(profileView, ctx) is { } value)
            {
                payload[field] = value is JValue { Value: DateTimeOffset d } ? new JValue(d.ToString("yyyy-MM-dd'T'HH:mm:sszzz", System.Globalization.CultureInfo.InvariantCulture)) : value;
            }
        }

        var tags = _tags.Where(t => t.When(profileView, ctx)).Select(t => t.Name).ToList();
        ctx.Field = MatchKey;
        if (MappingCompiler.IsBlank(payload[MatchKey]) && FallbackKeys.All(k => MappingCompiler.IsBlank(payload[k])))
        {
            var also = FallbackKeys.Count == 0 ? "" : $" (and so are {string.Join(", ", FallbackKeys)})";
            ctx.Issue($"the match key {MatchKey} is empty{also}: the CRM cannot de-duplicate this profile", isError: true);
        }

        return new TargetPayload(payload, tags, Hash(payload, tags), ctx.Issues.ToList());
    }

    /// <summary>SHA-256 of the canonical JSON (keys sorted): equal payloads hash equal, so unchanged profiles are not pushed.</summary>
    public static string Hash(JObject payload, IReadOnlyList<string> tags)
    {
        var sorted = Sort(payload);
        var text = sorted.ToString(Formatting.None) + "\n" + string.Join(',', tags.Order(StringComparer.Ordinal));
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
    }

    private static JToken Sort(JToken token) => token switch
    {
        JObject o => new JObject(o.Properties().OrderBy(p => p.Name, StringComparer.Ordinal).Select(p => new JProperty(p.Name, Sort(p.Value)))),
        JArray a => new JArray(a.Select(Sort)),
        _ => token,
    };

    internal static TargetRule Compile(string file, JObject json, List<RuleError> errors)
    {
        var compiler = new MappingCompiler(file, errors);
        var fields = ((JObject)json["fields"]!).Properties().Select(p => (p.Name, compiler.Compile(p.Value, MappingCompiler.Child("$.fields", p.Name)))).ToArray();
        var owned = json["owned"] is JArray o ? o.Values<string>().Select(s => s!).ToList() : fields.Select(f => f.Name).ToList();
        foreach (var (name, _) in fields.Where(f => !owned.Contains(f.Name)))
        {
            compiler.Error(MappingCompiler.Child("$.fields", name), $"'{name}' is written but not listed in \"owned\": the Hub may only write fields it owns");
        }

        var matchKey = json["match"]?.Value<string>("targetKey") ?? "";
        if (!fields.Any(f => f.Name == matchKey))
        {
            compiler.Error("$.match.targetKey", $"the match key '{matchKey}' is not one of the mapped fields");
        }

        var fallbackKeys = (json["match"]?["fallbackKeys"] as JArray ?? []).Values<string>().Select(k => k!).ToList();
        foreach (var (key, i) in fallbackKeys.Select((k, i) => (k, i)).Where(k => !fields.Any(f => f.Name == k.k)))
        {
            compiler.Error($"$.match.fallbackKeys[{i}]", $"the fallback match key '{key}' is not one of the mapped fields");
        }

        var conditions = new ConditionCompiler(compiler);
        var tags = (json["tags"] as JArray ?? []).OfType<JObject>().Select((t, i) => (t.Value<string>("name")!, conditions.Compile(t["when"], $"$.tags[{i}].when"))).ToArray();
        var maxTags = json.Value<int?>("maxTags");
        if (maxTags is not null && tags.Length > maxTags)
        {
            compiler.Error("$.tags", $"{tags.Length} tags declared but the CRM allows {maxTags} per record; use picklist fields for segments");
        }

        foreach (var (name, i) in tags.Select((t, i) => (t.Item1, i)).Where(t => t.Item1.Length > (json.Value<int?>("maxTagLength") ?? int.MaxValue)))
        {
            compiler.Error($"$.tags[{i}].name", $"tag '{name}' is longer than the CRM allows ({json.Value<int>("maxTagLength")})");
        }

        return new TargetRule(file, json.Value<string>("crm")!, json.Value<string>("module")!, matchKey, owned, fields, tags) { FallbackKeys = fallbackKeys };
    }
}

/// <summary>A CRM payload with the tags to set and its hash (compared with the ledger to skip unchanged profiles).</summary>
public sealed record TargetPayload(JObject Payload, IReadOnlyList<string> Tags, string Hash, IReadOnlyList<MappingIssue> Issues)
{
    public bool IsValid => !Issues.Any(i => i.IsError);
}

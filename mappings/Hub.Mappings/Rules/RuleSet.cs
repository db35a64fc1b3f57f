using Hub.Mappings.Identity;
using Hub.Mappings.Segments;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using NJsonSchema;

namespace Hub.Mappings.Rules;

/// <summary>A rule file's name (for error messages) and its JSON text.</summary>
public sealed record RuleDocument(string File, string Json);

/// <summary>
/// Every rule the Hub runs with, validated and compiled once: source rules per platform and entity, target rules
/// per CRM and module, identity rules and segment rules. Loading checks each file against the JSON Schema
/// (mappings/schema/rules.schema.json) and then semantically (directives, paths, normalisers, field types); every
/// error names the file and the JSON path. Connection overrides use the same format and merge key by key.
/// </summary>
public sealed class RuleSet
{
    private static readonly Lazy<JsonSchema> Schema = new(() =>
    {
        using var stream = typeof(RuleSet).Assembly.GetManifestResourceStream("Hub.Mappings.rules.schema.json")!;
        using var reader = new StreamReader(stream);
        return JsonSchema.FromJsonAsync(reader.ReadToEnd()).GetAwaiter().GetResult();
    });

    private readonly Dictionary<string, (string File, JObject Json)> _documents;

    private RuleSet(Dictionary<string, (string, JObject)> documents, List<SourceRule> sources, List<TargetRule> targets, IdentityRules identity, SegmentRules segments)
    {
        _documents = documents;
        Sources = sources;
        Targets = targets;
        Identity = identity;
        Segments = segments;
    }

    public IReadOnlyList<SourceRule> Sources { get; }
    public IReadOnlyList<TargetRule> Targets { get; }
    public IdentityRules Identity { get; }
    public SegmentRules Segments { get; }

    public SourceRule Source(string platform, string entity) =>
        Sources.FirstOrDefault(s => s.Platform == platform && s.Entity == entity)
        ?? throw new KeyNotFoundException($"No source rule for {platform}/{entity}.");

    public TargetRule Target(string crm, string module) =>
        Targets.FirstOrDefault(t => t.Crm == crm && t.Module == module)
        ?? throw new KeyNotFoundException($"No target rule for {crm}/{module}.");

    /// <summary>Loads every *.json under a rules folder (sources/, targets/, identity/, segments/).</summary>
    public static RuleSet LoadDirectory(string root) =>
        Load(Directory.GetFiles(root, "*.json", SearchOption.AllDirectories)
            .Order(StringComparer.Ordinal)
            .Select(f => new RuleDocument(Path.GetRelativePath(root, f).Replace('\\', '/'), File.ReadAllText(f))));

    public static RuleSet Load(IEnumerable<RuleDocument> documents)
    {
        var errors = new List<RuleError>();
        var parsed = new Dictionary<string, (string File, JObject Json)>(StringComparer.Ordinal);
        foreach (var doc in documents)
        {
            if (Parse(doc, errors) is { } json)
            {
                var key = KeyOf(json);
                if (parsed.TryGetValue(key, out var existing))
                {
                    errors.Add(new RuleError(doc.File, "$", $"duplicates {existing.File} (both define {key})"));
                    continue;
                }

                parsed[key] = (doc.File, json);
            }
        }

        return Compile(parsed, errors);
    }

    /// <summary>
    /// A connection's rules: the defaults with <paramref name="overrides"/> merged over them key by key (objects
    /// merge, other values replace; a <c>null</c> field mapping removes the field). Overrides are validated like
    /// any rule file.
    /// </summary>
    public RuleSet WithOverrides(IEnumerable<RuleDocument> overrides)
    {
        var errors = new List<RuleError>();
        var merged = _documents.ToDictionary(p => p.Key, p => (p.Value.File, (JObject)p.Value.Json.DeepClone()), StringComparer.Ordinal);
        foreach (var doc in overrides)
        {
            JObject json;
            try
            {
                json = JObject.Parse(doc.Json);
            }
            catch (JsonReaderException ex)
            {
                errors.Add(new RuleError(doc.File, $"$ (line {ex.LineNumber}, position {ex.LinePosition})", ex.Message));
                continue;
            }

            var key = KeyOf(json);
            if (!merged.TryGetValue(key, out var target))
            {
                errors.Add(new RuleError(doc.File, "$", $"overrides {key}, which has no default rule"));
                continue;
            }

            Merge(target.Item2, json);
            merged[key] = ($"{target.File} + {doc.File}", target.Item2);
        }

        foreach (var (key, (file, json)) in merged)
        {
            foreach (var error in Validate(file, json))
            {
                errors.Add(error);
            }
        }

        return Compile(merged, errors);
    }

    /// <summary>The merged JSON of one rule (for export and for the mapping editor).</summary>
    public JObject Export(string key) => (JObject)_documents[key].Json.DeepClone();

    public IEnumerable<string> Keys => _documents.Keys;

    /// <summary>The file a rule was loaded from, relative to the rules folder (<c>sources/shopify/order.json</c>).</summary>
    public string FileOf(string key) => _documents[key].File;

    /// <summary>The key a rule document defines (<c>source:shopify/order</c>), or null when it is not a rule object.</summary>
    public static string? KeyOfJson(JObject json) => json?["kind"]?.Type == JTokenType.String ? KeyOf(json) : null;

    private static JObject? Parse(RuleDocument doc, List<RuleError> errors)
    {
        JObject json;
        try
        {
            using var reader = new JsonTextReader(new StringReader(doc.Json)) { DateParseHandling = DateParseHandling.None, FloatParseHandling = FloatParseHandling.Decimal };
            json = JObject.Load(reader);
        }
        catch (JsonReaderException ex)
        {
            errors.Add(new RuleError(doc.File, $"$ (line {ex.LineNumber}, position {ex.LinePosition})", $"not valid JSON: {ex.Message}"));
            return null;
        }

        var schemaErrors = Validate(doc.File, json).ToList();
        errors.AddRange(schemaErrors);
        return schemaErrors.Count == 0 ? json : null;
    }

    private static IEnumerable<RuleError> Validate(string file, JObject json)
    {
        foreach (var error in Schema.Value.Validate(json.ToString(Formatting.None)))
        {
            foreach (var e in Flatten(error))
            {
                yield return new RuleError(file, PointerToPath(e.Path), Describe(e));
            }
        }
    }

    private static IEnumerable<NJsonSchema.Validation.ValidationError> Flatten(NJsonSchema.Validation.ValidationError error)
    {
        if (error is NJsonSchema.Validation.ChildSchemaValidationError child && child.Errors.Count > 0)
        {
            // oneOf/anyOf: report the branch that matches the rule's "kind", else the first.
            var branches = child.Errors.Values.Where(v => v.Count > 0).ToList();
            // The branch for the rule's own kind is the one with no complaint about "kind".
            var best = branches.OrderBy(b => b.Any(e => e.Property == "kind") ? 1 : 0).ThenBy(b => b.Count).FirstOrDefault();
            if (best is not null)
            {
                foreach (var e in best.SelectMany(Flatten))
                {
                    yield return e;
                }

                yield break;
            }
        }

        yield return error;
    }

    /// <summary>JSON Pointer (<c>#/tags/0/when</c>) → JSONPath (<c>$.tags[0].when</c>), the form every rule error uses.</summary>
    private static string PointerToPath(string? pointer)
    {
        // NJsonSchema writes "#/tags[0].when.bigger" (a pointer root, then JSONPath-like steps) or "#/tags/0/when".
        var rest = (pointer ?? "").TrimStart('#').TrimStart('/');
        if (rest.Length == 0)
        {
            return "$";
        }

        var steps = rest.Split('/', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => int.TryParse(p, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var i) ? $"[{i}]" : "." + p.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal));
        return "$" + string.Concat(steps);
    }

    private static string Describe(NJsonSchema.Validation.ValidationError e) => e.Kind switch
    {
        NJsonSchema.Validation.ValidationErrorKind.PropertyRequired => $"required property '{e.Property}' is missing",
        NJsonSchema.Validation.ValidationErrorKind.NoAdditionalPropertiesAllowed => $"unknown property '{e.Property}'",
        NJsonSchema.Validation.ValidationErrorKind.NotInEnumeration => $"'{e.Property}' has a value that is not allowed",
        _ => $"{e.Kind}" + (e.Property is null ? "" : $" ({e.Property})"),
    };

    private static string KeyOf(JObject json) => json.Value<string>("kind") switch
    {
        "source" => $"source:{json.Value<string>("platform")}/{json.Value<string>("entity")}",
        "target" => $"target:{json.Value<string>("crm")}/{json.Value<string>("module")}",
        var kind => kind ?? "?",
    };

    private static void Merge(JObject target, JObject over)
    {
        foreach (var property in over.Properties())
        {
            if (property.Name == "$schema")
            {
                continue;
            }

            if (property.Name == "fields" && property.Value is JObject fields && target["fields"] is JObject existing)
            {
                foreach (var field in fields.Properties())
                {
                    if (field.Value.Type == JTokenType.Null)
                    {
                        existing.Remove(field.Name);
                    }
                    else
                    {
                        existing[field.Name] = field.Value.DeepClone(); // a mapping is atomic
                    }
                }
            }
            else if (property.Value is JObject o && target[property.Name] is JObject t)
            {
                Merge(t, o);
            }
            else
            {
                target[property.Name] = property.Value.DeepClone();
            }
        }
    }

    private static RuleSet Compile(Dictionary<string, (string File, JObject Json)> documents, List<RuleError> errors)
    {
        var sources = new List<SourceRule>();
        var targets = new List<TargetRule>();
        IdentityRules? identity = null;
        SegmentRules? segments = null;
        foreach (var (_, (file, json)) in documents.OrderBy(d => d.Key, StringComparer.Ordinal))
        {
            switch (json.Value<string>("kind"))
            {
                case "source":
                    sources.Add(CompileSource(file, json, errors));
                    break;
                case "target":
                    targets.Add(TargetRule.Compile(file, json, errors));
                    break;
                case "identity":
                    identity = IdentityRules.Compile(file, json, errors);
                    break;
                case "segments":
                    segments = SegmentRules.Compile(file, json, errors);
                    break;
            }
        }

        if (errors.Count == 0 && identity is null)
        {
            errors.Add(new RuleError("(rules)", "$", "no identity rules (kind \"identity\") were given"));
        }

        if (errors.Count == 0 && segments is null)
        {
            errors.Add(new RuleError("(rules)", "$", "no segment rules (kind \"segments\") were given"));
        }

        if (errors.Count > 0)
        {
            throw new RuleLoadException(errors);
        }

        return new RuleSet(documents, sources, targets, identity!, segments!);
    }

    private static SourceRule CompileSource(string file, JObject json, List<RuleError> errors)
    {
        var platform = json.Value<string>("platform")!;
        var entity = json.Value<string>("entity")!;
        var canonical = entity == "member" ? CanonicalFields.Member : CanonicalFields.Order;
        var compiler = new MappingCompiler(file, errors);
        var fields = new List<(string, CompiledMapping, CanonicalField)>();
        foreach (var field in ((JObject)json["fields"]!).Properties())
        {
            var at = MappingCompiler.Child("$.fields", field.Name);
            var target = CanonicalFields.Find(canonical, field.Name);
            if (target is null)
            {
                compiler.Error(at, $"'{field.Name}' is not a canonical {entity} field; known: {string.Join(", ", canonical.Keys.Select(k => k == CanonicalFields.IdentifierPrefix ? "identifiers.<type>" : k).Order(StringComparer.Ordinal))}");
                continue;
            }

            var mapping = compiler.Compile(field.Value, at);
            if (!target.Accepts(mapping.Kind))
            {
                compiler.Error(at, $"type mismatch: '{field.Name}' is a {CanonicalFields.Describe(target.Kind)}, the mapping yields a {CanonicalFields.Describe(mapping.Kind)}");
            }

            fields.Add((field.Name, mapping, target));
        }

        if (!fields.Any(f => f.Item1 == "vendorId"))
        {
            compiler.Error("$.fields", "a source rule must map vendorId");
        }

        var defaults = json["defaults"] as JObject;
        var zone = defaults?.Value<string>("timeZone");
        if (zone is not null && Normalisers.Zone(zone) is null)
        {
            compiler.Error("$.defaults.timeZone", $"unknown time zone '{zone}'");
        }

        return new SourceRule(file, platform, entity, defaults?.Value<string>("region"), zone, fields.ToArray());
    }
}

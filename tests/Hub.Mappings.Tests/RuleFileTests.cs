using Hub.Mappings.Rules;
using Newtonsoft.Json.Linq;
using Xunit;

namespace Hub.Mappings.Tests;

public class RuleFileTests
{
    public static TheoryData<string> ShippedFiles()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.GetFiles(Rules.RulesDir, "*.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetRelativePath(Rules.RulesDir, file));
        }

        return data;
    }

    public static TheoryData<string> Fixtures(string kind)
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "fixtures", kind), "*.json").Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(file));
        }

        return data;
    }

    [Fact]
    public void LoadDirectory_ShippedRules_AllCompile()
    {
        var rules = Rules.Defaults;

        Assert.Equal(8, rules.Sources.Count);
        Assert.Equal(4, rules.Targets.Count);
        Assert.Equal(["fxiaoke", "hubspot", "zoho-crm"], rules.Targets.Select(t => t.Crm).Distinct().Order(StringComparer.Ordinal));
    }

    [Theory]
    [MemberData(nameof(ShippedFiles))]
    public async Task ShippedFile_ValidatesAgainstTheSchema_AndPointsAtIt(string file)
    {
        var text = File.ReadAllText(Path.Combine(Rules.RulesDir, file));
        var json = JObject.Parse(text);
        var schemaPath = Path.GetFullPath(Path.Combine(Rules.RulesDir, Path.GetDirectoryName(file)!, json.Value<string>("$schema")!));

        Assert.Equal(Path.Combine(Rules.Root, "mappings", "schema", "rules.schema.json"), schemaPath);
        var schema = await NJsonSchema.JsonSchema.FromFileAsync(schemaPath);
        Assert.Empty(schema.Validate(text));
    }

    [Theory]
    [MemberData(nameof(Fixtures), "invalid")]
    public void InvalidFixture_FailsWithItsPath(string name)
    {
        var fixture = JObject.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "fixtures", "invalid", name)));
        var expected = (JObject)fixture["expectError"]!;

        var error = Assert.Throws<RuleLoadException>(() => Rules.WithBase(new RuleDocument(name, fixture["rules"]!.ToString())));

        Assert.Contains(error.Errors, e => e.File == name
            && e.Path.StartsWith(expected.Value<string>("path")!, StringComparison.Ordinal)
            && e.Message.Contains(expected.Value<string>("message")!, StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Fixtures), "valid")]
    public void ValidFixture_MapsInputToExpected(string name)
    {
        var fixture = Json(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "fixtures", "valid", name)));
        var rules = Rules.WithBase(new RuleDocument(name, fixture["rules"]!.ToString()));
        var rule = rules.Sources.Single();

        var canonical = rule.Preview(fixture["input"]!, rule.Context(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero)));

        var expected = (JObject)fixture["expected"]!;
        Assert.Equal(expected.Properties().Select(p => p.Name).Order(StringComparer.Ordinal), canonical.Properties().Select(p => p.Name).Order(StringComparer.Ordinal));
        foreach (var property in expected.Properties())
        {
            var actual = canonical[property.Name]!;
            Assert.True(JToken.DeepEquals(Normalize(property.Value), Normalize(actual)), $"{name}: {property.Name} expected {property.Value} got {actual}");
        }
    }

    [Fact]
    public void Load_InvalidJson_ReportsLineAndPosition()
    {
        var error = Assert.Throws<RuleLoadException>(() => Rules.WithBase(new RuleDocument("broken.json", "{ \"version\": 1, \"kind\": ")));

        Assert.Contains(error.Errors, e => e.File == "broken.json" && e.Path.Contains("line 1", StringComparison.Ordinal));
    }

    [Fact]
    public void Load_SeveralErrors_AreAllReported()
    {
        var rule = """{ "version": 1, "kind": "source", "platform": "shopify", "entity": "member", "fields": { "vendorId": { "@path": "$.id" }, "email": { "@emial": 1 }, "phone": { "@phone": { "value": { "@path": "x" } } } } }""";

        var error = Assert.Throws<RuleLoadException>(() => Rules.WithBase(new RuleDocument("two.json", rule)));

        Assert.True(error.Errors.Count >= 2, string.Join("; ", error.Errors));
        Assert.Contains("two.json", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WithOverrides_MergesKeyByKey_AndNullRemovesAField()
    {
        var over = """{ "version": 1, "kind": "source", "platform": "shopify", "entity": "member", "defaults": { "region": "CA" }, "fields": { "givenName": { "@path": "$.note" }, "tags": null } }""";

        var rules = Rules.Defaults.WithOverrides([new RuleDocument("conn-c1/shopify-member.json", over)]);

        var rule = rules.Source("shopify", "member");
        Assert.Equal("CA", rule.DefaultRegion);
        Assert.DoesNotContain("tags", rule.Fields);
        Assert.Contains("email", rule.Fields); // untouched defaults stay
        var canonical = rule.Preview(JObject.Parse("""{"id":1,"note":"Given from note","first_name":"Ignored"}"""), rule.Context(DateTimeOffset.UnixEpoch));
        Assert.Equal("Given from note", canonical.Value<string>("givenName"));
    }

    [Fact]
    public void WithOverrides_InvalidOverride_IsRejectedWithItsPath()
    {
        var over = """{ "version": 1, "kind": "segments", "rfm": { "recencyDays": [90, 30, 60, 180] } }""";

        var (rules, errors) = Preview.TryLoad(Rules.Defaults, [new RuleDocument("conn-c1/segments.json", over)]);

        Assert.Null(rules);
        Assert.Contains(errors, e => e.Path == "$.rfm.recencyDays" && e.Message.Contains("ascending", StringComparison.Ordinal));
    }

    private static JObject Json(string text)
    {
        using var reader = new Newtonsoft.Json.JsonTextReader(new StringReader(text)) { DateParseHandling = Newtonsoft.Json.DateParseHandling.None };
        return JObject.Load(reader);
    }

    private static JToken Normalize(JToken token) => token switch
    {
        JValue { Type: JTokenType.Integer or JTokenType.Float } v => new JValue(v.Value<decimal>()),
        JArray a => new JArray(a.Select(Normalize)),
        JObject o => new JObject(o.Properties().Select(p => new JProperty(p.Name, Normalize(p.Value)))),
        _ => token,
    };
}

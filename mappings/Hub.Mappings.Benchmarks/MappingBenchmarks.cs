using BenchmarkDotNet.Attributes;
using Hub.Mappings.Model;
using Hub.Mappings.Rules;
using Newtonsoft.Json.Linq;

namespace Hub.Mappings.Benchmarks;

/// <summary>Per-record costs of the mapping engine (BenchmarkDotNet, allocations included).</summary>
[MemoryDiagnoser]
[ShortRunJob]
public class MappingBenchmarks
{
    private static readonly DateTimeOffset Now = new(2026, 1, 15, 0, 0, 0, TimeSpan.Zero);
    private RuleSet _rules = null!;
    private SourceRule _shopifyOrder = null!;
    private SourceRule _youzanOrder = null!;
    private EvalContext _shopifyCtx = null!;
    private EvalContext _youzanCtx = null!;
    private byte[] _shopifyBytes = [];
    private byte[] _youzanBytes = [];
    private JObject _shopifyParsed = null!;
    private JObject _youzanParsed = null!;
    private JObject _profileView = null!;
    private TargetRule _zoho = null!;
    private List<Member> _members = [];
    private List<Order> _orders = [];

    [GlobalSetup]
    public void Setup()
    {
        _rules = RuleSet.LoadDirectory(Program.RulesDirectory());
        _shopifyOrder = _rules.Source("shopify", "order");
        _youzanOrder = _rules.Source("youzan", "order");
        _shopifyCtx = _shopifyOrder.Context(Now, "CN");
        _youzanCtx = _youzanOrder.Context(Now);
        var generator = new Generator(20_000, 0.3);
        _shopifyBytes = Generator.Utf8(generator.Order(0).Json);
        _youzanBytes = Generator.Utf8(generator.Order(3).Json);
        _shopifyParsed = Harness.Parse(_shopifyBytes);
        _youzanParsed = Harness.Parse(_youzanBytes);
        for (var n = 0; n < 10_000; n++)
        {
            var (platform, json) = generator.Order(n);
            var rule = platform == "shopify" ? _shopifyOrder : _youzanOrder;
            if (rule.MapOrder(Harness.Parse(Generator.Utf8(json)), platform + "-1", platform == "shopify" ? _shopifyCtx : _youzanCtx).Value is { } o)
            {
                _orders.Add(o);
            }
        }

        var memberRule = _rules.Source("shopify", "member");
        for (var p = 0; p < 3_000; p++)
        {
            _members.Add(memberRule.MapMember(Harness.Parse(Generator.Utf8(generator.ShopifyCustomer(p))), "shopify-1", _shopifyCtx).Value!);
        }

        _profileView = new ProfileEngine(_rules).Build(_members.Take(1).ToList(), _orders.Take(20).ToList(), Now).Profiles[0].View();
        _zoho = _rules.Target("zoho-crm", "Contacts");
    }

    [Benchmark(Description = "Shopify order: parse + source rules")]
    public Order? ShopifyParseAndMap() => _shopifyOrder.MapOrder(Harness.Parse(_shopifyBytes), "shopify-1", _shopifyCtx).Value;

    [Benchmark(Description = "Shopify order: source rules alone")]
    public Order? ShopifyMap() => _shopifyOrder.MapOrder(_shopifyParsed, "shopify-1", _shopifyCtx).Value;

    [Benchmark(Description = "Youzan trade: parse + source rules")]
    public Order? YouzanParseAndMap() => _youzanOrder.MapOrder(Harness.Parse(_youzanBytes), "youzan-1", _youzanCtx).Value;

    [Benchmark(Description = "Youzan trade: source rules alone")]
    public Order? YouzanMap() => _youzanOrder.MapOrder(_youzanParsed, "youzan-1", _youzanCtx).Value;

    [Benchmark(Description = "Zoho payload + hash, one profile")]
    public string ZohoPayload() => _zoho.Map(_profileView, new EvalContext(Now)).Hash;

    [Benchmark(Description = "Resolve + metrics + segments, 3k members + 10k orders")]
    public int Resolve() => new ProfileEngine(_rules).Build(_members, _orders, Now).Profiles.Count;
}

using BenchmarkDotNet.Running;
using Hub.Mappings.Benchmarks;
using Hub.Mappings.Rules;

// dotnet run -c Release --project mappings/Hub.Mappings.Benchmarks -- harness [orders] [members]
// dotnet run -c Release --project mappings/Hub.Mappings.Benchmarks -- bdn [BenchmarkDotNet arguments]
if (args.Length > 0 && args[0] == "harness")
{
    var orders = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 1_000_000;
    var members = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 300_000;
    var report = Harness.Run(RuleSet.LoadDirectory(Program.RulesDirectory()), orders, members, 0.3, Console.Error.WriteLine);
    Console.WriteLine(report.ToMarkdown());
    return 0;
}

if (args.Length > 0 && args[0] == "fields")
{
    // Where the source rules spend their time, per field, over 20,000 generated orders (after a warm-up pass).
    var rules = RuleSet.LoadDirectory(Program.RulesDirectory());
    var generator = new Generator(20_000, 0.3);
    var now = DateTimeOffset.UtcNow;
    foreach (var platform in new[] { "shopify", "youzan" })
    {
        var rule = rules.Source(platform, "order");
        var records = Enumerable.Range(0, 40_000).Select(generator.Order).Where(o => o.Platform == platform).Take(20_000)
            .Select(o => (Newtonsoft.Json.Linq.JToken)Harness.Parse(Generator.Utf8(o.Json))).ToList();
        var ctx = rule.Context(now, "CN");
        rule.Profile(records, ctx);
        foreach (var (field, micros) in rule.Profile(records, ctx).OrderByDescending(f => f.Micros))
        {
            Console.WriteLine($"{platform,-8} {field,-36} {micros,8:F3} µs");
        }
    }

    return 0;
}

BenchmarkSwitcher.FromAssembly(typeof(MappingBenchmarks).Assembly).Run(args.Skip(args.Length > 0 && args[0] == "bdn" ? 1 : 0).ToArray());
return 0;

public static partial class Program
{
    /// <summary>mappings/rules, found upwards from the working directory or the binary.</summary>
    public static string RulesDirectory()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "mappings", "rules");
                if (Directory.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        throw new DirectoryNotFoundException("mappings/rules not found above the working directory");
    }
}

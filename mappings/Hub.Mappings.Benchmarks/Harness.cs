using System.Diagnostics;
using System.Globalization;
using System.Text;
using Hub.Mappings.Model;
using Hub.Mappings.Rules;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Hub.Mappings.Benchmarks;

/// <summary>What one harness run measured.</summary>
public sealed record HarnessReport(
    int Orders,
    int Members,
    int People,
    int OverlappingPeople,
    int Profiles,
    int InvalidRecords,
    double ParseMicrosPerOrder,
    double RulesMicrosPerOrder,
    double ParseAndRulesMicrosPerOrder,
    double AllocatedBytesPerOrder,
    TimeSpan MembersStage,
    TimeSpan OrdersStage,
    TimeSpan ResolveStage,
    TimeSpan TargetsStage,
    TimeSpan Wall,
    long PeakWorkingSetBytes,
    int Payloads)
{
    public string ToMarkdown() => string.Join(Environment.NewLine,
    [
        $"| measure | value |",
        $"|---|---|",
        $"| input | {Orders:N0} orders, {Members:N0} members ({People:N0} people, {OverlappingPeople:N0} in both stores) |",
        $"| profiles | {Profiles:N0} ({Payloads:N0} Zoho payloads hashed), invalid records {InvalidRecords:N0} |",
        $"| parse, per order | {ParseMicrosPerOrder:F2} µs |",
        $"| source rules alone, per order | {RulesMicrosPerOrder:F2} µs |",
        $"| parse + rules, per order | {ParseAndRulesMicrosPerOrder:F2} µs |",
        $"| allocated per order (parse + rules) | {AllocatedBytesPerOrder:N0} B |",
        $"| stages | members {MembersStage.TotalSeconds:F1} s, orders {OrdersStage.TotalSeconds:F1} s, resolution + metrics + segments {ResolveStage.TotalSeconds:F1} s, target rules + hash {TargetsStage.TotalSeconds:F1} s |",
        $"| harness wall time | {Wall.TotalSeconds:F1} s |",
        $"| peak working set | {PeakWorkingSetBytes / 1024.0 / 1024.0:N0} MiB |",
    ]);
}

/// <summary>
/// The end-to-end mapping harness: raw JSON text as the platforms return it → source rules → identity resolution →
/// metrics → segments → target rules → payload hash. Generation time is excluded from the per-order figures.
/// </summary>
public static class Harness
{
    private const int Chunk = 20_000;

    public static HarnessReport Run(RuleSet rules, int orders, int members, double overlap, Action<string>? progress = null)
    {
        var wall = Stopwatch.StartNew();
        var now = new DateTimeOffset(2026, 1, 15, 0, 0, 0, TimeSpan.Zero);
        var generator = new Generator(members, overlap);
        var shopifyMember = rules.Source("shopify", "member");
        var youzanMember = rules.Source("youzan", "member");
        var shopifyOrder = rules.Source("shopify", "order");
        var youzanOrder = rules.Source("youzan", "order");
        var shopifyCtx = shopifyOrder.Context(now, "CN");
        var youzanCtx = youzanOrder.Context(now);
        var invalid = 0;

        var stage = Stopwatch.StartNew();
        var canonicalMembers = new List<Member>(members);
        for (var p = 0; p < generator.ShopifyMembers; p++)
        {
            Add(shopifyMember.MapMember(Parse(Generator.Utf8(generator.ShopifyCustomer(p))), "shopify-1", shopifyCtx), canonicalMembers, ref invalid);
        }

        for (var p = generator.People - generator.YouzanMembers; p < generator.People; p++)
        {
            Add(youzanMember.MapMember(Parse(Generator.Utf8(generator.YouzanCustomer(p))), "youzan-1", youzanCtx), canonicalMembers, ref invalid);
        }

        var membersStage = stage.Elapsed;
        progress?.Invoke($"members: {canonicalMembers.Count:N0} in {membersStage.TotalSeconds:F1} s, live heap {Live()}");

        stage.Restart();
        var canonicalOrders = new List<Order>(orders);
        long parseTicks = 0, ruleTicks = 0, allocated = 0;
        for (var n = 0; n < orders; n++)
        {
            // Generation is outside the timed region; parse and map one record at a time, as a connector page does,
            // so a parsed document dies young.
            var (platform, json) = generator.Order(n);
            var bytes = Generator.Utf8(json);
            var before = GC.GetAllocatedBytesForCurrentThread();
            var t0 = Stopwatch.GetTimestamp();
            var parsed = Parse(bytes);
            var t1 = Stopwatch.GetTimestamp();
            var mapped = platform == "shopify"
                ? shopifyOrder.MapOrder(parsed, "shopify-1", shopifyCtx)
                : youzanOrder.MapOrder(parsed, "youzan-1", youzanCtx);
            var t2 = Stopwatch.GetTimestamp();
            allocated += GC.GetAllocatedBytesForCurrentThread() - before;
            parseTicks += t1 - t0;
            ruleTicks += t2 - t1;
            if (mapped.Value is { } order)
            {
                // Lines go to storage in the pipeline; metrics and segments do not read them.
                order.Lines.Clear();
                order.Lines.TrimExcess();
            }

            Add(mapped, canonicalOrders, ref invalid);
            if (progress is not null && n % 200_000 == 0)
            {
                progress($"orders: {n:N0}");
            }
        }

        var ordersStage = stage.Elapsed;
        progress?.Invoke($"orders: {canonicalOrders.Count:N0}, live heap {Live()}");

        // Batch housekeeping between stages: compact what the mapping stage left behind before resolution.
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        stage.Restart();
        var batch = new ProfileEngine(rules).Build(canonicalMembers, canonicalOrders, now);
        var resolveStage = stage.Elapsed;
        var memberCount = canonicalMembers.Count;
        canonicalMembers = null!; // the profiles keep what the targets need
        canonicalOrders = null!;
        progress?.Invoke($"profiles: {batch.Profiles.Count:N0} in {resolveStage.TotalSeconds:F1} s, live heap {Live()}");

        stage.Restart();
        var target = rules.Target("zoho-crm", "Contacts");
        var targetCtx = new EvalContext(now);
        var hashes = new HashSet<string>(StringComparer.Ordinal);
        foreach (var profile in batch.Profiles)
        {
            hashes.Add(target.Map(profile.View(), targetCtx).Hash);
        }

        var targetsStage = stage.Elapsed;
        var micros = 1_000_000.0 / Stopwatch.Frequency / orders;
        return new HarnessReport(
            orders, memberCount, generator.People, generator.OverlappingPeople, batch.Profiles.Count, invalid,
            parseTicks * micros, ruleTicks * micros, (parseTicks + ruleTicks) * micros, (double)allocated / orders,
            membersStage, ordersStage, resolveStage, targetsStage, wall.Elapsed,
            Process.GetCurrentProcess().PeakWorkingSet64, batch.Profiles.Count);
    }

    private static readonly JsonLoadSettings LoadSettings = new() { LineInfoHandling = LineInfoHandling.Ignore };

    /// <summary>UTF-8 bytes as received over HTTP → JObject, as a connector reads a record (no line info, no date guessing).</summary>
    private static string Live() => $"{GC.GetTotalMemory(false) / 1024 / 1024:N0} MiB";

    public static JObject Parse(byte[] utf8)
    {
        using var reader = new JsonTextReader(new StringReader(Encoding.UTF8.GetString(utf8)))
        {
            DateParseHandling = DateParseHandling.None,
            FloatParseHandling = FloatParseHandling.Decimal,
        };
        return JObject.Load(reader, LoadSettings);
    }

    private static void Add<T>(Mapped<T> mapped, List<T> into, ref int invalid) where T : class
    {
        if (mapped.Value is { } value)
        {
            into.Add(value);
        }
        else
        {
            invalid++;
        }
    }

    public static string Describe(TimeSpan t) => t.TotalSeconds.ToString("F1", CultureInfo.InvariantCulture);
}

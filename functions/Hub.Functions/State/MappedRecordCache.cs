using System.Runtime.CompilerServices;
using Hub.Mappings.Model;
using Hub.Mappings.Rules;
using Microsoft.Extensions.Caching.Memory;

namespace Hub.Functions.State;

/// <summary>A stored record as the source rules mapped it: the canonical member or order and its match keys.</summary>
public sealed record MappedRecord(Member? Member, Order? Order, IReadOnlyList<string> Keys);

/// <summary>
/// Records already read and mapped by this process, by tenant, record key and <em>version</em> (the hash of the raw
/// vendor JSON, so an entry can never hold other content than its key says), under one rule set and UTC day (source
/// conditions may read the date). A resolution that reaches a customer's earlier records through their profile row,
/// which lists the version of each record it was built from, takes them from here instead of reading and mapping
/// them again: during a backfill every page touches customers whose other orders were read a page before, and
/// those reads were three quarters of a resolution's time. Records a resolution is asked about are always read
/// from the table, and a resolution that recomputes profiles (redaction, deletion, re-segmentation) reads
/// everything. Bounded by <c>Hub:Resolve:CachedRecords</c> entries (default 200,000; 0 turns it off). When full it
/// drops the 5% used longest ago, and those are the records a backfill's pages cached but the resolution has not
/// reached yet: they are then read again. At 100,000 orders (108,333 records) a cache of 100,000 made the resolver
/// read 72,325 orders again; one of 200,000 read none, for about 100 MiB more at the peak (ADR 0020).
/// </summary>
public sealed class MappedRecordCache : IDisposable
{
    private readonly MemoryCache? _cache;
    private readonly ConditionalWeakTable<RuleSet, string> _ruleIds = new();

    public MappedRecordCache(IConfiguration configuration)
    {
        var size = configuration.GetValue<int?>("Hub:Resolve:CachedRecords") ?? 200_000;
        _cache = size > 0 ? new MemoryCache(new MemoryCacheOptions { SizeLimit = size, CompactionPercentage = 0.05 }) : null;
    }

    public bool Enabled => _cache is not null;

    private string Key(RuleSet rules, DateTimeOffset now, string tenant, string recordKey, string version) =>
        $"{_ruleIds.GetValue(rules, _ => Guid.NewGuid().ToString("N"))}|{now.UtcDateTime:yyyyMMdd}|{tenant}|{recordKey}|{version}";

    public MappedRecord? Get(RuleSet rules, DateTimeOffset now, string tenant, string recordKey, string version) =>
        _cache is not null && _cache.TryGetValue(Key(rules, now, tenant, recordKey, version), out MappedRecord? found) ? found : null;

    public void Set(RuleSet rules, DateTimeOffset now, string tenant, string recordKey, string version, MappedRecord mapped)
    {
        _cache?.Set(Key(rules, now, tenant, recordKey, version), mapped, new MemoryCacheEntryOptions { Size = 1, SlidingExpiration = TimeSpan.FromMinutes(30) });
    }

    public void Dispose() => _cache?.Dispose();
}

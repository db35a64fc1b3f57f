using Hub.Mappings.Model;
using Newtonsoft.Json.Linq;

namespace Hub.Mappings.Rules;

/// <summary>The result of mapping one raw record: the canonical value (null when invalid) and every issue found.</summary>
public sealed record Mapped<T>(T? Value, IReadOnlyList<MappingIssue> Issues) where T : class
{
    public bool IsValid => Value is not null;
}

/// <summary>
/// A compiled source rule: raw vendor JSON → <see cref="Member"/> or <see cref="Order"/>. The canonical field names
/// and their types are fixed (<see cref="CanonicalFields"/>), so a rule that maps a date onto a money field fails at
/// load with its JSON path, not at run time.
/// </summary>
public sealed class SourceRule
{
    private readonly (string Field, CompiledMapping Mapping, CanonicalField Target)[] _fields;

    internal SourceRule(string file, string platform, string entity, string? region, string? timeZone, (string, CompiledMapping, CanonicalField)[] fields)
    {
        File = file;
        Platform = platform;
        Entity = entity;
        DefaultRegion = region;
        TimeZone = timeZone is null ? null : Normalisers.Zone(timeZone);
        _fields = fields;
    }

    public string File { get; }
    public string Platform { get; }
    public string Entity { get; }
    public string? DefaultRegion { get; }
    public TimeZoneInfo? TimeZone { get; }
    public IEnumerable<string> Fields => _fields.Select(f => f.Field);

    /// <summary>A context with this rule's defaults (phone region, time zone) unless the connection overrides them.</summary>
    public EvalContext Context(DateTimeOffset now, string? regionOverride = null) =>
        new(now, regionOverride ?? DefaultRegion ?? "US", TimeZone);

    public Mapped<Member> MapMember(JToken raw, string connectionId, EvalContext ctx)
    {
        if (Entity != "member")
        {
            throw new InvalidOperationException($"{File} maps {Entity}s, not members.");
        }

        var member = new Member();
        return Apply(raw, connectionId, ctx, member, (m, source) => m.Source = source);
    }

    public Mapped<Order> MapOrder(JToken raw, string connectionId, EvalContext ctx)
    {
        if (Entity != "order")
        {
            throw new InvalidOperationException($"{File} maps {Entity}s, not orders.");
        }

        var order = new Order();
        return Apply(raw, connectionId, ctx, order, (o, source) => o.Source = source);
    }

    /// <summary>Time spent per field over <paramref name="records"/> (for tuning rules; the benchmark prints it).</summary>
    public IReadOnlyList<(string Field, double Micros)> Profile(IReadOnlyList<JToken> records, EvalContext ctx)
    {
        var result = new List<(string, double)>();
        foreach (var (field, mapping, _) in _fields)
        {
            var start = System.Diagnostics.Stopwatch.GetTimestamp();
            foreach (var record in records)
            {
                mapping.Eval(record, ctx);
            }

            result.Add((field, System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMicroseconds / records.Count));
        }

        ctx.ClearIssues();
        return result;
    }

    /// <summary>The canonical fields as JSON, for previews (before binding to the typed record).</summary>
    public JObject Preview(JToken raw, EvalContext ctx)
    {
        var result = new JObject();
        foreach (var (field, mapping, _) in _fields)
        {
            ctx.Field = field;
            if (mapping.Eval(raw, ctx) is { } value)
            {
                result[field] = value;
            }
        }

        return result;
    }

    private Mapped<T> Apply<T>(JToken raw, string connectionId, EvalContext ctx, T target, Action<T, SourceRef> setSource) where T : class
    {
        ctx.ClearIssues();
        var state = new BindState();
        foreach (var (field, mapping, canonical) in _fields)
        {
            ctx.Field = field;
            JToken? value;
            try
            {
                value = mapping.Eval(raw, ctx);
            }
            catch (Exception ex) when (ex is FormatException or InvalidCastException or OverflowException or ArgumentException)
            {
                ctx.Issue(ex.Message, isError: true);
                continue;
            }

            if (value is null || value.Type == JTokenType.Null)
            {
                continue;
            }

            canonical.Bind(target, field, value, state, ctx);
        }

        ctx.Field = "vendorId";
        if (string.IsNullOrWhiteSpace(state.VendorId))
        {
            ctx.Issue("vendorId is missing: the record cannot be keyed", isError: true);
        }

        var issues = ctx.Issues.ToList();
        if (issues.Any(i => i.IsError))
        {
            return new Mapped<T>(null, issues);
        }

        setSource(target, new SourceRef(Platform, connectionId, state.VendorId!, state.VendorUpdatedAt));
        return new Mapped<T>(target, issues);
    }
}

/// <summary>Per-record state while binding: the vendor id and update time that key the record.</summary>
public sealed class BindState
{
    public string? VendorId { get; set; }
    public DateTimeOffset? VendorUpdatedAt { get; set; }
}

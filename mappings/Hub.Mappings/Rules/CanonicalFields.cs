using System.Globalization;
using Hub.Mappings.Model;
using Newtonsoft.Json.Linq;

namespace Hub.Mappings.Rules;

/// <summary>One canonical field a source rule may write: its type, and how a value is bound to the record.</summary>
public sealed class CanonicalField(string name, ValueKind kind, Action<object, string, JToken, BindState, EvalContext> bind)
{
    public string Name { get; } = name;
    public ValueKind Kind { get; } = kind;

    internal void Bind(object target, string field, JToken value, BindState state, EvalContext ctx) => bind(target, field, value, state, ctx);

    /// <summary>Whether a mapping of <paramref name="produced"/> kind can feed this field (Any is checked at run time).</summary>
    public bool Accepts(ValueKind produced) => produced is ValueKind.Any or ValueKind.Null || Kind switch
    {
        ValueKind.String => produced is ValueKind.String or ValueKind.Number or ValueKind.Bool,
        ValueKind.Number => produced is ValueKind.Number or ValueKind.String,
        ValueKind.Date => produced is ValueKind.Date or ValueKind.String or ValueKind.Number,
        ValueKind.Bool => produced is ValueKind.Bool or ValueKind.String or ValueKind.Number,
        ValueKind.Array => produced is ValueKind.Array or ValueKind.String,
        _ => produced == Kind,
    };
}

/// <summary>The canonical fields of <see cref="Member"/> and <see cref="Order"/> that source rules can target.</summary>
public static class CanonicalFields
{
    public const string IdentifierPrefix = "identifiers.";

    // One string per identifier type and per currency code, shared by every record (millions of orders).
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> IdentifierTypes = new(StringComparer.Ordinal);
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> Codes = new(StringComparer.Ordinal);

    public static IReadOnlyDictionary<string, CanonicalField> Member { get; } = Build<Member>(
    [
        Str<Member>("email", (m, v) => m.Email = v),
        Str<Member>("phone", (m, v) => m.Phone = v),
        Str<Member>("name", (m, v) => m.Name = v),
        Str<Member>("givenName", (m, v) => m.GivenName = v),
        Str<Member>("familyName", (m, v) => m.FamilyName = v),
        Str<Member>("address.country", (m, v) => m.Address.Country = v),
        Str<Member>("address.province", (m, v) => m.Address.Province = v),
        Str<Member>("address.city", (m, v) => m.Address.City = v),
        Str<Member>("address.district", (m, v) => m.Address.District = v),
        Str<Member>("address.line1", (m, v) => m.Address.Line1 = v),
        Str<Member>("address.zip", (m, v) => m.Address.Zip = v),
        Bool<Member>("consent.email", (m, v) => m.Consent.Email = v),
        Bool<Member>("consent.sms", (m, v) => m.Consent.Sms = v),
        Date<Member>("consent.updatedAt", (m, v) => m.Consent.UpdatedAt = v),
        Strings<Member>("tags", m => m.Tags),
        Str<Member>("platformLevel", (m, v) => m.PlatformLevel = v),
        Num<Member>("points", (m, v) => m.Points = v),
        Date<Member>("createdAt", (m, v) => m.CreatedAt = v),
        Bool<Member>("deleted", (m, v) => m.Deleted = v),
    ], m => m.Identifiers);

    public static IReadOnlyDictionary<string, CanonicalField> Order { get; } = Build<Order>(
    [
        Str<Order>("orderNumber", (o, v) => o.OrderNumber = v),
        new CanonicalField("status", ValueKind.String, (t, f, v, _, ctx) =>
        {
            var text = MappingCompiler.AsString(v);
            if (Enum.TryParse<OrderStatus>(text, ignoreCase: true, out var status) && Enum.IsDefined(status))
            {
                ((Order)t).Status = status;
            }
            else
            {
                ctx.Issue($"status '{text}' is not one of {string.Join(", ", Enum.GetNames<OrderStatus>().Select(n => n.ToLowerInvariant()))}; map it with @lookup", isError: true);
            }
        }),
        Str<Order>("currency", (o, v) => o.Currency = Codes.Count < 1_000 ? Codes.GetOrAdd(v, c => c.ToUpperInvariant()) : v.ToUpperInvariant()),
        Num<Order>("total", (o, v) => o.Total = v),
        Num<Order>("refunded", (o, v) => o.Refunded = v),
        Date<Order>("createdAt", (o, v) => o.CreatedAt = v),
        Date<Order>("paidAt", (o, v) => o.PaidAt = v),
        Str<Order>("email", (o, v) => o.Email = v),
        Str<Order>("phone", (o, v) => o.Phone = v),
        Str<Order>("name", (o, v) => o.Name = v),
        Strings<Order>("tags", o => o.Tags),
        new CanonicalField("lines", ValueKind.Array, (t, f, v, _, ctx) =>
        {
            if (v is not JArray lines)
            {
                ctx.Issue("lines must be an array of { sku, title, quantity, unitPrice }", isError: true);
                return;
            }

            foreach (var line in lines.OfType<JObject>())
            {
                ((Order)t).Lines.Add(new OrderLine
                {
                    Sku = MappingCompiler.AsString(line["sku"]),
                    Title = MappingCompiler.AsString(line["title"]),
                    Quantity = Normalisers.Number(line["quantity"], ctx) ?? 1,
                    UnitPrice = Normalisers.Number(line["unitPrice"], ctx),
                });
            }
        }),
    ], o => o.Identifiers);

    public static CanonicalField? Find(IReadOnlyDictionary<string, CanonicalField> fields, string name) =>
        fields.TryGetValue(name, out var f) ? f : name.StartsWith(IdentifierPrefix, StringComparison.Ordinal) && name.Length > IdentifierPrefix.Length ? fields[IdentifierPrefix] : null;

    private static Dictionary<string, CanonicalField> Build<T>(CanonicalField[] fields, Func<T, IdentifierMap> identifiers)
    {
        var all = fields.ToDictionary(f => f.Name, StringComparer.Ordinal);
        all["vendorId"] = new CanonicalField("vendorId", ValueKind.String, (_, _, v, s, _) => s.VendorId = MappingCompiler.AsString(v));
        all["vendorUpdatedAt"] = new CanonicalField("vendorUpdatedAt", ValueKind.Date, (_, _, v, s, ctx) => s.VendorUpdatedAt = Normalisers.Date(v, null, ctx));
        all[IdentifierPrefix] = new CanonicalField(IdentifierPrefix + "*", ValueKind.String, (t, field, v, _, _) =>
        {
            var text = MappingCompiler.AsString(v);
            if (!string.IsNullOrWhiteSpace(text))
            {
                identifiers((T)t)[IdentifierTypes.GetOrAdd(field, f => f[IdentifierPrefix.Length..])] = text.Trim();
            }
        });
        return all;
    }

    private static CanonicalField Str<T>(string name, Action<T, string> set) => new(name, ValueKind.String, (t, _, v, _, _) =>
    {
        var text = MappingCompiler.AsString(v)?.Trim();
        if (!string.IsNullOrEmpty(text))
        {
            set((T)t, text);
        }
    });

    private static CanonicalField Num<T>(string name, Action<T, decimal> set) => new(name, ValueKind.Number, (t, _, v, _, ctx) =>
    {
        if (Normalisers.Number(v, ctx) is { } d)
        {
            set((T)t, d);
        }
        else
        {
            ctx.Issue($"'{MappingCompiler.AsString(v)}' is not a number", isError: true);
        }
    });

    private static CanonicalField Date<T>(string name, Action<T, DateTimeOffset> set) => new(name, ValueKind.Date, (t, _, v, _, ctx) =>
    {
        if (Normalisers.Date(v, null, ctx) is { } d)
        {
            set((T)t, d);
        }
    });

    private static CanonicalField Bool<T>(string name, Action<T, bool> set) => new(name, ValueKind.Bool, (t, _, v, _, _) =>
    {
        if (MappingCompiler.AsBool(v) is { } b)
        {
            set((T)t, b);
        }
    });

    private static CanonicalField Strings<T>(string name, Func<T, List<string>> list) => new(name, ValueKind.Array, (t, _, v, _, _) =>
    {
        var items = v is JArray a ? a.Select(MappingCompiler.AsString) : (MappingCompiler.AsString(v) ?? "").Split(',');
        foreach (var item in items)
        {
            if (!string.IsNullOrWhiteSpace(item))
            {
                list((T)t).Add(item.Trim());
            }
        }
    });

    internal static string Describe(ValueKind kind) => kind.ToString().ToLower(CultureInfo.InvariantCulture);
}

using Hub.Mappings.Model;

namespace Hub.Mappings.Tests;

/// <summary>Builders for canonical records.</summary>
internal static class Build
{
    public static readonly DateTimeOffset Now = new(2024, 6, 1, 0, 0, 0, TimeSpan.Zero);

    public static Member Member(string platform, string connection, string id, string? email = null, string? phone = null, string? name = null, DateTimeOffset? updated = null, params (string Type, string Value)[] ids)
    {
        var m = new Member { Source = new SourceRef(platform, connection, id, updated ?? Now.AddDays(-10)), Email = email, Phone = phone, Name = name };
        foreach (var (type, value) in ids)
        {
            m.Identifiers[type] = value;
        }

        return m;
    }

    public static Order Order(string platform, string connection, string id, decimal total, DateTimeOffset created, string? email = null, string? phone = null, OrderStatus status = OrderStatus.Paid, string currency = "USD", params (string Type, string Value)[] ids)
    {
        var o = new Order { Source = new SourceRef(platform, connection, id, created), Email = email, Phone = phone, Total = total, CreatedAt = created, Status = status, Currency = currency };
        foreach (var (type, value) in ids)
        {
            o.Identifiers[type] = value;
        }

        return o;
    }
}

namespace Hub.Mappings.Model;

/// <summary>Where a canonical record came from, so updates and deletes can be traced back to the vendor record.</summary>
public sealed record SourceRef(string Platform, string ConnectionId, string VendorId, DateTimeOffset? VendorUpdatedAt)
{
    /// <summary>Stable key of the vendor record across the Hub: <c>platform:connection:vendorId</c>.</summary>
    public string Key => $"{Platform}:{ConnectionId}:{VendorId}";
}

/// <summary>A postal address as the platforms give it (Chinese addresses keep province/city/district).</summary>
public sealed class Address
{
    public string? Country { get; set; }
    public string? Province { get; set; }
    public string? City { get; set; }
    public string? District { get; set; }
    public string? Line1 { get; set; }
    public string? Zip { get; set; }

    public bool IsEmpty => Country is null && Province is null && City is null && District is null && Line1 is null && Zip is null;
}

/// <summary>Marketing consent per channel; null when the platform says nothing.</summary>
public sealed class Consent
{
    public bool? Email { get; set; }
    public bool? Sms { get; set; }
    public DateTimeOffset? UpdatedAt { get; set; }
}

/// <summary>A platform's customer or member record, normalised.</summary>
public sealed class Member
{
    public SourceRef Source { get; set; } = new("", "", "", null);
    public string? Email { get; set; }

    /// <summary>E.164 (<c>+8613800138000</c>); masked or invalid numbers never get here.</summary>
    public string? Phone { get; set; }

    /// <summary>Display name as the customer would write it: "张三", or "Jane Doe".</summary>
    public string? Name { get; set; }
    public string? GivenName { get; set; }
    public string? FamilyName { get; set; }

    /// <summary>Platform identifiers by type (<c>shopify_customer_id</c>, <c>yz_open_id</c>, <c>tmall_ouid</c>...).</summary>
    public IdentifierMap Identifiers { get; } = new();
    public Address Address { get; } = new();
    public Consent Consent { get; } = new();
    public List<string> Tags { get; } = [];

    /// <summary>The platform's own membership level (Youzan level, Tmall 会员通 grade), kept as given.</summary>
    public string? PlatformLevel { get; set; }
    public decimal? Points { get; set; }
    public DateTimeOffset? CreatedAt { get; set; }

    /// <summary>True when the vendor deleted or redacted the member.</summary>
    public bool Deleted { get; set; }
}

public enum OrderStatus
{
    Unknown,
    Pending,
    Paid,
    Fulfilled,
    Completed,
    Cancelled,
    Refunded,
}

public sealed class OrderLine
{
    public string? Sku { get; set; }
    public string? Title { get; set; }
    public decimal Quantity { get; set; }
    public decimal? UnitPrice { get; set; }
}

/// <summary>An order, normalised: amounts as decimal in the order's currency, times with offsets.</summary>
public sealed class Order
{
    public SourceRef Source { get; set; } = new("", "", "", null);
    public string? OrderNumber { get; set; }
    public OrderStatus Status { get; set; }
    public string? Currency { get; set; }
    public decimal Total { get; set; }
    public decimal Refunded { get; set; }
    public DateTimeOffset? CreatedAt { get; set; }
    public DateTimeOffset? PaidAt { get; set; }

    /// <summary>The buyer as the order names them: contact points and platform ids (guests included).</summary>
    public string? Email { get; set; }
    public string? Phone { get; set; }
    public string? Name { get; set; }
    public IdentifierMap Identifiers { get; } = new();
    public List<OrderLine> Lines { get; } = [];
    public List<string> Tags { get; } = [];
}

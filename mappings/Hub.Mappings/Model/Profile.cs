using System.Globalization;
using Newtonsoft.Json.Linq;

namespace Hub.Mappings.Model;

/// <summary>What a CRM team acts on, computed from a profile's orders (cancelled and refunded excluded as the rules say).</summary>
public sealed class ProfileMetrics
{
    public SortedList<string, decimal> TotalSpentByCurrency { get; } = new(StringComparer.Ordinal);

    /// <summary>The currency the customer spent most in; totals and AOV below are in it.</summary>
    public string? Currency { get; set; }
    public decimal TotalSpent { get; set; }
    public int OrderCount { get; set; }
    public decimal AverageOrderValue { get; set; }
    public DateTimeOffset? FirstOrderAt { get; set; }
    public DateTimeOffset? LastOrderAt { get; set; }
    public int? DaysSinceLastOrder { get; set; }
    public bool Repurchase { get; set; }
}

/// <summary>
/// The golden record: one per real customer, resolved from every member and order record that shares a matching
/// identifier. <see cref="Id"/> is stable; profiles merged into it are listed in <see cref="MergedIds"/>.
/// </summary>
public sealed class Profile
{
    public string Id { get; set; } = "";
    public SortedStringSet MergedIds { get; } = new();

    /// <summary>Every match key of the profile (<c>email:…</c>, <c>phone:…</c>, <c>shopify_customer_id:shopify:c1:…</c>), sorted, distinct.</summary>
    public IReadOnlyList<string> MatchKeys { get; internal set; } = [];

    /// <summary>The records (<c>m:</c>/<c>o:</c> + platform:connection:vendorId) behind the profile, sorted.</summary>
    public IReadOnlyList<string> RecordKeys { get; internal set; } = [];
    public string? Email { get; set; }
    public string? Phone { get; set; }
    public string? Name { get; set; }
    public string? GivenName { get; set; }
    public string? FamilyName { get; set; }
    public SortedStringSet Emails { get; } = new();
    public SortedStringSet Phones { get; } = new();

    /// <summary>Platform identifiers by type, each with every value seen (one per shop for per-shop ids).</summary>
    public SortedList<string, SortedStringSet> Identifiers { get; } = new(StringComparer.Ordinal);
    public Address Address { get; set; } = new();
    public Consent Consent { get; set; } = new();

    /// <summary>Source links: the member records (platform, connection, vendor id) behind the profile.</summary>
    public List<SourceRef> Sources { get; } = [];
    public SortedStringSet Platforms { get; } = new();
    public string? PlatformLevel { get; set; }
    public decimal? Points { get; set; }
    public SortedStringSet PlatformTags { get; } = new();
    public ProfileMetrics Metrics { get; } = new();
    public SortedList<string, string> Segments { get; } = new(StringComparer.Ordinal);
    public SortedStringSet Tags { get; } = new();

    /// <summary>RFM scores 1-5 (recency, frequency, monetary), null without orders.</summary>
    public (int R, int F, int M)? Rfm { get; set; }

    /// <summary>The profile as canonical JSON: what segment and target rules read (<c>$.email</c>, <c>$.metrics.orderCount</c>).</summary>
    public JObject View()
    {
        var metrics = new JObject
        {
            ["currency"] = Metrics.Currency,
            ["totalSpent"] = Metrics.TotalSpent,
            ["totalSpentByCurrency"] = new JObject(Metrics.TotalSpentByCurrency.Select(p => new JProperty(p.Key, p.Value))),
            ["orderCount"] = Metrics.OrderCount,
            ["aov"] = Metrics.AverageOrderValue,
            ["firstOrderAt"] = Metrics.FirstOrderAt is { } f ? new JValue(f) : null,
            ["lastOrderAt"] = Metrics.LastOrderAt is { } l ? new JValue(l) : null,
            ["daysSinceLastOrder"] = Metrics.DaysSinceLastOrder,
            ["repurchase"] = Metrics.Repurchase,
        };
        var view = new JObject
        {
            ["id"] = Id,
            ["email"] = Email,
            ["phone"] = Phone,
            ["name"] = Name,
            ["givenName"] = GivenName,
            ["familyName"] = FamilyName,
            ["emails"] = new JArray(Emails),
            ["phones"] = new JArray(Phones),
            ["identifiers"] = new JObject(Identifiers.Select(p => new JProperty(p.Key, p.Value.Count == 1 ? new JValue(p.Value.Min) : new JArray(p.Value)))),
            ["address"] = new JObject
            {
                ["country"] = Address.Country,
                ["province"] = Address.Province,
                ["city"] = Address.City,
                ["district"] = Address.District,
                ["line1"] = Address.Line1,
                ["zip"] = Address.Zip,
            },
            ["consent"] = new JObject { ["email"] = Consent.Email, ["sms"] = Consent.Sms },
            ["platforms"] = new JArray(Platforms),
            ["platformLevel"] = PlatformLevel,
            ["points"] = Points,
            ["platformTags"] = new JArray(PlatformTags),
            ["metrics"] = metrics,
            ["rfm"] = Rfm is { } r ? new JObject { ["r"] = r.R, ["f"] = r.F, ["m"] = r.M, ["score"] = r.R.ToString(CultureInfo.InvariantCulture) + r.F + r.M } : null,
            ["segments"] = new JObject(Segments.Select(p => new JProperty(p.Key, p.Value))),
            ["tags"] = new JArray(Tags),
        };
        return view;
    }
}

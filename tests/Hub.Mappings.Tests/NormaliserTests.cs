using Hub.Mappings.Rules;
using Newtonsoft.Json.Linq;
using Xunit;

namespace Hub.Mappings.Tests;

public class NormaliserTests
{
    private static readonly EvalContext Shanghai = new(DateTimeOffset.UnixEpoch, "CN", Normalisers.Zone("Asia/Shanghai"));

    [Theory]
    [InlineData("2024-04-22T14:30:00-05:00", "2024-04-22T19:30:00Z")]
    [InlineData("2024-04-22T19:30:00Z", "2024-04-22T19:30:00Z")]
    [InlineData("2024-04-22T19:30:00.1234567Z", "2024-04-22T19:30:00.1234567Z")]
    [InlineData("2024-04-22T19:30:00.5+00:00", "2024-04-22T19:30:00.5Z")]
    [InlineData("2024-01-01 09:30:00", "2024-01-01T01:30:00Z")]
    [InlineData("2024-01-01T09:30:00", "2024-01-01T01:30:00Z")]
    [InlineData("1704067200", "2024-01-01T00:00:00Z")]
    [InlineData("1704067200000", "2024-01-01T00:00:00Z")]
    [InlineData("Mon, 22 Apr 2024 19:30:00 GMT", "2024-04-22T19:30:00Z")]
    public void Date_VendorShapes_ParseToTheSameInstant(string text, string expectedUtc)
    {
        var date = Normalisers.Date(new JValue(text), null, Shanghai);

        Assert.Equal(DateTimeOffset.Parse(expectedUtc, System.Globalization.CultureInfo.InvariantCulture), date);
    }

    [Fact]
    public void Date_LocalTime_KeepsTheZoneOffset()
    {
        Assert.Equal(TimeSpan.FromHours(8), Normalisers.Date(new JValue("2024-01-01 09:30:00"), null, Shanghai)!.Value.Offset);
    }

    [Theory]
    [InlineData("2024-02-30 10:00:00")]
    [InlineData("2024-13-01T00:00:00Z")]
    [InlineData("yesterday")]
    public void Date_Impossible_IsAnIssueNotAnException(string text)
    {
        var ctx = new EvalContext(DateTimeOffset.UnixEpoch);

        Assert.Null(Normalisers.Date(new JValue(text), null, ctx));
        Assert.NotEmpty(ctx.Issues);
    }

    [Theory]
    [InlineData("13912345678", "CN", "+8613912345678")]
    [InlineData("+86 139-1234-5678", "US", "+8613912345678")]
    [InlineData("(212) 555-0188", "US", "+12125550188")]
    [InlineData("030 1234567", "DE", "+49301234567")]
    public void Phone_ValidNumbers_BecomeE164(string raw, string region, string expected)
    {
        Assert.Equal(expected, Normalisers.Phone(raw, region, new EvalContext(DateTimeOffset.UnixEpoch, region)));
    }

    [Theory]
    [InlineData("138****1234")]
    [InlineData("$dGVsZXBob25l$1$")]
    [InlineData("18877771111-123")]
    [InlineData("12345")]
    public void Phone_MaskedEncryptedVirtualOrInvalid_IsDroppedWithAReason(string raw)
    {
        var ctx = new EvalContext(DateTimeOffset.UnixEpoch, "CN");

        Assert.Null(Normalisers.Phone(raw, "CN", ctx));
        Assert.Single(ctx.Issues);

        // Memoised results still report their issue on every record.
        var again = new EvalContext(DateTimeOffset.UnixEpoch, "CN");
        Assert.Null(Normalisers.Phone(raw, "CN", again));
        Assert.Single(again.Issues);
    }

    [Theory]
    [InlineData(" Ann@Example.COM ", "ann@example.com")]
    [InlineData("a.b+tag@sub.example.co.uk", "a.b+tag@sub.example.co.uk")]
    public void Email_IsTrimmedAndLowerCased(string raw, string expected) =>
        Assert.Equal(expected, Normalisers.Email(raw, new EvalContext(DateTimeOffset.UnixEpoch)));

    [Theory]
    [InlineData("not an email")]
    [InlineData("a@b")]
    [InlineData("@example.com")]
    public void Email_Invalid_IsDropped(string raw) =>
        Assert.Null(Normalisers.Email(raw, new EvalContext(DateTimeOffset.UnixEpoch)));

    [Theory]
    [InlineData(null, "三", "张", "张三")]
    [InlineData(null, "Jane", "Doe", "Jane Doe")]
    [InlineData("  Jane   Q.  Doe ", null, null, "Jane Q. Doe")]
    [InlineData("$uhqbqg15Dn5slYolRHAzZw==$1$", "三", "张", "张三")]
    [InlineData(null, null, null, null)]
    public void Name_JoinsGivenAndFamilyTheWayTheCustomerWritesIt(string? full, string? given, string? family, string? expected) =>
        Assert.Equal(expected, Normalisers.Name(full, given, family));

    [Theory]
    [InlineData("1,299.50", null, 1299.50)]
    [InlineData("12990", "fen", 129.90)]
    [InlineData("199", "cents", 1.99)]
    public void Money_ReadsDecimalAndMinorUnits(string raw, string? unit, double expected) =>
        Assert.Equal((decimal)expected, Normalisers.Money(new JValue(raw), unit, new EvalContext(DateTimeOffset.UnixEpoch)));
}

using Hub.Mappings.Identity;
using Hub.Mappings.Model;
using Xunit;

namespace Hub.Mappings.Tests;

/// <summary>The duplicate-contact cases users report against other tools (market.md §3.1, §3.10).</summary>
public class IdentityTests
{
    private static Resolution Resolve(IEnumerable<Member> members, IEnumerable<Order>? orders = null, IReadOnlyDictionary<string, string>? previous = null) =>
        new IdentityResolver(Rules.Defaults.Identity).Resolve(members, orders ?? [], previous);

    [Fact]
    public void SamePersonTwiceInOneBatch_IsOneProfile()
    {
        var r = Resolve([
            Build.Member("shopify", "s1", "1", email: "ann@shop.com"),
            Build.Member("woocommerce", "w1", "77", email: "ann@shop.com"),
        ]);

        var profile = Assert.Single(r.Profiles);
        Assert.Equal(["shopify", "woocommerce"], profile.Platforms);
    }

    [Fact]
    public void EmailChange_SameVendorRecord_KeepsTheProfileAndTakesTheNewEmail()
    {
        var before = Resolve([Build.Member("shopify", "s1", "1", email: "old@shop.com", updated: Build.Now.AddDays(-30))]);
        var changed = Build.Member("shopify", "s1", "1", email: "new@shop.com", updated: Build.Now.AddDays(-1), ids: ("shopify_customer_id", "1"));
        var order = Build.Order("shopify", "s1", "o1", 10, Build.Now.AddDays(-20), email: "old@shop.com", ids: ("shopify_customer_id", "1"));

        var after = Resolve([changed], [order], before.Assignments);

        var profile = Assert.Single(after.Profiles);
        Assert.Equal(before.Profiles[0].Id, profile.Id); // stable: the CRM binding survives the email change
        Assert.Equal("new@shop.com", profile.Email);
        Assert.Contains("old@shop.com", profile.Emails);
    }

    [Fact]
    public void GuestCheckoutWithOnlyAPhone_JoinsTheMemberWithThatPhone()
    {
        var r = Resolve(
            [Build.Member("youzan", "y1", "yz1", phone: "+8613912345678", ids: ("yz_open_id", "yz1"))],
            [Build.Order("woocommerce", "w1", "900", 50, Build.Now.AddDays(-3), phone: "+8613912345678")]);

        Assert.Single(r.Profiles);
    }

    [Fact]
    public void TwoStoresSharingCustomers_MergeAcrossPlatformsByPhone()
    {
        var r = Resolve(
            [
                Build.Member("shopify", "s1", "1", email: "li@example.cn", phone: "+8613912345678"),
                Build.Member("youzan", "y1", "yz1", phone: "+8613912345678", ids: ("yz_open_id", "yz1")),
                Build.Member("shopify", "s1", "2", email: "other@example.cn"),
            ],
            [Build.Order("youzan", "y1", "E1", 99, Build.Now.AddDays(-5), ids: ("yz_open_id", "yz1"))]);

        Assert.Equal(2, r.Profiles.Count);
        var merged = r.Profiles.Single(p => p.Platforms.Count == 2);
        Assert.Equal(3, merged.RecordKeys.Count);
    }

    [Fact]
    public void MaskedTmallData_NeverMerges()
    {
        var r = Resolve(
            [],
            [
                Build.Order("tmall", "t1", "1", 10, Build.Now.AddDays(-1), phone: "138****1234", ids: ("tmall_oaid", "OAID-1")),
                Build.Order("tmall", "t1", "2", 20, Build.Now.AddDays(-2), phone: "138****1234", ids: ("tmall_oaid", "OAID-1")),
            ]);

        Assert.Equal(2, r.Profiles.Count); // same mask, same weekly OAID: still two people for all we know
    }

    [Fact]
    public void EncryptedYouzanPhone_NeverMerges()
    {
        var r = Resolve([
            Build.Member("youzan", "y1", "a", phone: "$dGVs$1$"),
            Build.Member("youzan", "y1", "b", phone: "$dGVs$1$"),
        ]);

        Assert.Equal(2, r.Profiles.Count);
    }

    [Theory]
    [InlineData("test@example.com")]
    [InlineData("noreply@shop.com")]
    [InlineData("guest@anything.cn")]
    public void PlaceholderEmails_DoNotJoinStrangers(string email)
    {
        var r = Resolve([Build.Member("shopify", "s1", "1", email: email), Build.Member("shopify", "s1", "2", email: email)]);

        Assert.Equal(2, r.Profiles.Count);
    }

    [Theory]
    [InlineData("+8613800138000")]
    [InlineData("+8613333333333")]
    [InlineData("+15555555555")]
    public void BlockedPhones_DoNotJoinStrangers(string phone)
    {
        var r = Resolve([Build.Member("shopify", "s1", "1", phone: phone), Build.Member("youzan", "y1", "2", phone: phone)]);

        Assert.Equal(2, r.Profiles.Count);
    }

    [Fact]
    public void SharedPhoneBetweenTwoEmails_IsRefusedByTheEmailLimit_AndExplained()
    {
        var r = Resolve([
            Build.Member("shopify", "s1", "1", email: "mum@family.com", phone: "+14155550123"),
            Build.Member("shopify", "s1", "2", email: "son@family.com", phone: "+14155550123"),
        ]);

        Assert.Equal(2, r.Profiles.Count);
        var reason = Assert.Single(r.RefusedJoins);
        Assert.Contains("email", reason, StringComparison.Ordinal);
        Assert.DoesNotContain("+14155550123", reason, StringComparison.Ordinal); // no raw PII in explanations
    }

    [Fact]
    public void AnAccountWithTwoEmailsByItsId_StillJoinsAGuestOrderUnderOneOfThem_ButNotAThirdEmailByPhone()
    {
        var r = Resolve([
            Build.Member("shopify", "s1", "7", email: "li.wei@shop.cn", phone: "+8613912345678", ids: ("shopify_customer_id", "7")),
        ], [
            Build.Order("shopify", "s1", "o1", 20, Build.Now.AddDays(-3), email: "wei.li@mail.cn", ids: ("shopify_customer_id", "7")),
            Build.Order("shopify", "s1", "o2", 30, Build.Now.AddDays(-2), email: "li.wei@shop.cn"),
            Build.Order("shopify", "s1", "o3", 40, Build.Now.AddDays(-1), email: "other@family.cn", phone: "+8613912345678"),
        ]);

        Assert.Equal(2, r.Profiles.Count);
        var account = Assert.Single(r.Profiles, p => p.RecordKeys.Count == 3); // the account, the order under its id, the guest order
        Assert.Equal(["li.wei@shop.cn", "wei.li@mail.cn"], account.Emails);
        Assert.DoesNotContain("o:shopify:s1:o3", account.RecordKeys);
        Assert.NotEmpty(r.RefusedJoins); // the phone would have brought a third email
    }

    [Fact]
    public void NewRecordLinkingTwoProfiles_MergesThem_WithAStableSurvivor()
    {
        var first = Resolve([
            Build.Member("shopify", "s1", "1", email: "a@x.com"),
            Build.Member("youzan", "y1", "yz", phone: "+8613912345678", ids: ("yz_open_id", "yz")),
        ]);
        Assert.Equal(2, first.Profiles.Count);

        var bridge = Build.Order("shopify", "s1", "o9", 5, Build.Now.AddDays(-1), email: "a@x.com", phone: "+8613912345678");
        var second = Resolve([
            Build.Member("shopify", "s1", "1", email: "a@x.com"),
            Build.Member("youzan", "y1", "yz", phone: "+8613912345678", ids: ("yz_open_id", "yz")),
        ], [bridge], first.Assignments);

        var merged = Assert.Single(second.Profiles);
        var ids = first.Profiles.Select(p => p.Id).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(ids[0], merged.Id);
        Assert.Equal([ids[1]], merged.MergedIds);
        Assert.Equal(ids[0], second.MergedInto[ids[1]]);
    }

    [Fact]
    public void PerShopIds_DoNotJoinAcrossShops()
    {
        var r = Resolve([
            Build.Member("shopify", "shop-a", "1", ids: ("shopify_customer_id", "1")),
            Build.Member("shopify", "shop-b", "1", ids: ("shopify_customer_id", "1")),
        ]);

        Assert.Equal(2, r.Profiles.Count);
    }

    [Fact]
    public void TmallOmid_JoinsAcrossShopsOfTheBrand()
    {
        var r = Resolve([
            Build.Member("tmall", "flagship", "ouid1", ids: [("tmall_ouid", "ouid1"), ("tmall_omid", "omid-x")]),
            Build.Member("tmall", "outlet", "ouid2", ids: [("tmall_ouid", "ouid2"), ("tmall_omid", "omid-x")]),
        ]);

        Assert.Single(r.Profiles);
    }

    [Fact]
    public void Survivorship_MostRecentNonEmptyWins()
    {
        var r = Resolve([
            Build.Member("shopify", "s1", "1", email: "a@x.com", name: "Old Name", updated: Build.Now.AddDays(-100)),
            Build.Member("woocommerce", "w1", "9", email: "a@x.com", name: "New Name", updated: Build.Now.AddDays(-1)),
            Build.Member("youzan", "y1", "z", email: "a@x.com", name: null, updated: Build.Now),
        ]);

        Assert.Equal("New Name", Assert.Single(r.Profiles).Name);
    }
}

public class BlockedPatternTests
{
    [Fact]
    public void CatastrophicBlockedPattern_OnAHostileValue_NeitherHangsNorThrows()
    {
        // An integrator's pattern with nested quantifiers, matched against a long near-miss: linear-time matching.
        var over = Rules.Defaults.Export("identity");
        over["blocked"]!["email"] = new Newtonsoft.Json.Linq.JArray("^(a+)+$");
        var rules = Rules.Defaults.WithOverrides([new Hub.Mappings.Rules.RuleDocument("conn/identity.json", over.ToString())]);
        var hostile = new string('a', 50_000) + "!@example.org";

        Assert.True(rules.Identity.CanMatch("email", hostile));
        Assert.False(rules.Identity.CanMatch("email", new string('a', 50)));
    }

    [Fact]
    public void BackReferencePattern_StillWorks()
    {
        Assert.False(Rules.Defaults.Identity.CanMatch("phone", "+8613333333333")); // (\d)\1{7,} needs the backtracking engine
        Assert.True(Rules.Defaults.Identity.CanMatch("phone", "+8613912345678"));
    }
}

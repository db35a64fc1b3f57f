using FsCheck;
using FsCheck.Fluent;
using Hub.Mappings.Identity;
using Hub.Mappings.Model;
using Xunit;

namespace Hub.Mappings.Tests;

/// <summary>Properties of resolution over generated record sets drawn from small pools, so collisions are frequent.</summary>
public class IdentityPropertyTests
{
    private static readonly string[] Emails = ["a@x.com", "b@x.com", "c@y.org", "test@example.com", "d@z.net"];
    private static readonly string[] Phones = ["+14155550101", "+14155550102", "+8613912345678", "+8613800138000", "138****1234"];
    private static readonly string[] Platforms = ["shopify", "youzan", "woocommerce", "tmall"];

    private static Gen<Member> MemberGen =>
        from platform in Gen.Elements(Platforms)
        from id in Gen.Choose(1, 12)
        from email in Gen.Elements(Emails.Append(null).ToArray())
        from phone in Gen.Elements(Phones.Append(null).ToArray())
        from day in Gen.Choose(1, 60)
        select Build.Member(platform, platform + "-1", id.ToString(System.Globalization.CultureInfo.InvariantCulture), email: email, phone: phone, updated: Build.Now.AddDays(-day));

    private static Arbitrary<Member[]> Batches => Gen.ArrayOf(MemberGen).Select(a => a.Take(25).ToArray()).ToArbitrary();

    private static IdentityResolver Resolver => new(Rules.Defaults.Identity);

    private static HashSet<string> Signature(Resolution r) =>
        r.Profiles.Select(p => p.Id + "=" + string.Join(",", p.RecordKeys)).ToHashSet(StringComparer.Ordinal);

    [Fact]
    public void Resolution_DoesNotDependOnInputOrder()
    {
        Prop.ForAll(Batches, Gen.Choose(0, 1000).ToArbitrary(), (batch, seed) =>
        {
            var shuffled = batch.OrderBy(_ => Random.Shared.Next()).Reverse().ToArray();
            new Random(seed).Shuffle(shuffled);
            return Signature(Resolver.Resolve(batch, [])).SetEquals(Signature(Resolver.Resolve(shuffled, [])));
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Resolution_IsIdempotent()
    {
        Prop.ForAll(Batches, batch =>
        {
            var once = Resolver.Resolve(batch, []);
            var again = Resolver.Resolve(batch.Concat(batch).ToArray(), [], once.Assignments);
            return Signature(once).SetEquals(Signature(again)) && again.MergedInto.Count == 0;
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Merging_NeverLosesAnIdentifier()
    {
        Prop.ForAll(Batches, batch =>
        {
            // One version per vendor record here (which version survives is the idempotence property's business).
            var current = batch.DistinctBy(m => m.Source.Key).ToList();
            var r = Resolver.Resolve(current, []);
            var emails = current.Where(m => m.Email is not null).Select(m => m.Email!).ToHashSet();
            var phones = current.Where(m => m.Phone is not null).Select(m => m.Phone!).ToHashSet();
            return emails.SetEquals(r.Profiles.SelectMany(p => p.Emails)) && phones.SetEquals(r.Profiles.SelectMany(p => p.Phones))
                && r.Profiles.Sum(p => p.RecordKeys.Count) == current.Count;
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void BlockedValues_NeverJoinTwoRecords()
    {
        // Records whose only shared values are blocked or masked stay apart.
        var blockedOnly = from id in Gen.Choose(1, 40)
                          from email in Gen.Elements("test@example.com", "noreply@x.com", null)
                          from phone in Gen.Elements("+8613800138000", "138****1234", "+15555555555", null)
                          select Build.Member("shopify", "s", id.ToString(System.Globalization.CultureInfo.InvariantCulture), email: email, phone: phone);
        Prop.ForAll(Gen.ArrayOf(blockedOnly).ToArbitrary(), batch =>
        {
            var r = Resolver.Resolve(batch, []);
            return r.Profiles.All(p => p.RecordKeys.Count == 1);
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void EveryProfile_RespectsTheEmailLimit()
    {
        Prop.ForAll(Batches, batch =>
        {
            var r = Resolver.Resolve(batch, []);
            return r.Profiles.All(p => p.MatchKeys.Count(k => k.StartsWith("email:", StringComparison.Ordinal)) <= 1);
        }).QuickCheckThrowOnFailure();
    }
}

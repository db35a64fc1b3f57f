using Hub.Functions.State;
using Hub.Functions.Sync;
using Hub.Mappings.Rules;
using Microsoft.Extensions.DependencyInjection;
using Newtonsoft.Json.Linq;
using Xunit;

namespace Hub.Functions.Tests;

/// <summary>A tenant's edited rule files: composed over the defaults, validated whole, versioned, and picked up by the pipeline.</summary>
[Collection(Hub.Testing.AzuriteFixture.Collection)]
public sealed class TenantRulesTests
{
    private static RuleSet Defaults(SyncHarness harness) => harness.Services.GetRequiredService<RulesProvider>().Current;

    [Fact]
    public async Task Compose_ReplacesAFileWhole_AndRefusesUnknownFilesOrAChangedKind()
    {
        await using var harness = new SyncHarness();
        var defaults = Defaults(harness);
        var segments = defaults.Export("segments");
        segments["rfm"]!["recencyDays"] = new JArray(10, 20, 30, 40);

        var (rules, errors) = RulesProvider.Compose(defaults, new Dictionary<string, string> { ["segments/segments.json"] = segments.ToString() });
        Assert.Empty(errors);
        Assert.NotNull(rules);
        Assert.Equal(segments.ToString(), rules!.Export("segments").ToString());
        Assert.Equal(defaults.Export("identity").ToString(), rules.Export("identity").ToString());

        var (_, unknown) = RulesProvider.Compose(defaults, new Dictionary<string, string> { ["sources/nowhere/order.json"] = "{}" });
        Assert.Equal("sources/nowhere/order.json", Assert.Single(unknown).File);

        var (_, moved) = RulesProvider.Compose(defaults, new Dictionary<string, string> { ["segments/segments.json"] = defaults.Export("identity").ToString() });
        Assert.Equal("$.kind", Assert.Single(moved).Path);

        var broken = segments.DeepClone();
        broken["segments"]![0]!["rules"]![0]!["when"] = new JObject { ["nope"] = 1 };
        var (none, invalid) = RulesProvider.Compose(defaults, new Dictionary<string, string> { ["segments/segments.json"] = broken.ToString() });
        Assert.Null(none);
        Assert.Contains(invalid, e => e.File.Contains("segments/segments.json", StringComparison.Ordinal) && e.Path.StartsWith("$.segments[0]", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ForTenant_RunsTheActiveVersion_OtherTenantsKeepTheDefaults_AndRollbackReturns()
    {
        await using var harness = new SyncHarness(realClock: false);
        var provider = harness.Services.GetRequiredService<RulesProvider>();
        var store = harness.Services.GetRequiredService<MappingStore>();
        var defaults = provider.Current;
        Assert.Same(defaults, await provider.ForTenantAsync(harness.Tenant, default));

        var segments = defaults.Export("segments");
        segments["rfm"]!["recencyDays"] = new JArray(10, 20, 30, 40);
        var (active, etag) = await store.ActiveAsync(harness.Tenant, default);
        var version = await store.SaveAsync(harness.Tenant, new Dictionary<string, string> { ["segments/segments.json"] = segments.ToString() }, "tighter", "test", etag, harness.Clock.GetUtcNow(), default);
        Assert.Equal(1, version);

        // Re-read only after RecheckEvery: one table read per tenant per interval.
        Assert.Same(defaults, await provider.ForTenantAsync(harness.Tenant, default));
        harness.Clock.Advance(RulesProvider.RecheckEvery);
        var tenantRules = await provider.ForTenantAsync(harness.Tenant, default);
        Assert.NotSame(defaults, tenantRules);
        Assert.Equal(10, tenantRules.Export("segments")["rfm"]!["recencyDays"]![0]!.Value<int>());
        Assert.Same(defaults, await provider.ForTenantAsync("someone-else", default));

        // A stale pointer cannot win: saving against the ETag read before version 1 is refused.
        await Assert.ThrowsAsync<Azure.RequestFailedException>(() => store.SaveAsync(harness.Tenant, new Dictionary<string, string>(), "late", "test", etag, harness.Clock.GetUtcNow(), default));

        var (now, current) = await store.ActiveAsync(harness.Tenant, default);
        Assert.Equal(1, now);
        await store.ActivateAsync(harness.Tenant, 0, current, harness.Clock.GetUtcNow(), default);
        harness.Clock.Advance(RulesProvider.RecheckEvery);
        Assert.Same(defaults, await provider.ForTenantAsync(harness.Tenant, default));
        Assert.Equal([2, 1], (await store.ListAsync(harness.Tenant, default)).Select(v => v.Version)); // the refused save's row stays, never active
        _ = active;
    }
}

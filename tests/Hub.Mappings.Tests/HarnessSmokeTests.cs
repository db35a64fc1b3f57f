using Hub.Mappings.Benchmarks;
using Xunit;

namespace Hub.Mappings.Tests;

/// <summary>The benchmark harness on a small input: the generated overlap resolves to exactly one profile per person.</summary>
public class HarnessSmokeTests
{
    [Fact]
    public void Harness_SmallRun_OneProfilePerPersonAcrossBothStores()
    {
        var report = Harness.Run(Rules.Defaults, orders: 6_000, members: 1_300, overlap: 0.3);

        Assert.Equal(0, report.InvalidRecords);
        Assert.Equal(1_300, report.Members);
        Assert.Equal(report.People, report.Profiles); // 30% of people are in both stores and merge by phone
        Assert.Equal(300, report.OverlappingPeople);
        Assert.Equal(report.Profiles, report.Payloads);
    }
}

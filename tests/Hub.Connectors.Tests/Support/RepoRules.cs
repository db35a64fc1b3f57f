using Hub.Mappings.Rules;

namespace Hub.Connectors.Tests.Support;

/// <summary>The shipped mapping rules (mappings/rules), found from the test's output folder.</summary>
internal static class RepoRules
{
    private static readonly Lazy<RuleSet> Lazy = new(() =>
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Hub.sln")))
        {
            dir = dir.Parent;
        }

        return RuleSet.LoadDirectory(Path.Combine(dir?.FullName ?? throw new DirectoryNotFoundException("Hub.sln not found above the test output."), "mappings", "rules"));
    });

    public static RuleSet Defaults => Lazy.Value;
}

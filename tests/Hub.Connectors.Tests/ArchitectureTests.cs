namespace Hub.Connectors.Tests;

/// <summary>
/// A platform folder never uses another platform's code (STYLE.md §5.1): adding or removing a connector touches its
/// folder and one registration line, nothing else.
/// </summary>
public sealed class ArchitectureTests
{
    private static readonly string[] Platforms = ["Shopify", "WooCommerce", "Youzan", "Tmall", "ZohoCrm", "Fxiaoke", "HubSpot"];

    [Fact]
    public void PlatformFolders_DoNotReferenceEachOther()
    {
        var root = Path.Combine(RepoRoot(), "connectors", "Hub.Connectors");
        var offences = new List<string>();
        foreach (var platform in Platforms.Where(p => Directory.Exists(Path.Combine(root, p))))
        {
            foreach (var file in Directory.EnumerateFiles(Path.Combine(root, platform), "*.cs", SearchOption.AllDirectories))
            {
                var text = File.ReadAllText(file);
                offences.AddRange(Platforms.Where(other => other != platform && text.Contains($"Hub.Connectors.{other}", StringComparison.Ordinal)).Select(other => $"{Path.GetFileName(file)} uses {other}"));
            }
        }

        Assert.Empty(offences);
        Assert.True(Directory.Exists(Path.Combine(root, "Shopify")), "the check must look at real folders");
    }

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Hub.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new DirectoryNotFoundException("Hub.sln");
    }
}

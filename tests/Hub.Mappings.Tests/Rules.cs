using Hub.Mappings.Rules;

namespace Hub.Mappings.Tests;

internal static class Rules
{
    public static string Root { get; } = FindRoot();

    public static string RulesDir => Path.Combine(Root, "mappings", "rules");

    private static readonly Lazy<RuleSet> Lazy = new(() => RuleSet.LoadDirectory(RulesDir));

    /// <summary>The shipped default rules.</summary>
    public static RuleSet Defaults => Lazy.Value;

    /// <summary>The shipped identity and segment rules plus the given documents (fixtures bring their own source/target).</summary>
    public static RuleSet WithBase(params RuleDocument[] documents) => RuleSet.Load(
        new[] { "identity/identity.json", "segments/segments.json" }
            .Select(f => new RuleDocument(f, File.ReadAllText(Path.Combine(RulesDir, f))))
            .Concat(documents));

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (Directory.Exists(Path.Combine(dir.FullName, "mappings", "rules")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("repository root not found");
    }
}

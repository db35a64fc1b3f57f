using Hub.Mappings.Rules;

namespace Hub.Mappings.Tests;

internal static class Rules
{
    /// <summary>mappings/rules, found as the benchmarks find it.</summary>
    public static string RulesDir { get; } = Program.RulesDirectory();

    public static string Root { get; } = Path.GetFullPath(Path.Combine(RulesDir, "..", ".."));

    private static readonly Lazy<RuleSet> Lazy = new(() => RuleSet.LoadDirectory(RulesDir));

    /// <summary>The shipped default rules.</summary>
    public static RuleSet Defaults => Lazy.Value;

    /// <summary>The shipped identity and segment rules plus the given documents (fixtures bring their own source/target).</summary>
    public static RuleSet WithBase(params RuleDocument[] documents) => RuleSet.Load(
        new[] { "identity/identity.json", "segments/segments.json" }
            .Select(f => new RuleDocument(f, File.ReadAllText(Path.Combine(RulesDir, f))))
            .Concat(documents));
}

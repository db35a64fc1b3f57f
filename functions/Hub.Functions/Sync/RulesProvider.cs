using Hub.Mappings.Rules;

namespace Hub.Functions.Sync;

/// <summary>
/// The mapping rules the pipeline runs with: the rule files shipped beside the handler (<c>rules/</c>, copied from
/// mappings/rules at build), or the folder <c>Hub:Rules:Path</c> names. Loaded and validated once, at first use: an
/// invalid rule file fails every invocation with its file and JSON path rather than mapping with half the rules.
/// </summary>
public sealed class RulesProvider(IConfiguration configuration)
{
    private readonly Lazy<RuleSet> _rules = new(() =>
    {
        var path = configuration["Hub:Rules:Path"] ?? Path.Combine(AppContext.BaseDirectory, "rules");
        if (!Directory.Exists(path))
        {
            throw new DirectoryNotFoundException($"Mapping rules folder '{path}' does not exist (set Hub:Rules:Path).");
        }

        return RuleSet.LoadDirectory(path);
    });

    public RuleSet Current => _rules.Value;
}

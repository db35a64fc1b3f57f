using System.Collections.Concurrent;
using Hub.Functions.State;
using Hub.Mappings.Rules;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Hub.Functions.Sync;

/// <summary>
/// The mapping rules the pipeline runs with. <see cref="Current"/> is the Hub's defaults: the rule files shipped beside
/// the handler (<c>rules/</c>, copied from mappings/rules at build), or the folder <c>Hub:Rules:Path</c> names, loaded
/// and validated once. <see cref="ForTenantAsync"/> is what a tenant runs with: the defaults, with the files its
/// integrator edited on the setup page replacing theirs whole (the active version in <see cref="MappingStore"/>).
/// The active pointer is re-read at most every <see cref="RecheckEvery"/> (<c>Hub:Rules:Recheck</c>), so a saved mapping reaches every
/// invocation within seconds at one table read per tenant per interval. An invalid rule set fails every invocation
/// with its file and JSON path rather than mapping with half the rules; the editor never activates one, so only a
/// Hub upgrade that tightens the schema can produce it.
/// </summary>
public sealed class RulesProvider(IConfiguration configuration, MappingStore store, TimeProvider clock)
{
    public static readonly TimeSpan RecheckEvery = TimeSpan.FromSeconds(10);

    private readonly TimeSpan _recheck = configuration.GetValue<TimeSpan?>("Hub:Rules:Recheck") ?? RecheckEvery;

    private readonly Lazy<RuleSet> _rules = new(() =>
    {
        var path = configuration["Hub:Rules:Path"] ?? Path.Combine(AppContext.BaseDirectory, "rules");
        if (!Directory.Exists(path))
        {
            throw new DirectoryNotFoundException($"Mapping rules folder '{path}' does not exist (set Hub:Rules:Path).");
        }

        return RuleSet.LoadDirectory(path);
    });

    private readonly ConcurrentDictionary<string, TenantRules> _tenants = new(StringComparer.Ordinal);

    private sealed record TenantRules(int Version, RuleSet Rules, DateTimeOffset CheckedAt);

    public RuleSet Current => _rules.Value;

    /// <param name="freshAfter">
    /// A time the rules must have been read after (a sweep asked for right after a mapping was saved): an older cached
    /// read is not used, whatever the recheck interval, on every instance that handles the sweep.
    /// </param>
    public async Task<RuleSet> ForTenantAsync(string tenant, CancellationToken ct, DateTimeOffset? freshAfter = null)
    {
        var now = clock.GetUtcNow();
        if (_tenants.TryGetValue(tenant, out var cached) && now - cached.CheckedAt < _recheck && (freshAfter is null || cached.CheckedAt > freshAfter))
        {
            return cached.Rules;
        }

        var (version, _) = await store.ActiveAsync(tenant, ct);
        if (cached is not null && cached.Version == version)
        {
            _tenants[tenant] = cached with { CheckedAt = now };
            return cached.Rules;
        }

        RuleSet rules;
        if (version == 0)
        {
            rules = Current;
        }
        else
        {
            var saved = await store.GetAsync(tenant, version, ct) ?? throw new InvalidOperationException($"Mapping version {version} of tenant {tenant} is active but missing.");
            var (composed, errors) = Compose(Current, saved.Files);
            rules = composed ?? throw new RuleLoadException(errors);
        }

        _tenants[tenant] = new TenantRules(version, rules, now);
        return rules;
    }

    /// <summary>Drops this instance's cached read of a tenant's rules (after a save here).</summary>
    public void Forget(string tenant) => _tenants.TryRemove(tenant, out _);

    /// <summary>
    /// The defaults with <paramref name="files"/> (path → whole rule file) in place of theirs: the rule set, or every
    /// error with its file and JSON path. An edited file must keep defining the rule it replaces.
    /// </summary>
    public static (RuleSet? Rules, IReadOnlyList<RuleError> Errors) Compose(RuleSet defaults, IReadOnlyDictionary<string, string> files)
    {
        var byFile = defaults.Keys.ToDictionary(defaults.FileOf, k => k, StringComparer.Ordinal);
        var errors = new List<RuleError>();
        foreach (var (file, json) in files)
        {
            if (!byFile.TryGetValue(file, out var key))
            {
                errors.Add(new RuleError(file, "$", "is not one of the Hub's rule files (GET /api/mappings lists them)"));
                continue;
            }

            try
            {
                var parsed = JObject.Parse(json);
                if (RuleSet.KeyOfJson(parsed) is { } defines && defines != key)
                {
                    errors.Add(new RuleError(file, "$.kind", $"this file defines {key}; it cannot define {defines} instead"));
                }
            }
            catch (JsonReaderException ex)
            {
                errors.Add(new RuleError(file, $"$ (line {ex.LineNumber}, position {ex.LinePosition})", ex.Message));
            }
        }

        if (errors.Count > 0)
        {
            return (null, errors);
        }

        try
        {
            var documents = defaults.Keys.Select(k => defaults.FileOf(k)).Select(file =>
                new RuleDocument(file, files.TryGetValue(file, out var edited) ? edited : defaults.Export(byFile[file]).ToString(Formatting.None)));
            return (RuleSet.Load(documents), []);
        }
        catch (RuleLoadException ex)
        {
            return (null, ex.Errors);
        }
    }
}

namespace Hub.Mappings.Rules;

/// <summary>One problem in a rule file: which file, where in it (JSON path), and what is wrong.</summary>
public sealed record RuleError(string File, string Path, string Message)
{
    public override string ToString() => $"{File}: {Path}: {Message}";
}

/// <summary>A rule file (or several) could not be loaded; every error is listed, not only the first.</summary>
public sealed class RuleLoadException(IReadOnlyList<RuleError> errors)
    : Exception($"{errors.Count} error(s) in mapping rules:" + Environment.NewLine + string.Join(Environment.NewLine, errors.Select(e => "  " + e)))
{
    public IReadOnlyList<RuleError> Errors { get; } = errors;
}

/// <summary>A problem with one record while mapping it (a masked phone, a date that does not parse).</summary>
public sealed record MappingIssue(string Field, string Message, bool IsError);

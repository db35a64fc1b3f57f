using Newtonsoft.Json.Linq;

namespace Hub.Mappings.Rules;

/// <summary>
/// A JSONPath compiled once. The common forms (<c>$.a.b</c>, <c>$['a b']</c>, <c>$.a[0]</c>, <c>$.a[*].b</c>) are
/// walked directly with no parsing at evaluation time; anything else (filters, recursive descent) is handed to
/// Newtonsoft's evaluator, after being checked once at load.
/// </summary>
public sealed class JsonPath
{
    private readonly Segment[]? _segments;
    private readonly string _text;

    private readonly bool _multi;

    private JsonPath(string text, Segment[]? segments)
    {
        _text = text;
        _segments = segments;
        _multi = segments is null || segments.Any(s => s.Wildcard);
    }

    public string Text => _text;

    /// <summary>True when the path can select more than one token (a wildcard or a fallback expression).</summary>
    public bool IsMulti => _multi;

    public static bool TryCompile(string text, out JsonPath path, out string? error)
    {
        path = null!;
        error = null;
        if (string.IsNullOrWhiteSpace(text) || text[0] != '$')
        {
            error = $"JSONPath '{text}' must start with '$'.";
            return false;
        }

        var segments = new List<Segment>();
        var i = 1;
        var simple = true;
        while (i < text.Length && simple)
        {
            if (text[i] == '.')
            {
                if (i + 1 < text.Length && text[i + 1] == '.')
                {
                    simple = false;
                    break;
                }

                var start = ++i;
                while (i < text.Length && text[i] != '.' && text[i] != '[')
                {
                    i++;
                }

                var name = text[start..i];
                if (name.Length == 0)
                {
                    error = $"JSONPath '{text}' has an empty name at position {start}.";
                    return false;
                }

                segments.Add(name == "*" ? Segment.Any : Segment.Named(name));
            }
            else if (text[i] == '[')
            {
                var end = text.IndexOf(']', i);
                if (end < 0)
                {
                    error = $"JSONPath '{text}' has an unclosed '['.";
                    return false;
                }

                var inner = text[(i + 1)..end].Trim();
                if (inner == "*")
                {
                    segments.Add(Segment.Any);
                }
                else if (int.TryParse(inner, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var index) && index >= 0)
                {
                    segments.Add(Segment.At(index));
                }
                else if (inner.Length >= 2 && (inner[0] == '\'' || inner[0] == '"') && inner[^1] == inner[0])
                {
                    segments.Add(Segment.Named(inner[1..^1]));
                }
                else
                {
                    simple = false;
                    break;
                }

                i = end + 1;
            }
            else
            {
                error = $"JSONPath '{text}': unexpected '{text[i]}' at position {i}.";
                return false;
            }
        }

        if (simple)
        {
            path = new JsonPath(text, segments.ToArray());
            return true;
        }

        try
        {
            _ = new JObject().SelectTokens(text).ToList(); // validates the expression once
        }
        catch (Newtonsoft.Json.JsonException ex)
        {
            error = $"JSONPath '{text}' is not valid: {ex.Message}";
            return false;
        }

        path = new JsonPath(text, null);
        return true;
    }

    /// <summary>The single token the path selects, or null when it selects nothing.</summary>
    public JToken? Select(JToken root)
    {
        if (_multi)
        {
            return SelectMany(root).FirstOrDefault();
        }

        var current = root;
        foreach (var segment in _segments!)
        {
            current = segment.Index >= 0
                ? current is JArray a && segment.Index < a.Count ? a[segment.Index] : null
                : current is JObject o ? o[segment.Name!] : null;
            if (current is null)
            {
                return null;
            }
        }

        return current;
    }

    public IEnumerable<JToken> SelectMany(JToken root)
    {
        if (_segments is null)
        {
            return root.SelectTokens(_text);
        }

        IEnumerable<JToken> current = [root];
        foreach (var segment in _segments)
        {
            var s = segment;
            current = current.SelectMany(t => s.Apply(t));
        }

        return current;
    }

    private sealed record Segment(string? Name, int Index, bool Wildcard)
    {
        public static readonly Segment Any = new(null, -1, true);

        public static Segment Named(string name) => new(name, -1, false);

        public static Segment At(int index) => new(null, index, false);

        public IEnumerable<JToken> Apply(JToken token)
        {
            if (Wildcard)
            {
                return token is JContainer c ? (token is JObject o ? o.PropertyValues() : c.Children()) : [];
            }

            var next = Index >= 0
                ? token is JArray a && Index < a.Count ? a[Index] : null
                : token is JObject obj ? obj[Name!] : null;
            return next is null ? [] : [next];
        }
    }
}

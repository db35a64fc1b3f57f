using System.Globalization;
using System.Text;
using Newtonsoft.Json.Linq;

namespace Hub.Sandbox.Shopify;

/// <summary>
/// Just enough GraphQL to serve Shopify's Admin API faithfully to a client: parses an operation into fields with
/// arguments and selections (inline fragments included), prices it the way Shopify documents (object 1, scalar 0,
/// connection 2 + first × node, mutation 10), and projects a full record onto a selection.
/// https://shopify.dev/docs/api/usage/limits#cost-calculation
/// </summary>
internal static class Gql
{
    public sealed record Field(string Name, Dictionary<string, object?> Args, List<Field> Children, string? FragmentType = null)
    {
        public bool IsFragment => FragmentType is not null;

        public Field? Child(string name) => Children.FirstOrDefault(c => c.Name == name);
    }

    public sealed record Operation(bool IsMutation, List<Field> Fields);

    public sealed record Variable(string Name);

    public static Operation Parse(string text)
    {
        var p = new Parser(text);
        return p.ParseOperation();
    }

    public static object? Arg(Field field, string name, JObject? variables) =>
        field.Args.TryGetValue(name, out var v) ? (v is Variable var ? Unwrap(variables?[var.Name]) : v) : null;

    public static int? IntArg(Field field, string name, JObject? variables) => Arg(field, name, variables) switch
    {
        long l => (int)l,
        int i => i,
        string s when int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var i) => i,
        _ => null,
    };

    public static string? StringArg(Field field, string name, JObject? variables) => Arg(field, name, variables)?.ToString();

    private static object? Unwrap(JToken? token) => token switch
    {
        null => null,
        JValue { Type: JTokenType.Null } => null,
        JValue v => v.Value,
        _ => token.ToString(),
    };

    /// <summary>Requested cost of a selection, Shopify's way.</summary>
    public static int Cost(IEnumerable<Field> fields, JObject? variables, Func<Field, int?>? firstOverride = null) =>
        fields.Sum(f => Cost(f, variables, firstOverride));

    private static int Cost(Field f, JObject? variables, Func<Field, int?>? firstOverride)
    {
        if (f.IsFragment)
        {
            return Cost(f.Children, variables, firstOverride);
        }

        if (f.Children.Count == 0)
        {
            return 0;
        }

        var first = firstOverride?.Invoke(f) ?? IntArg(f, "first", variables) ?? IntArg(f, "last", variables);
        if (first is { } n)
        {
            var element = f.Child("nodes") is { } nodes ? 1 + Cost(nodes.Children, variables, firstOverride)
                : f.Child("edges")?.Child("node") is { } node ? 1 + Cost(node.Children, variables, firstOverride)
                : 0;
            var others = f.Children.Where(c => c.Name is not "nodes" and not "edges").Sum(c => Cost(c, variables, firstOverride));
            return 2 + (n * element) + others;
        }

        return 1 + Cost(f.Children, variables, firstOverride);
    }

    /// <summary>
    /// Keeps what the selection asks of a full record. A list under a field with a selection is a nested connection:
    /// it is sliced by first/after and rendered as pageInfo/nodes/edges.
    /// </summary>
    public static JToken Project(JToken? full, List<Field> selection, JObject? variables)
    {
        if (full is not JObject obj)
        {
            return JValue.CreateNull();
        }

        var result = new JObject();
        foreach (var f in selection)
        {
            if (f.IsFragment)
            {
                if (obj.Value<string>("__typename") is not { } type || type == f.FragmentType)
                {
                    foreach (var p in ((JObject)Project(obj, f.Children, variables)).Properties())
                    {
                        result[p.Name] = p.Value;
                    }
                }

                continue;
            }

            var value = obj[f.Name];
            if (f.Children.Count == 0)
            {
                result[f.Name] = value?.DeepClone() ?? JValue.CreateNull();
            }
            else if (value is JArray list && f.Children.Any(c => c.Name is "edges" or "nodes" or "pageInfo"))
            {
                result[f.Name] = Connection(list, f, variables);
            }
            else if (value is JArray plain)
            {
                // A plain list (userErrors, addresses): each item projected, as GraphQL does for [T].
                result[f.Name] = new JArray(plain.Select(item => Project(item, f.Children, variables)));
            }
            else
            {
                result[f.Name] = value is JObject ? Project(value, f.Children, variables) : JValue.CreateNull();
            }
        }

        return result;
    }

    /// <summary>A nested connection over an in-memory list; cursors are positions.</summary>
    public static JObject Connection(JArray list, Field f, JObject? variables)
    {
        var start = StringArg(f, "after", variables) is { } after && int.TryParse(Encoding.UTF8.GetString(Convert.FromBase64String(after)), NumberStyles.Integer, CultureInfo.InvariantCulture, out var pos) ? pos + 1 : 0;
        var first = IntArg(f, "first", variables) ?? list.Count;
        var slice = list.Skip(start).Take(first).ToList();
        string CursorAt(int i) => Convert.ToBase64String(Encoding.UTF8.GetBytes((start + i).ToString(CultureInfo.InvariantCulture)));
        return Render(slice, i => CursorAt(i), start + slice.Count < list.Count, start > 0, f, variables);
    }

    /// <summary>Renders a page of a connection: pageInfo, nodes and/or edges as selected.</summary>
    public static JObject Render(IReadOnlyList<JToken> slice, Func<int, string> cursorAt, bool hasNext, bool hasPrevious, Field f, JObject? variables)
    {
        var result = new JObject();
        foreach (var c in f.Children)
        {
            switch (c.Name)
            {
                case "pageInfo":
                    result["pageInfo"] = Project(new JObject
                    {
                        ["hasNextPage"] = hasNext,
                        ["hasPreviousPage"] = hasPrevious,
                        ["endCursor"] = slice.Count == 0 ? null : cursorAt(slice.Count - 1),
                        ["startCursor"] = slice.Count == 0 ? null : cursorAt(0),
                    }, c.Children, variables);
                    break;
                case "nodes":
                    result["nodes"] = new JArray(slice.Select(n => Project(n, c.Children, variables)));
                    break;
                case "edges":
                    var node = c.Child("node");
                    result["edges"] = new JArray(slice.Select((n, i) => new JObject
                    {
                        ["cursor"] = cursorAt(i),
                        ["node"] = node is null ? null : Project(n, node.Children, variables),
                    }));
                    break;
            }
        }

        return result;
    }

    private sealed class Parser(string text)
    {
        private int _pos;

        public Operation ParseOperation()
        {
            Skip();
            var mutation = false;
            if (PeekName() is "query" or "mutation" or "subscription")
            {
                mutation = ReadName() == "mutation";
                Skip();
                if (Peek() != '{' && Peek() != '(')
                {
                    ReadName();
                }

                Skip();
                if (Peek() == '(')
                {
                    SkipBalanced('(', ')');
                    Skip();
                }
            }

            return new Operation(mutation, ReadSelection());
        }

        private List<Field> ReadSelection()
        {
            Expect('{');
            var fields = new List<Field>();
            while (true)
            {
                Skip();
                if (Peek() == '}')
                {
                    _pos++;
                    return fields;
                }

                if (Peek() == '.')
                {
                    Expect('.');
                    Expect('.');
                    Expect('.');
                    Skip();
                    if (ReadName() != "on")
                    {
                        throw new FormatException("Only inline fragments with a type condition are supported.");
                    }

                    Skip();
                    var type = ReadName();
                    Skip();
                    fields.Add(new Field("...", [], ReadSelection(), type));
                    continue;
                }

                var name = ReadName();
                Skip();
                if (Peek() == ':')
                {
                    _pos++;
                    Skip();
                    name = ReadName(); // alias: the Hub never aliases, keep the field name
                    Skip();
                }

                var args = new Dictionary<string, object?>(StringComparer.Ordinal);
                if (Peek() == '(')
                {
                    _pos++;
                    while (true)
                    {
                        Skip();
                        if (Peek() == ')')
                        {
                            _pos++;
                            break;
                        }

                        var arg = ReadName();
                        Skip();
                        Expect(':');
                        Skip();
                        args[arg] = ReadValue();
                        Skip();
                        if (Peek() == ',')
                        {
                            _pos++;
                        }
                    }

                    Skip();
                }

                var children = Peek() == '{' ? ReadSelection() : [];
                fields.Add(new Field(name, args, children));
            }
        }

        private object? ReadValue()
        {
            var c = Peek();
            if (c == '$')
            {
                _pos++;
                return new Variable(ReadName());
            }

            if (c == '"')
            {
                _pos++;
                var sb = new StringBuilder();
                while (_pos < text.Length && text[_pos] != '"')
                {
                    if (text[_pos] == '\\' && _pos + 1 < text.Length)
                    {
                        _pos++;
                    }

                    sb.Append(text[_pos++]);
                }

                Expect('"');
                return sb.ToString();
            }

            if (c == '-' || char.IsDigit(c))
            {
                var start = _pos;
                while (_pos < text.Length && (char.IsDigit(text[_pos]) || text[_pos] is '-' or '.'))
                {
                    _pos++;
                }

                return long.Parse(text[start.._pos], CultureInfo.InvariantCulture);
            }

            if (c == '[')
            {
                SkipBalanced('[', ']');
                return null;
            }

            var word = ReadName();
            return word switch { "true" => true, "false" => false, "null" => null, _ => word };
        }

        private string? PeekName()
        {
            var save = _pos;
            try
            {
                return char.IsLetter(Peek()) ? ReadName() : null;
            }
            finally
            {
                _pos = save;
            }
        }

        private string ReadName()
        {
            var start = _pos;
            while (_pos < text.Length && (char.IsLetterOrDigit(text[_pos]) || text[_pos] == '_'))
            {
                _pos++;
            }

            return _pos > start ? text[start.._pos] : throw new FormatException($"Expected a name at position {start}.");
        }

        private void SkipBalanced(char open, char close)
        {
            var depth = 0;
            do
            {
                if (text[_pos] == open)
                {
                    depth++;
                }
                else if (text[_pos] == close)
                {
                    depth--;
                }

                _pos++;
            }
            while (depth > 0 && _pos < text.Length);
        }

        private void Skip()
        {
            while (_pos < text.Length && (char.IsWhiteSpace(text[_pos]) || text[_pos] == ','))
            {
                _pos++;
            }
        }

        private char Peek() => _pos < text.Length ? text[_pos] : '\0';

        private void Expect(char c)
        {
            if (Peek() != c)
            {
                throw new FormatException($"Expected '{c}' at position {_pos}.");
            }

            _pos++;
        }
    }
}

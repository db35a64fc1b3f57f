using System.Collections;

namespace Hub.Mappings.Model;

/// <summary>
/// Platform identifiers of one record by type (<c>shopify_customer_id</c> → <c>123</c>). Records carry one or two,
/// and a backfill holds millions of records, so this is a pair of arrays rather than a hash table.
/// </summary>
public sealed class IdentifierMap : IReadOnlyCollection<KeyValuePair<string, string>>
{
    private string[] _keys = [];
    private string[] _values = [];

    public int Count => _keys.Length;

    public string this[string type]
    {
        get => TryGetValue(type, out var value) ? value : throw new KeyNotFoundException($"No identifier of type '{type}'.");
        set
        {
            var index = Array.IndexOf(_keys, type);
            if (index < 0)
            {
                index = _keys.Length;
                Array.Resize(ref _keys, index + 1);
                Array.Resize(ref _values, index + 1);
                _keys[index] = type;
            }

            _values[index] = value;
        }
    }

    public bool ContainsKey(string type) => Array.IndexOf(_keys, type) >= 0;

    public bool TryGetValue(string type, out string value)
    {
        for (var i = 0; i < _keys.Length; i++)
        {
            if (string.Equals(_keys[i], type, StringComparison.Ordinal))
            {
                value = _values[i];
                return true;
            }
        }

        value = "";
        return false;
    }

    public IEnumerator<KeyValuePair<string, string>> GetEnumerator()
    {
        for (var i = 0; i < _keys.Length; i++)
        {
            yield return new KeyValuePair<string, string>(_keys[i], _values[i]);
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

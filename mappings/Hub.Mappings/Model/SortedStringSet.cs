using System.Collections;

namespace Hub.Mappings.Model;

/// <summary>
/// A small ordinal-sorted set of strings backed by one array: a profile holds a handful of emails, phones, platforms
/// and tags, and a million-order backfill holds hundreds of thousands of profiles, where a tree per set costs several
/// times more memory.
/// </summary>
public sealed class SortedStringSet : IReadOnlyCollection<string>
{
    private List<string>? _items;

    public int Count => _items?.Count ?? 0;

    public string? Min => Count == 0 ? null : _items![0];

    public bool Add(string value)
    {
        _items ??= new List<string>(2);
        var index = _items.BinarySearch(value, StringComparer.Ordinal);
        if (index >= 0)
        {
            return false;
        }

        _items.Insert(~index, value);
        return true;
    }

    public void UnionWith(IEnumerable<string> values)
    {
        foreach (var value in values)
        {
            Add(value);
        }
    }

    public bool Contains(string value) => _items is not null && _items.BinarySearch(value, StringComparer.Ordinal) >= 0;

    public void Clear() => _items?.Clear();

    public IEnumerator<string> GetEnumerator() => (_items ?? (IEnumerable<string>)[]).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

using System.Collections;

namespace Ferry.Client;

/// <summary>
/// A message's application properties. Values are limited to the JMS property types:
/// <see cref="bool"/>, <see cref="sbyte"/>, <see cref="short"/>, <see cref="int"/>, <see cref="long"/>,
/// <see cref="float"/>, <see cref="double"/> and <see cref="string"/>. Names are case-sensitive.
/// </summary>
public sealed class MessageProperties : IEnumerable<KeyValuePair<string, object>>
{
    private readonly Dictionary<string, object> _values = new(StringComparer.Ordinal);

    /// <summary>The number of properties.</summary>
    public int Count => _values.Count;

    /// <summary>The property names.</summary>
    public IEnumerable<string> Names => _values.Keys;

    /// <summary>Gets (null if absent) or sets a property; setting null removes it.</summary>
    /// <exception cref="ArgumentException">The value is not one of the JMS property types.</exception>
    public object? this[string name]
    {
        get => _values.TryGetValue(name, out var v) ? v : null;
        set
        {
            ArgumentException.ThrowIfNullOrEmpty(name);
            if (value is null)
            {
                _values.Remove(name);
                return;
            }
            if (value is not (bool or sbyte or short or int or long or float or double or string))
            {
                throw new ArgumentException($"Property '{name}' has type {value.GetType().Name}; JMS properties are bool, sbyte, short, int, long, float, double or string", nameof(value));
            }
            _values[name] = value;
        }
    }

    /// <summary>True if the property is set.</summary>
    public bool Contains(string name) => _values.ContainsKey(name);

    /// <summary>Removes a property; returns whether it was set.</summary>
    public bool Remove(string name) => _values.Remove(name);

    /// <summary>Removes every property.</summary>
    public void Clear() => _values.Clear();

    /// <summary>The property converted to <typeparamref name="T"/> (numbers widen, strings parse, as JMS allows).</summary>
    /// <exception cref="KeyNotFoundException">The property is not set.</exception>
    /// <exception cref="InvalidCastException">The value cannot be converted.</exception>
    public T Get<T>(string name)
    {
        if (!_values.TryGetValue(name, out var value))
        {
            throw new KeyNotFoundException($"Property '{name}' is not set");
        }
        if (value is T typed)
        {
            return typed;
        }
        return (T)Convert.ChangeType(value, typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <inheritdoc />
    public IEnumerator<KeyValuePair<string, object>> GetEnumerator() => _values.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    internal Dictionary<string, object?>? ToMap() => _values.Count == 0 ? null : _values.ToDictionary(kv => kv.Key, kv => (object?)kv.Value, StringComparer.Ordinal);

    internal void Load(Dictionary<string, object?>? map)
    {
        _values.Clear();
        if (map is null)
        {
            return;
        }
        foreach (var (key, value) in map)
        {
            if (value is not null)
            {
                // Anything a foreign producer put there (char, byte[]) is kept as it came.
                _values[key] = value;
            }
        }
    }
}

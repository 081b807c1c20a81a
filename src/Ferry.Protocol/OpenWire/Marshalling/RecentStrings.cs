namespace Ferry.Protocol.OpenWire.Marshalling;

/// <summary>
/// The short strings a connection's reader decoded lately (connection, producer and consumer ids,
/// destination names), so the same bytes arriving again, as they do in every message and ack from
/// one peer, give back the same string instead of a new one. Direct-mapped by length and last bytes;
/// a miss decodes as usual and takes the slot. Strings are immutable, so sharing them is safe.
/// </summary>
internal sealed class RecentStrings
{
    private const int Slots = 32;
    /// <summary>Longer strings (bodies of text properties, stack traces) are rarely repeated.</summary>
    public const int MaxLength = 128;

    private readonly byte[]?[] _bytes = new byte[Slots][];
    private readonly string?[] _strings = new string[Slots];
    private readonly bool[] _latin1 = new bool[Slots];

    /// <summary>The string for <paramref name="encoded"/>: Latin-1 (tight ASCII form) or modified UTF-8.</summary>
    public string Get(ReadOnlySpan<byte> encoded, bool latin1)
    {
        if (encoded.Length is 0 or > MaxLength)
        {
            return Decode(encoded, latin1);
        }
        int slot = (encoded.Length * 31 + encoded[^1] * 7 + encoded[encoded.Length >> 1]) & (Slots - 1);
        if (_bytes[slot] is { } known && _latin1[slot] == latin1 && encoded.SequenceEqual(known))
        {
            return _strings[slot]!;
        }
        string value = Decode(encoded, latin1);
        _bytes[slot] = encoded.ToArray();
        _strings[slot] = value;
        _latin1[slot] = latin1;
        return value;
    }

    private static string Decode(ReadOnlySpan<byte> encoded, bool latin1) =>
        latin1 ? System.Text.Encoding.Latin1.GetString(encoded) : ModifiedUtf8.Decode(encoded);
}

namespace Ferry.Protocol.OpenWire;

/// <summary>
/// A message header encoded once and copied into every frame that carries the message, for a
/// message that goes to many consumers (a topic fan-out). It covers the fields no dispatch changes
/// (producer id through JMS type, see <see cref="Commands.Message"/>); the body is copied from the
/// message as always, and the fields a dispatch sets (redelivery counter, broker out-time,
/// group-first flag) are encoded each time. One form per encoding (loose, tight) and OpenWire
/// version; not used on connections with the marshal cache, whose indexes belong to one connection.
/// Thread-safe: consumers' writer loops fill and read it concurrently.
/// </summary>
public sealed class SharedHeaderEncoding
{
    // Usually one form each; consumers on several OpenWire versions make a short list.
    private EncodedHeader? _loose;
    private EncodedHeader? _tight;

    internal EncodedHeader? Find(bool tight, int version)
    {
        for (var form = tight ? Volatile.Read(ref _tight) : Volatile.Read(ref _loose); form is not null; form = form.Next)
        {
            if (form.Version == version)
            {
                return form;
            }
        }
        return null;
    }

    /// <summary>Adds a form unless one for its encoding and version is there already (a racing writer's equal copy).</summary>
    internal void Keep(bool tight, EncodedHeader header)
    {
        ref var head = ref tight ? ref _tight : ref _loose;
        while (true)
        {
            var current = Volatile.Read(ref head);
            if (Find(tight, header.Version) is not null)
            {
                return;
            }
            header.Next = current;
            if (Interlocked.CompareExchange(ref head, header, current) == current)
            {
                return;
            }
        }
    }
}

/// <summary>
/// The encoded run of header fields: its data bytes and, for tight encoding, its bits of the
/// frame's BooleanStream (packed from bit 0).
/// </summary>
internal sealed class EncodedHeader(int version, byte[] data, byte[] bits, int bitCount)
{
    public int Version { get; } = version;
    public byte[] Data { get; } = data;
    public byte[] Bits { get; } = bits;
    public int BitCount { get; } = bitCount;
    /// <summary>The form for another version, if any.</summary>
    public EncodedHeader? Next { get; set; }
}

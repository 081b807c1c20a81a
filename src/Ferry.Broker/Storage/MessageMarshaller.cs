using Ferry.Protocol.OpenWire;
using Ferry.Protocol.OpenWire.Commands;

namespace Ferry.Broker.Storage;

/// <summary>
/// The stored form of a message: its OpenWire v12 loose encoding (without the frame size), so any
/// store reads back exactly what the producer sent, body bytes untouched.
/// </summary>
public static class MessageMarshaller
{
    [ThreadStatic]
    private static OpenWireFormat? _codec;

    private static readonly NegotiatedWireFormat StoreFormat = NegotiatedWireFormat.Initial(int.MaxValue);

    private static OpenWireFormat Codec
    {
        get
        {
            if (_codec is null)
            {
                _codec = new OpenWireFormat(int.MaxValue);
                _codec.Apply(StoreFormat);
            }
            return _codec;
        }
    }

    /// <summary>Writes the message (type byte first) into a new array.</summary>
    public static byte[] Marshal(Message message) => Codec.Encode(message)[4..].ToArray();

    public static Message Unmarshal(ReadOnlyMemory<byte> data) =>
        Codec.Decode(data) as Message ?? throw new InvalidDataException("Stored record does not hold a message");
}

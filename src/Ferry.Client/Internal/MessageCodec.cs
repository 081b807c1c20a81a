using Ferry.Protocol.OpenWire;
using Ferry.Protocol.OpenWire.Marshalling;
using Wire = Ferry.Protocol.OpenWire.Commands;

namespace Ferry.Client.Internal;

/// <summary>Converts between the application's messages and OpenWire messages (openwire.md 9.3).</summary>
internal static class MessageCodec
{
    public static Wire.Message ToWire(Message message)
    {
        var wire = new Wire.Message(message.WireType)
        {
            CorrelationId = message.CorrelationId,
            ReplyTo = message.ReplyTo?.ToWire(),
            Type = message.Type,
            GroupId = message.GroupId,
            GroupSequence = message.GroupSequence,
            Content = message.EncodeBody(),
            MarshalledProperties = PrimitiveMap.Encode(message.Properties.ToMap()),
        };
        return wire;
    }

    /// <summary>The application's view of a received message; <paramref name="consumed"/> (the consumer's destination) is reused when the message names it, not rebuilt per message.</summary>
    public static Message FromWire(Wire.Message wire, int redeliveryCounter, Destination? consumed = null)
    {
        Message message = wire.DataType switch
        {
            DataTypes.TextMessage => new TextMessage(),
            DataTypes.BytesMessage => new BytesMessage(),
            DataTypes.MapMessage => new MapMessage(),
            DataTypes.StreamMessage => new StreamMessage(),
            _ => new Message(),
        };
        var content = wire.Compressed ? BodyCodec.Inflate(wire.Content, wire.DataType) : wire.Content;
        message.DecodeBody(content);
        message.Properties.Load(wire.MarshalledProperties is { } props ? PrimitiveMap.Decode(props) : null);
        message.SetMessageId(wire.MessageId);
        message.Destination = consumed is not null && consumed.Is(wire.Destination) ? consumed : Destination.FromWire(wire.Destination);
        message.CorrelationId = wire.CorrelationId;
        message.ReplyTo = Destination.FromWire(wire.ReplyTo);
        message.Type = wire.Type;
        message.Priority = wire.Priority;
        message.DeliveryMode = wire.Persistent ? DeliveryMode.Persistent : DeliveryMode.NonPersistent;
        message.Timestamp = wire.Timestamp == 0 ? null : DateTimeOffset.FromUnixTimeMilliseconds(wire.Timestamp);
        message.Expiration = wire.Expiration == 0 ? null : DateTimeOffset.FromUnixTimeMilliseconds(wire.Expiration);
        message.GroupId = wire.GroupId;
        message.GroupSequence = wire.GroupSequence;
        message.RedeliveryCounter = redeliveryCounter;
        return message;
    }
}

using Ferry.Client;
using Ferry.Client.Internal;
using Ferry.Protocol.OpenWire;
using Ferry.Protocol.OpenWire.Marshalling;
using Wire = Ferry.Protocol.OpenWire.Commands;

namespace Ferry.Tests.Client;

public class ClientCodecTests
{
    [Fact]
    public void Text_body_is_a_length_prefixed_modified_utf8_string_as_captured()
    {
        var wire = MessageCodec.ToWire(new TextMessage("Hello"));
        Assert.Equal(DataTypes.TextMessage, wire.DataType);
        Assert.Equal(Convert.FromHexString("0000000548656c6c6f"), wire.Content);
        Assert.Equal("Hello", ((TextMessage)MessageCodec.FromWire(wire, 0)).Text);
    }

    [Fact]
    public void Null_text_has_no_content_and_non_bmp_text_round_trips()
    {
        Assert.Null(MessageCodec.ToWire(new TextMessage(null)).Content);
        const string text = "a\0b \u00e9 \u4e2d \U0001F600";
        var wire = MessageCodec.ToWire(new TextMessage(text));
        Assert.Equal(text, ((TextMessage)MessageCodec.FromWire(wire, 0)).Text);
    }

    [Fact]
    public void Map_body_decodes_with_the_brokers_primitive_map()
    {
        var message = new MapMessage();
        message.Body["s"] = "v";
        message.Body["i"] = 5;
        message.Body["l"] = 1234567890123L;
        message.Body["b"] = true;
        message.Body["y"] = (sbyte)-3;
        message.Body["h"] = (short)300;
        message.Body["f"] = 1.5f;
        message.Body["d"] = 2.25;
        message.Body["c"] = 'x';
        message.Body["bytes"] = new byte[] { 1, 2, 3 };
        var wire = MessageCodec.ToWire(message);
        Assert.Equal(DataTypes.MapMessage, wire.DataType);
        var decoded = PrimitiveMap.Decode(wire.Content)!;
        Assert.Equal(message.Body.Count, decoded.Count);
        foreach (var (key, value) in message.Body)
        {
            Assert.Equal(value, decoded[key]);
        }
        var back = (MapMessage)MessageCodec.FromWire(wire, 0);
        Assert.Equal((byte[])message.Body["bytes"]!, (byte[])back.Body["bytes"]!);
        Assert.Equal('x', back.Body["c"]);
    }

    [Fact]
    public void Captured_map_body_decodes()
    {
        var wire = new Wire.Message(DataTypes.MapMessage) { Content = Convert.FromHexString("0000000200016b0900017600016e0500000005") };
        var map = (MapMessage)MessageCodec.FromWire(wire, 0);
        Assert.Equal("v", map.Body["k"]);
        Assert.Equal(5, map.Body["n"]);
    }

    [Fact]
    public void Stream_body_matches_the_captured_layout()
    {
        var message = new StreamMessage();
        message.Body.AddRange(["x", 9, false]);
        var wire = MessageCodec.ToWire(message);
        Assert.Equal(Convert.FromHexString("090001780500000009010" + "0"), wire.Content);
        Assert.Equal(new object?[] { "x", 9, false }, ((StreamMessage)MessageCodec.FromWire(wire, 0)).Body);
    }

    [Fact]
    public void Bytes_body_is_raw()
    {
        var wire = MessageCodec.ToWire(new BytesMessage([0, 1, 255]));
        Assert.Equal(DataTypes.BytesMessage, wire.DataType);
        Assert.Equal(new byte[] { 0, 1, 255 }, wire.Content);
        Assert.Null(MessageCodec.ToWire(new BytesMessage()).Content);
        Assert.Empty(((BytesMessage)MessageCodec.FromWire(new Wire.Message(DataTypes.BytesMessage), 0)).Body);
    }

    [Fact]
    public void Properties_of_every_jms_type_round_trip_through_the_wire_map()
    {
        var message = new Message();
        message.Properties["bool"] = true;
        message.Properties["byte"] = (sbyte)-7;
        message.Properties["short"] = (short)-300;
        message.Properties["int"] = 7;
        message.Properties["long"] = 1234567890123L;
        message.Properties["float"] = 0.5f;
        message.Properties["double"] = 1.5;
        message.Properties["string"] = "v";
        var wire = MessageCodec.ToWire(message);
        var map = PrimitiveMap.Decode(wire.MarshalledProperties)!;
        Assert.Equal(8, map.Count);
        Assert.Equal((sbyte)-7, map["byte"]);
        var back = MessageCodec.FromWire(wire, 2);
        foreach (var (key, value) in message.Properties)
        {
            Assert.Equal(value, back.Properties[key]);
        }
        Assert.True(back.Redelivered);
        Assert.Equal(3, back.DeliveryCount);
        Assert.Equal(7L, back.Properties.Get<long>("int"));
    }

    [Fact]
    public void Properties_refuse_non_jms_types_and_no_properties_means_null()
    {
        var message = new Message();
        Assert.Throws<ArgumentException>(() => message.Properties["x"] = new byte[1]);
        Assert.Throws<ArgumentException>(() => message.Properties["x"] = 1m);
        Assert.Null(MessageCodec.ToWire(message).MarshalledProperties);
    }

    [Fact]
    public void Headers_map_to_their_wire_fields()
    {
        var wire = new Wire.Message(DataTypes.Message)
        {
            MessageId = new Wire.MessageId(new Wire.ProducerId("ID:h-1:1", 2, 3), 4),
            Destination = Wire.Destination.Topic("t"),
            ReplyTo = new Wire.Destination(Wire.DestinationKind.TempQueue, "ID:h-1:1:1"),
            CorrelationId = "corr",
            Type = "kind",
            Priority = 7,
            Persistent = false,
            Timestamp = 1000,
            Expiration = 5000,
            GroupId = "g",
            GroupSequence = 2,
        };
        var message = MessageCodec.FromWire(wire, 0);
        Assert.Equal("ID:h-1:1:2:3:4", message.MessageId);
        Assert.Equal(new Topic("t"), message.Destination);
        Assert.IsType<TemporaryQueue>(message.ReplyTo);
        Assert.Equal("corr", message.CorrelationId);
        Assert.Equal("kind", message.Type);
        Assert.Equal(7, message.Priority);
        Assert.Equal(DeliveryMode.NonPersistent, message.DeliveryMode);
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(1000), message.Timestamp);
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(5000), message.Expiration);
        Assert.False(message.Redelivered);
        Assert.Equal("g", message.GroupId);
        Assert.Equal(2, message.GroupSequence);
    }

    [Fact]
    public void Compressed_bodies_are_inflated()
    {
        var text = BodyCodec.EncodeText("compressed hello")!;
        var wire = new Wire.Message(DataTypes.TextMessage) { Compressed = true, Content = Zlib(text) };
        Assert.Equal("compressed hello", ((TextMessage)MessageCodec.FromWire(wire, 0)).Text);

        var body = new byte[] { 5, 6, 7 };
        var padded = body.Concat(new byte[100]).ToArray();
        var content = new byte[] { 0, 0, 0, 3 }.Concat(Zlib(padded)).ToArray();
        var bytes = new Wire.Message(DataTypes.BytesMessage) { Compressed = true, Content = content };
        Assert.Equal(body, ((BytesMessage)MessageCodec.FromWire(bytes, 0)).Body);
    }

    [Fact]
    public void Duplicate_audit_is_per_producer_and_bounded()
    {
        var audit = new DuplicateAudit(depth: 4, maxProducers: 2);
        var p1 = new Wire.ProducerId("c", 1, 1);
        var p2 = new Wire.ProducerId("c", 1, 2);
        var p3 = new Wire.ProducerId("c", 1, 3);
        Assert.False(audit.IsDuplicate(new Wire.MessageId(p1, 1)));
        Assert.True(audit.IsDuplicate(new Wire.MessageId(p1, 1)));
        Assert.False(audit.IsDuplicate(new Wire.MessageId(p2, 1)));
        for (int i = 2; i <= 6; i++)
        {
            Assert.False(audit.IsDuplicate(new Wire.MessageId(p1, i)));
        }
        // Only the last 4 sequences of p1 are remembered.
        Assert.False(audit.IsDuplicate(new Wire.MessageId(p1, 1)));
        Assert.True(audit.IsDuplicate(new Wire.MessageId(p1, 6)));
        // A third producer evicts the least recently seen (p2).
        Assert.False(audit.IsDuplicate(new Wire.MessageId(p3, 1)));
        Assert.False(audit.IsDuplicate(new Wire.MessageId(p2, 1)));
    }

    private static byte[] Zlib(byte[] data)
    {
        using var output = new MemoryStream();
        using (var z = new System.IO.Compression.ZLibStream(output, System.IO.Compression.CompressionLevel.Fastest))
        {
            z.Write(data);
        }
        return output.ToArray();
    }
}

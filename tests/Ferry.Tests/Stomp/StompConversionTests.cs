using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Ferry.Broker.Selectors;
using Ferry.Protocol.OpenWire;
using Ferry.Protocol.OpenWire.Commands;
using Ferry.Protocol.OpenWire.Marshalling;
using Ferry.Protocol.Stomp;
using Ferry.Protocol.Transport;

namespace Ferry.Tests.Stomp;

/// <summary>STOMP frames to OpenWire messages and back, destination names and connector options, as ActiveMQ maps them.</summary>
public sealed class StompConversionTests
{
    private static readonly MessageId Id = new(new ProducerId("ID:c-1:1", -1, 1), 7);

    private static StompFrame Send(string body, params (string Name, string Value)[] headers) =>
        new(StompCommands.Send, headers.Select(h => new KeyValuePair<string, string>(h.Name, h.Value)).ToList(), Encoding.UTF8.GetBytes(body));

    private static Dictionary<string, object?> Properties(Message m) => PrimitiveMap.Decode(m.MarshalledProperties!) ?? [];

    [Fact]
    public void Send_without_content_length_is_a_text_message_with_the_body_behind_a_length_prefix()
    {
        var m = StompMessageConverter.ToMessage(Send("héllo"), Destination.Queue("Q"), null, Id, 1000);
        Assert.Equal(DataTypes.TextMessage, m.DataType);
        Assert.Equal(Encoding.UTF8.GetByteCount("héllo"), BinaryPrimitives.ReadInt32BigEndian(m.Content));
        Assert.Equal("héllo", Encoding.UTF8.GetString(m.Content!, 4, m.Content!.Length - 4));
        Assert.Equal(1000, m.Timestamp);
        Assert.Equal(4, m.Priority);
        Assert.False(m.Persistent);
    }

    [Fact]
    public void Send_with_content_length_is_a_bytes_message_and_amq_msg_type_overrides()
    {
        var bytes = StompMessageConverter.ToMessage(Send("ab", ("content-length", "2")), Destination.Queue("Q"), null, Id, 0);
        Assert.Equal(DataTypes.BytesMessage, bytes.DataType);
        Assert.Equal("ab"u8.ToArray(), bytes.Content);
        Assert.Null(bytes.MarshalledProperties);

        var text = StompMessageConverter.ToMessage(Send("ab", ("content-length", "2"), ("amq-msg-type", "text")), Destination.Queue("Q"), null, Id, 0);
        Assert.Equal(DataTypes.TextMessage, text.DataType);
        // With amq-msg-type, content-length is kept as a property (as ActiveMQ does).
        Assert.Equal("2", Properties(text)["content-length"]);
        Assert.Throws<FormatException>(() => StompMessageConverter.ToMessage(Send("x", ("amq-msg-type", "map")), Destination.Queue("Q"), null, Id, 0));
    }

    [Fact]
    public void Standard_headers_become_fields_others_string_properties_and_jms_names_override()
    {
        var m = StompMessageConverter.ToMessage(Send("x",
            ("destination", "/queue/Q"), ("correlation-id", "c"), ("expires", "123"), ("priority", "7"), ("type", "t1"),
            ("persistent", "true"), ("JMSType", "jt"), ("color", "red"), ("color", "blue"), ("receipt", "r"), ("transaction", "tx"),
            ("reply-to", "notadest"), ("content-type", "text/plain")), Destination.Queue("Q"), null, Id, 0);
        Assert.Equal("c", m.CorrelationId);
        Assert.Equal(123, m.Expiration);
        Assert.Equal(7, m.Priority);
        Assert.Equal("jt", m.Type);
        Assert.True(m.Persistent);
        var properties = Properties(m);
        Assert.Equal("red", properties["color"]); // the first of repeated headers wins
        Assert.Equal("notadest", properties["reply-to"]);
        Assert.Equal("text/plain", properties["content-type"]);
        Assert.False(properties.ContainsKey("receipt"));
        Assert.False(properties.ContainsKey("transaction"));
        Assert.False(properties.ContainsKey("destination"));
        Assert.Throws<FormatException>(() => StompMessageConverter.ToMessage(Send("x", ("priority", "high")), Destination.Queue("Q"), null, Id, 0));
    }

    [Fact]
    public void Message_frame_carries_fields_properties_and_content_length_only_for_bytes()
    {
        var text = new Message(DataTypes.TextMessage)
        {
            MessageId = Id,
            Destination = Destination.Queue("Q"),
            ReplyTo = Destination.Topic("R"),
            CorrelationId = "c1",
            Type = "tt",
            Priority = 6,
            Persistent = true,
            Expiration = 99,
            Timestamp = 5,
            RedeliveryCounter = 1,
            Content = [0, 0, 0, 3, (byte)'a', (byte)'b', (byte)'c'],
            MarshalledProperties = PrimitiveMap.Encode(new Dictionary<string, object?> { ["ip"] = 3, ["bp"] = true, ["sp"] = "v", ["dp"] = 1.5 }),
        };
        var frame = StompMessageConverter.ToFrame(text, StompDestinations.Format, "sub-1", "ack-1");
        Assert.Equal("MESSAGE", frame.Command);
        Assert.Equal("abc", Encoding.UTF8.GetString(frame.Body.Span));
        Assert.Null(frame["content-length"]);
        Assert.Equal("/queue/Q", frame["destination"]);
        Assert.Equal("/topic/R", frame["reply-to"]);
        Assert.Equal(Id.ToString(), frame["message-id"]);
        Assert.Equal("sub-1", frame["subscription"]);
        Assert.Equal("ack-1", frame["ack"]);
        Assert.Equal("6", frame["priority"]);
        Assert.Equal("99", frame["expires"]);
        Assert.Equal("5", frame["timestamp"]);
        Assert.Equal("true", frame["persistent"]);
        Assert.Equal("true", frame["redelivered"]);
        Assert.Equal("3", frame["ip"]);
        Assert.Equal("true", frame["bp"]);
        Assert.Equal("v", frame["sp"]);
        Assert.Equal("1.5", frame["dp"]);

        var bytes = new Message(DataTypes.BytesMessage) { MessageId = Id, Destination = new Destination(DestinationKind.TempQueue, "ID:x:1"), Content = [0x41, 0x00, 0x42] };
        var bytesFrame = StompMessageConverter.ToFrame(bytes, StompDestinations.Format, null, null);
        Assert.NotNull(bytesFrame["content-length"]);
        Assert.Equal("/remote-temp-queue/ID:x:1", bytesFrame["destination"]);
        Assert.Null(bytesFrame["subscription"]);
        Assert.Null(bytesFrame["persistent"]);
        Assert.Null(bytesFrame["redelivered"]);
        var output = new ArrayBufferWriter<byte>();
        StompWriter.Write(bytesFrame, StompVersion.V12, output);
        Assert.Contains("content-length:3\n", Encoding.UTF8.GetString(output.WrittenSpan), StringComparison.Ordinal);

        var map = new Message(DataTypes.MapMessage) { MessageId = Id, Destination = Destination.Queue("Q"), Content = [1, 2, 3] };
        Assert.True(StompMessageConverter.ToFrame(map, StompDestinations.Format, null, null).Body.IsEmpty);
    }

    [Theory]
    [InlineData("/queue/A", DestinationKind.Queue, "A")]
    [InlineData("/topic/PRICES.>", DestinationKind.Topic, "PRICES.>")]
    [InlineData("/remote-temp-queue/ID:x:1", DestinationKind.TempQueue, "ID:x:1")]
    [InlineData("/remote-temp-topic/ID:x:2", DestinationKind.TempTopic, "ID:x:2")]
    [InlineData(" bogus ", DestinationKind.Queue, "bogus")]
    public void Destination_names_map_as_activemq_maps_them(string name, DestinationKind kind, string physical)
    {
        Assert.True(StompDestinations.TryParse(name, out var destination));
        Assert.Equal(new Destination(kind, physical), destination);
        Assert.False(StompDestinations.TryParse("/temp-queue/mine", out _));
    }

    [Fact]
    public void Connector_options_are_activemqs_and_unknown_ones_are_errors()
    {
        var options = StompTransportOptions.From(TransportUri.Parse("stomp+nio://127.0.0.1:61613?wireFormat.maxDataLength=1024&transport.defaultHeartBeat=5000,0&transport.hbGracePeriodMultiplier=2&maximumConnections=10"));
        Assert.Equal(1024, options.Parser.MaxBodySize);
        Assert.Equal((5000L, 0L), options.DefaultHeartBeat);
        Assert.Equal(2.0, options.HeartBeatGracePeriodMultiplier);
        Assert.Equal(10, options.MaximumConnections);
        Assert.True(StompTransportOptions.From(TransportUri.Parse("ws://127.0.0.1:0")).IsWebSocket);
        Assert.Throws<FormatException>(() => StompTransportOptions.From(TransportUri.Parse("stomp://127.0.0.1:0?bogus=1")));
        Assert.Throws<FormatException>(() => StompTransportOptions.From(TransportUri.Parse("stomp://127.0.0.1:0?transport.defaultHeartBeat=abc")));
        Assert.Throws<FormatException>(() => StompTransportOptions.From(TransportUri.Parse("tcp://127.0.0.1:0")));
    }

    [Fact]
    public void Stomp_selectors_compare_string_properties_as_numbers_as_activemq_does()
    {
        var seven = new Message(DataTypes.TextMessage) { MarshalledProperties = PrimitiveMap.Encode(new Dictionary<string, object?> { ["n"] = "7" }) };
        Assert.False(MessageSelector.Parse("n > 5").Matches(seven));
        Assert.True(MessageSelector.Parse(MessageSelector.ConvertStringExpressionsPrefix + "n > 5").Matches(seven));
        Assert.True(MessageSelector.Parse(MessageSelector.ConvertStringExpressionsPrefix + "n = 7").Matches(seven));
        Assert.False(MessageSelector.Parse(MessageSelector.ConvertStringExpressionsPrefix + "n < 5").Matches(seven));
    }
}

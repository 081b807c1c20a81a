using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using BenchmarkDotNet.Attributes;
using Ferry.Protocol.OpenWire;
using Ferry.Protocol.OpenWire.Commands;
using Ferry.Protocol.OpenWire.Marshalling;

namespace Ferry.Benchmarks;

/// <summary>
/// Encode and decode of the broker's hottest frame: a MessageDispatch carrying a persistent
/// ActiveMQTextMessage with a 1 KiB body and a few application properties, in both encodings.
/// The marshal cache is off: Ferry's <see cref="WireFormatOptions"/> advertise CacheEnabled=false,
/// so negotiation with any peer leaves it off.
/// </summary>
[MemoryDiagnoser]
public class OpenWireCodecBenchmarks
{
    private const int ContentSize = 1024;

    private OpenWireFormat _encoder = null!;
    private OpenWireFormat _decoder = null!;
    private MessageDispatch _dispatch = null!;
    private ReadOnlySequence<byte> _encoded;
    private ReadOnlySequence<byte> _encodedSplit;
    private ReadOnlySequence<byte> _encodedAck;

    [Params(false, true)]
    public bool Tight { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var settings = new NegotiatedWireFormat(
            Version: OpenWireFormat.CurrentVersion,
            TightEncoding: Tight,
            CacheEnabled: false,
            CacheSize: 0,
            SizePrefixDisabled: false,
            StackTraceEnabled: false,
            TcpNoDelay: true,
            MaxInactivityDuration: 30_000,
            MaxInactivityDurationInitialDelay: 10_000,
            MaxFrameSize: 100L * 1024 * 1024);
        _encoder = new OpenWireFormat(settings.MaxFrameSize);
        _encoder.Apply(settings);
        _decoder = new OpenWireFormat(settings.MaxFrameSize);
        _decoder.Apply(settings);

        _dispatch = CreateDispatch();
        byte[] frame = _encoder.Encode(_dispatch).ToArray();
        _encoded = new ReadOnlySequence<byte>(frame);
        _encodedSplit = Segment.Split(frame, frame.Length / 2);
        _encodedAck = new ReadOnlySequence<byte>(_encoder.Encode(new MessageAck
        {
            Destination = _dispatch.Destination,
            ConsumerId = _dispatch.ConsumerId,
            AckType = AckType.Standard,
            FirstMessageId = _dispatch.Message!.MessageId,
            LastMessageId = _dispatch.Message.MessageId,
            MessageCount = 1,
        }).ToArray());

        // Fail fast if the fixture does not survive a round trip: a benchmark of a broken codec is worthless.
        RoundTrips(_encoded);
        RoundTrips(_encodedSplit);
    }

    private void RoundTrips(ReadOnlySequence<byte> buffer)
    {
        if (!_decoder.TryReadFrame(ref buffer, out var decoded)
            || !buffer.IsEmpty
            || decoded is not MessageDispatch { Message: { } message }
            || message.DataType != DataTypes.TextMessage
            || message.Content?.Length != ContentSize
            || !message.Content.AsSpan().SequenceEqual(_dispatch.Message!.Content))
        {
            throw new InvalidOperationException("The benchmark frame does not round-trip");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _encoder.Dispose();
        _decoder.Dispose();
    }

    /// <summary>Encodes into the codec's reusable frame buffer, as the connection's writer loop does.</summary>
    [Benchmark]
    public int Encode() => _encoder.Encode(_dispatch).Length;

    /// <summary>Decodes one complete frame from a single-segment sequence, as the reader loop does.</summary>
    [Benchmark]
    public DataStructure? Decode()
    {
        var buffer = _encoded;
        _decoder.TryReadFrame(ref buffer, out var command);
        return command;
    }

    /// <summary>
    /// The same frame split over two segments, as when it straddles two pipe buffers: the codec
    /// then copies the frame into a pooled array before decoding.
    /// </summary>
    [Benchmark]
    public DataStructure? DecodeSplit()
    {
        var buffer = _encodedSplit;
        _decoder.TryReadFrame(ref buffer, out var command);
        return command;
    }

    /// <summary>A consumer's standard ack of one message: what the broker decodes once per delivery.</summary>
    [Benchmark]
    public DataStructure? DecodeAck()
    {
        var buffer = _encodedAck;
        _decoder.TryReadFrame(ref buffer, out var command);
        return command;
    }

    private static MessageDispatch CreateDispatch()
    {
        const string connection = "ID:bench-host-41234-1700000000000-1:1";
        var producer = new ProducerId(connection, sessionId: 1, value: 1);
        var queue = Destination.Queue("orders.incoming");
        var properties = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["orderId"] = 918_273_645L,
            ["region"] = "eu-west",
            ["priorityCustomer"] = true,
            ["schemaVersion"] = 3,
            ["source"] = "checkout-service",
        };
        var message = new Message(DataTypes.TextMessage)
        {
            CommandId = 7,
            ResponseRequired = true,
            ProducerId = producer,
            Destination = queue,
            MessageId = new MessageId(producer, producerSequenceId: 42) { BrokerSequenceId = 1_001 },
            CorrelationId = "corr-7f3a9c2e-5b1d-4e8a-9c6f-0d2b4a6e8f10",
            Persistent = true,
            Priority = 4,
            Timestamp = 1_700_000_000_123,
            BrokerInTime = 1_700_000_000_125,
            BrokerOutTime = 1_700_000_000_131,
            Content = TextContent(ContentSize),
            MarshalledProperties = PrimitiveMap.Encode(properties),
        };
        return new MessageDispatch
        {
            ConsumerId = new ConsumerId("ID:bench-client-41235-1700000000500-1:1", sessionId: 1, value: 1),
            Destination = queue,
            Message = message,
            RedeliveryCounter = 0,
        };
    }

    /// <summary>An ActiveMQTextMessage body as the Java client marshals it: an int length, then the UTF-8 text.</summary>
    private static byte[] TextContent(int totalSize)
    {
        var content = new byte[totalSize];
        int textLength = totalSize - 4;
        BinaryPrimitives.WriteInt32BigEndian(content, textLength);
        var text = new StringBuilder(textLength);
        while (text.Length < textLength)
        {
            text.Append("{\"sku\":\"A-1042\",\"qty\":3,\"price\":19.99} ");
        }
        Encoding.ASCII.GetBytes(text.ToString(0, textLength), content.AsSpan(4));
        return content;
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        private Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public static ReadOnlySequence<byte> Split(byte[] data, int at)
        {
            var first = new Segment(data.AsMemory(0, at), 0);
            var second = new Segment(data.AsMemory(at), at);
            first.Next = second;
            return new ReadOnlySequence<byte>(first, 0, second, second.Memory.Length);
        }
    }
}

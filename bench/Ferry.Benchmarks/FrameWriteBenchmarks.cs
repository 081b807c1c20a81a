using System.Buffers;
using BenchmarkDotNet.Attributes;
using Ferry.Protocol.OpenWire;
using Ferry.Protocol.OpenWire.Commands;

namespace Ferry.Benchmarks;

/// <summary>
/// <see cref="OpenWireFormat.Write"/> of one MessageDispatch (tight, v12) into a connection's output
/// buffer, as the writer loop does per delivery. <see cref="Splice"/> = false copies the body into the
/// codec's frame buffer and then the whole frame into the output (the former path); true hands a body
/// of 2 KiB or more to the output straight from the message's array.
/// </summary>
[MemoryDiagnoser]
public class FrameWriteBenchmarks
{
    private readonly ArrayBufferWriter<byte> _output = new(1 << 20);
    private OpenWireFormat _codec = null!;
    private MessageDispatch _dispatch = null!;

    [Params(1024, 16 * 1024, 256 * 1024)]
    public int BodySize { get; set; }

    [Params(false, true)]
    public bool Splice { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var settings = new NegotiatedWireFormat(
            Version: OpenWireFormat.CurrentVersion, TightEncoding: true, CacheEnabled: false, CacheSize: 0,
            SizePrefixDisabled: false, StackTraceEnabled: false, TcpNoDelay: true,
            MaxInactivityDuration: 30_000, MaxInactivityDurationInitialDelay: 10_000, MaxFrameSize: 100L * 1024 * 1024);
        _codec = new OpenWireFormat(settings.MaxFrameSize) { SpliceThreshold = Splice ? 2048 : int.MaxValue };
        _codec.Apply(settings);
        var producer = new ProducerId("ID:bench-host-41234-1700000000000-1:1", sessionId: 1, value: 1);
        var queue = Destination.Queue("orders.eu");
        _dispatch = new MessageDispatch
        {
            ConsumerId = new ConsumerId("ID:bench-client-41230-1700000000500-1:1", 1, 1),
            Destination = queue,
            Message = new Message(DataTypes.BytesMessage)
            {
                ProducerId = producer,
                Destination = queue,
                MessageId = new MessageId(producer, producerSequenceId: 1) { BrokerSequenceId = 1 },
                Timestamp = 1_700_000_000_123,
                Persistent = true,
                Content = new byte[BodySize],
            },
        };
    }

    [GlobalCleanup]
    public void Cleanup() => _codec.Dispose();

    [Benchmark]
    public int Write()
    {
        _output.ResetWrittenCount();
        _codec.Write(_dispatch, _output);
        return _output.WrittenCount;
    }
}

using BenchmarkDotNet.Attributes;
using Ferry.Broker.Destinations;
using Ferry.Protocol.OpenWire;
using Ferry.Protocol.OpenWire.Commands;

namespace Ferry.Benchmarks;

/// <summary>
/// The broker's per-delivery path with a full prefetch window (1000, the client default), for
/// <see cref="Consumers"/> subscriptions sharing each message (1 = a queue consumer, 10 = a topic
/// fan-out 1→10): copy the message header for the dispatch, encode the MessageDispatch as the
/// connection's writer loop does (v12, 1 KiB body, loose or tight by <see cref="Tight"/>), decode the
/// consumer's standard ack (as the reader loop does) and apply it to the subscription, which removes
/// the oldest message. <see cref="SharedHeader"/>: the message's header is encoded once for all its
/// dispatches (what <c>Topic.Send</c> sets up for more than one subscriber) instead of once per dispatch.
/// One operation is one message delivered to and acknowledged by every consumer.
/// </summary>
[MemoryDiagnoser]
public class DispatchBenchmarks
{
    private const int Window = 1000;
    private const int Ring = 1024;

    private readonly List<MessageReference> _removed = [];
    private Consumer[] _consumers = null!;
    private MessageReference[] _messages = null!;
    private int _next;

    [Params(1, 10)]
    public int Consumers { get; set; }

    [Params(false, true)]
    public bool Tight { get; set; }

    [Params(false, true)]
    public bool SharedHeader { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var producer = new ProducerId("ID:bench-host-41234-1700000000000-1:1", sessionId: 1, value: 1);
        var topic = Destination.Topic("prices.eu");
        _messages = new MessageReference[Ring];
        for (int i = 0; i < Ring; i++)
        {
            _messages[i] = new MessageReference(new Message(DataTypes.BytesMessage)
            {
                ProducerId = producer,
                Destination = topic,
                MessageId = new MessageId(producer, producerSequenceId: i + 1) { BrokerSequenceId = i + 1 },
                Timestamp = 1_700_000_000_123,
                Content = new byte[1024],
                SharedHeader = SharedHeader ? new SharedHeaderEncoding() : null,
            });
        }
        _consumers = new Consumer[Consumers];
        for (int c = 0; c < Consumers; c++)
        {
            _consumers[c] = new Consumer(topic, c, _messages, Tight);
        }
        // Fill every window, so each ack names the oldest of 1000 in flight, as in a steady stream.
        for (_next = 0; _next < Window - 1; _next++)
        {
            foreach (var consumer in _consumers)
            {
                consumer.Subscription.Deliver(_messages[_next]);
            }
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var consumer in _consumers)
        {
            consumer.Dispose();
        }
    }

    [Benchmark]
    public int DeliverAndAck()
    {
        var reference = _messages[_next % Ring];
        if (SharedHeader)
        {
            // A new message each time, as Topic.Send sets it up: the header is encoded once here, not zero times.
            reference.Message.SharedHeader = new SharedHeaderEncoding();
        }
        int oldest = (_next - (Window - 1)) % Ring;
        _next++;
        int bytes = 0;
        foreach (var consumer in _consumers)
        {
            consumer.Subscription.Deliver(reference);
            bytes += consumer.Written;
            var buffer = consumer.AckFrames[oldest];
            consumer.Format.TryReadFrame(ref buffer, out var ack);
            _removed.Clear();
            consumer.Subscription.Acknowledge((MessageAck)ack!, _removed);
        }
        return bytes + _removed.Count;
    }

    /// <summary>One consumer connection: its subscription, its codec, and the acks its client would send.</summary>
    private sealed class Consumer : IConsumerEndpoint, IDisposable
    {
        public Consumer(Destination topic, int index, MessageReference[] messages, bool tight)
        {
            var settings = new NegotiatedWireFormat(
                Version: OpenWireFormat.CurrentVersion, TightEncoding: tight, CacheEnabled: false, CacheSize: 0,
                SizePrefixDisabled: false, StackTraceEnabled: false, TcpNoDelay: true,
                MaxInactivityDuration: 30_000, MaxInactivityDurationInitialDelay: 10_000, MaxFrameSize: 100L * 1024 * 1024);
            Format = new OpenWireFormat(settings.MaxFrameSize);
            Format.Apply(settings);
            var id = new ConsumerId($"ID:bench-client-4123{index}-1700000000500-1:1", sessionId: 1, value: 1);
            Subscription = new QueueSubscription(new ConsumerInfo { ConsumerId = id, Destination = topic, PrefetchSize = Window }, this, TimeProvider.System);
            AckFrames = messages.Select(m => new System.Buffers.ReadOnlySequence<byte>(Format.Encode(new MessageAck
            {
                Destination = topic,
                ConsumerId = id,
                AckType = AckType.Standard,
                FirstMessageId = m.Id,
                LastMessageId = m.Id,
                MessageCount = 1,
            }).ToArray())).ToArray();
        }

        public OpenWireFormat Format { get; }
        public QueueSubscription Subscription { get; }
        public System.Buffers.ReadOnlySequence<byte>[] AckFrames { get; }
        public int Written { get; private set; }
        public string ConnectionId => "ID:bench-client";

        public bool Send(DataStructure command)
        {
            Written = Format.Encode(command).Length;
            return true;
        }

        public void Dispose() => Format.Dispose();
    }
}

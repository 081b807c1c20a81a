using Ferry.Protocol.OpenWire;
using Ferry.Protocol.OpenWire.Commands;
using Ferry.Protocol.OpenWire.Marshalling;

namespace Ferry.Tests.OpenWire;

/// <summary>
/// A message going to many consumers has its header encoded once (<see cref="SharedHeaderEncoding"/>):
/// every frame built from the shared form must be byte for byte the frame a plain encoding gives,
/// for each dispatch copy with its own redelivery counter, out-time and group flag.
/// </summary>
public sealed class SharedHeaderEncodingTests
{
    public static TheoryData<bool, bool, int> Encodings()
    {
        var data = new TheoryData<bool, bool, int>();
        foreach (bool tight in new[] { false, true })
        {
            foreach (bool cache in new[] { false, true })
            {
                foreach (int version in new[] { 12, 10, 9, 6, 1 })
                {
                    data.Add(tight, cache, version);
                }
            }
        }
        return data;
    }

    private static Message FilledMessage() =>
        ((MessageDispatch)OpenWireSamples.Filled(DataTypes.MessageDispatch)).Message!;

    private static MessageDispatch DispatchOf(Message message, int consumer, int redeliveries) => new()
    {
        ConsumerId = new ConsumerId($"ID:consumer-{consumer}", 1, consumer),
        // With and without a destination, so the header's bits land at different offsets of the BooleanStream.
        Destination = consumer % 2 == 0 ? message.Destination : null,
        Message = message,
        RedeliveryCounter = redeliveries,
    };

    /// <summary>The copy <c>Subscription.Deliver</c> makes: only the fields after the shared header differ.</summary>
    private static Message DispatchCopy(Message original, int i)
    {
        var copy = original.CopyForDispatch();
        copy.RedeliveryCounter = i;
        copy.BrokerOutTime = 1_700_000_000_000 + i * 70_000;
        copy.JmsxGroupFirstForConsumer = i % 2 == 0;
        return copy;
    }

    [Theory]
    [MemberData(nameof(Encodings))]
    public void Frames_from_the_shared_header_equal_plain_frames(bool tight, bool cache, int version)
    {
        var settings = OpenWireSamples.Settings(version, tight, cache);
        var shared = FilledMessage();
        shared.SharedHeader = new SharedHeaderEncoding();
        var plain = FilledMessage();

        // A fresh codec per frame, and one codec reused for every frame as a connection's writer loop
        // does (its buffers hold the previous frame's bytes), against the same dispatches encoded from
        // messages that share nothing.
        using var connection = new OpenWireFormat(long.MaxValue);
        connection.Apply(settings);
        using var plainConnection = new OpenWireFormat(long.MaxValue);
        plainConnection.Apply(settings);
        for (int i = 0; i < 4; i++)
        {
            var fromShared = OpenWireSamples.Frame(DispatchOf(DispatchCopy(shared, i), i, i), settings);
            var expected = OpenWireSamples.Frame(DispatchOf(DispatchCopy(plain, i), i, i), settings);
            Assert.Equal(expected, fromShared);
            connection.Encode(OpenWireSamples.Filled(DataTypes.MessageDispatch));
            plainConnection.Encode(OpenWireSamples.Filled(DataTypes.MessageDispatch));
            Assert.Equal(
                plainConnection.Encode(DispatchOf(DispatchCopy(plain, i), i, i)).ToArray(),
                connection.Encode(DispatchOf(DispatchCopy(shared, i), i, i)).ToArray());

            var decoded = (MessageDispatch)OpenWireSamples.DecodeOne(fromShared, settings)!;
            Assert.Equal(i, decoded.Message!.RedeliveryCounter);
            Assert.Equal(shared.Content, decoded.Message.Content);
            Assert.Equal(shared.MessageId!.ProducerSequenceId, decoded.Message.MessageId!.ProducerSequenceId);
        }
        // A message encoded at top level (the store's form) shares the same header.
        Assert.Equal(OpenWireSamples.Frame(plain, settings), OpenWireSamples.Frame(shared, settings));
    }

    [Fact]
    public void Each_encoding_and_version_keeps_its_own_form()
    {
        var message = FilledMessage();
        message.SharedHeader = new SharedHeaderEncoding();
        var plain = FilledMessage();
        // Alternate formats on the same message: a form made for one must never be used for another.
        foreach (var (tight, version) in new[] { (false, 12), (true, 12), (false, 9), (true, 6), (false, 12), (true, 12), (true, 1) })
        {
            var settings = OpenWireSamples.Settings(version, tight);
            Assert.Equal(OpenWireSamples.Frame(DispatchOf(plain, 1, 0), settings), OpenWireSamples.Frame(DispatchOf(message, 1, 0), settings));
        }
    }

    [Fact]
    public void The_shared_form_is_used_after_the_first_encoding()
    {
        var settings = OpenWireSamples.Settings(12, tight: true);
        var message = FilledMessage();
        message.SharedHeader = new SharedHeaderEncoding();
        var first = OpenWireSamples.Frame(DispatchOf(message, 1, 0), settings);
        Assert.NotNull(message.SharedHeader.Find(tight: true, 12));
        Assert.Null(message.SharedHeader.Find(tight: false, 12));

        // Had the header been encoded again, this change would show; the shared form does not.
        message.CopyForDispatch().CorrelationId = "changed";
        var copy = message.CopyForDispatch();
        copy.Type = "changed";
        Assert.Equal(first, OpenWireSamples.Frame(DispatchOf(copy, 1, 0), settings));
    }

    [Fact]
    public void A_copy_for_change_encodes_its_own_header()
    {
        var settings = OpenWireSamples.Settings(12, tight: true);
        var message = FilledMessage();
        message.SharedHeader = new SharedHeaderEncoding();
        OpenWireSamples.Frame(DispatchOf(message, 1, 0), settings);

        var dead = message.CopyForChange();
        dead.Destination = Destination.Queue("ActiveMQ.DLQ");
        Assert.Null(dead.SharedHeader);
        var decoded = (MessageDispatch)OpenWireSamples.DecodeOne(OpenWireSamples.Frame(DispatchOf(dead, 1, 0), settings), settings)!;
        Assert.Equal("ActiveMQ.DLQ", decoded.Message!.Destination!.Name);
        Assert.NotNull(message.SharedHeader);
    }

    [Fact]
    public void Concurrent_writers_produce_identical_frames()
    {
        var settings = OpenWireSamples.Settings(12, tight: true);
        var expected = OpenWireSamples.Frame(DispatchOf(FilledMessage(), 1, 0), settings);
        for (int round = 0; round < 20; round++)
        {
            var message = FilledMessage();
            message.SharedHeader = new SharedHeaderEncoding();
            var frames = new byte[8][];
            Parallel.For(0, frames.Length, i => frames[i] = OpenWireSamples.Frame(DispatchOf(message, 1, 0), settings));
            Assert.All(frames, frame => Assert.Equal(expected, frame));
        }
    }

    /// <summary>
    /// The tight header's bits land at every offset of the BooleanStream, in a writer whose bit array
    /// holds a previous frame's bits (all ones): kept once, then copied, they must give the same stream.
    /// </summary>
    [Fact]
    public void Tight_header_bits_are_copied_at_every_offset_over_stale_bits()
    {
        var message = FilledMessage();
        message.SharedHeader = new SharedHeaderEncoding();
        var writer = new TightWriter();
        var plainWriter = new TightWriter();
        using var data = new FrameBuffer();
        using var plainData = new FrameBuffer();
        using var stream = new FrameBuffer();
        using var plainStream = new FrameBuffer();
        for (int round = 0; round < 2; round++)
        {
            for (int before = 0; before < 24; before++)
            {
                foreach (var (w, d, shared) in new[] { (writer, data, message.SharedHeader), (plainWriter, plainData, (SharedHeaderEncoding?)null) })
                {
                    // A previous frame full of set bits.
                    w.Reset(d, 12, null, false);
                    bool one = true;
                    for (int i = 0; i < 700; i++)
                    {
                        w.Bool(ref one);
                    }
                    d.Reset();
                    w.Reset(d, 12, null, false);
                    for (int i = 0; i < before; i++)
                    {
                        bool bit = i % 3 == 0;
                        w.Bool(ref bit);
                    }
                    w.SharedHeader(message, shared);
                    bool after = false;
                    w.Bool(ref after);
                    after = true;
                    w.Bool(ref after);
                }
                stream.Reset();
                plainStream.Reset();
                writer.WriteBooleanStream(stream);
                plainWriter.WriteBooleanStream(plainStream);
                Assert.Equal(plainStream.WrittenSpan.ToArray(), stream.WrittenSpan.ToArray());
                Assert.Equal(plainData.WrittenSpan.ToArray(), data.WrittenSpan.ToArray());
            }
        }
        Assert.NotNull(message.SharedHeader.Find(tight: true, 12));
    }
}

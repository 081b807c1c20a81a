using System.Buffers;
using Ferry.Protocol.OpenWire;
using Ferry.Protocol.OpenWire.Commands;
using Ferry.Protocol.OpenWire.Marshalling;

namespace Ferry.Tests.OpenWire;

/// <summary>
/// The marshal cache on the writing side: an id or destination sent before goes as its 2-byte index, the table
/// replaces its oldest entries once full (the reader replaces the same slots), and a value changed after it went
/// out is sent again in full. Every frame must decode to what was written.
/// </summary>
public sealed class MarshalCacheTests
{
    public static TheoryData<bool> Encodings() => new(false, true);

    private static MessageDispatch Dispatch(string destination, ProducerId producer, long sequence, ConsumerId consumer)
    {
        var queue = Destination.Queue(destination);
        return new MessageDispatch
        {
            ConsumerId = consumer,
            Destination = queue,
            Message = new Message(DataTypes.TextMessage)
            {
                ProducerId = producer,
                Destination = queue,
                MessageId = new MessageId(producer, sequence),
                Content = [0, 0, 0, 2, (byte)'h', (byte)'i'],
            },
        };
    }

    /// <summary>Writes and reads each command through a pair of codecs; returns each frame's size.</summary>
    private static List<int> RoundTrip(NegotiatedWireFormat settings, IEnumerable<DataStructure> commands)
    {
        using var writer = new OpenWireFormat(long.MaxValue);
        writer.Apply(settings);
        using var reader = new OpenWireFormat(long.MaxValue);
        reader.Apply(settings);
        using var plain = new OpenWireFormat(long.MaxValue);
        plain.Apply(settings with { CacheEnabled = false, CacheSize = 0 });
        var sizes = new List<int>();
        foreach (var command in commands)
        {
            var expected = plain.Encode(command).ToArray(); // before writing: the writer must not change it
            var output = new ArrayBufferWriter<byte>();
            writer.Write(command, output);
            sizes.Add(output.WrittenCount);
            var sequence = new ReadOnlySequence<byte>(output.WrittenMemory);
            Assert.True(reader.TryReadFrame(ref sequence, out var decoded));
            Assert.Equal(expected, plain.Encode(decoded!).ToArray());
        }
        return sizes;
    }

    [Theory]
    [MemberData(nameof(Encodings))]
    public void Ids_and_destinations_sent_before_go_as_their_index(bool tight)
    {
        var producer = new ProducerId("ID:host-1234-1:1", 1, 1);
        var consumer = new ConsumerId("ID:host-5678-1:1", 1, 1);
        var settings = OpenWireSamples.Settings(tight: tight, cache: true);
        var sizes = RoundTrip(settings, Enumerable.Range(1, 3).Select(i => (DataStructure)Dispatch("orders", producer, i, consumer)));
        using var uncached = new OpenWireFormat(long.MaxValue);
        uncached.Apply(settings with { CacheEnabled = false, CacheSize = 0 });
        int full = uncached.Encode(Dispatch("orders", producer, 1, consumer)).Length;
        // Within the first frame the message's destination and its id's producer id repeat the dispatch's and the
        // message's; in the next ones the consumer id, the destination and the producer id are indexes too.
        Assert.True(sizes[0] < full, $"first {sizes[0]} vs uncached {full}");
        Assert.True(sizes[1] < sizes[0] - 40, $"second {sizes[1]} vs first {sizes[0]}");
        Assert.Equal(sizes[1], sizes[2]);
    }

    [Theory]
    [MemberData(nameof(Encodings))]
    public void A_full_table_replaces_its_oldest_entries_as_the_reader_does(bool tight)
    {
        // A table of 6 and 7 destinations, 5 producers, 3 consumers in a random order: every frame decodes
        // to what was written, whichever slots were replaced meanwhile.
        var settings = OpenWireSamples.Settings(tight: tight, cache: true, cacheSize: 6);
        var random = new Random(42);
        var producers = Enumerable.Range(0, 5).Select(i => new ProducerId("ID:p-" + i, i, i + 1)).ToArray();
        var consumers = Enumerable.Range(0, 3).Select(i => new ConsumerId("ID:c-" + i, 1, i)).ToArray();
        var commands = Enumerable.Range(0, 500).Select(i => (DataStructure)Dispatch(
            "q" + random.Next(7), producers[random.Next(producers.Length)], i, consumers[random.Next(consumers.Length)]));
        var sizes = RoundTrip(settings, commands);
        Assert.True(sizes.Count(size => size <= sizes.Max() - 10) >= 50, "values found in the table in some frames: " + string.Join(",", sizes.Take(40)));
    }

    public static TheoryData<bool, int> SmallTables()
    {
        var data = new TheoryData<bool, int>();
        foreach (bool tight in new[] { false, true })
        {
            foreach (int size in new[] { 1, 2, 3 })
            {
                data.Add(tight, size);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(SmallTables))]
    public void A_nested_cached_value_that_reuses_its_holders_slot_leaves_both_tables_alike(bool tight, int size)
    {
        // A transaction id is cached and holds a cached connection id: with a table of one they take the same
        // slot, and the reader keeps the one it stores last (the holder); so must the writer.
        var settings = OpenWireSamples.Settings(tight: tight, cache: true, cacheSize: size);
        var connection = new ConnectionId("ID:c1");
        var commands = Enumerable.Range(0, 20).SelectMany(n => new DataStructure[]
        {
            new TransactionInfo { ConnectionId = connection, TransactionId = new LocalTransactionId(connection, n % 3), Type = 0 },
            new RemoveInfo { ObjectId = connection },
        });
        RoundTrip(settings, commands);
    }

    [Theory]
    [MemberData(nameof(Encodings))]
    public void A_value_changed_after_it_went_out_is_sent_again_in_full(bool tight)
    {
        var settings = OpenWireSamples.Settings(tight: tight, cache: true);
        var producer = new ProducerId("ID:host-1:1", 1, 1);
        var consumer = new ConsumerId("ID:host-2:1", 1, 1);
        var first = Dispatch("before", producer, 1, consumer);
        var destination = first.Destination!;
        var second = Dispatch("x", producer, 2, consumer);
        second.Destination = destination; // the same object, changed in between
        RoundTrip(settings, Change(first, () => destination.PhysicalName = "after", second));

        static IEnumerable<DataStructure> Change(DataStructure before, Action change, DataStructure after)
        {
            yield return before;
            change();
            yield return after;
        }
    }

    [Fact]
    public void An_entry_the_peer_did_not_keep_is_read_but_not_stored()
    {
        // ActiveMQ's writers, once their table is full, send new values under index -1: in full, not kept.
        var cache = new MarshalCache(4);
        Assert.Null(cache.Get(3)); // nothing stored there yet
        var kept = Destination.Queue("kept");
        Assert.Same(kept, cache.Store(0, kept));
        var notKept = Destination.Queue("not kept");
        Assert.Same(notKept, cache.Store(-1, notKept));
        Assert.Same(kept, cache.Get(0));
        Assert.Throws<Ferry.Protocol.ProtocolException>(() => cache.Get(-1));
        Assert.Throws<Ferry.Protocol.ProtocolException>(() => cache.Store(4, notKept));
    }
}

using Ferry.Broker;
using Ferry.Broker.Destinations;
using Ferry.Protocol.OpenWire.Commands;

namespace Ferry.Tests.Destinations;

/// <summary>The dispatched list keeps dispatch order through front, middle and exact removals and growth.</summary>
public sealed class DispatchedListTests
{
    private static readonly ProducerId Producer = new("ID:test-1:1", sessionId: 1, value: 1);

    private static MessageReference Reference(long sequence) =>
        new(new Message { MessageId = new MessageId(Producer, producerSequenceId: sequence) { BrokerSequenceId = sequence } });

    private static long[] Sequences(DispatchedList list) => list.Select(r => r.Sequence).ToArray();

    [Fact]
    public void Acks_of_the_oldest_entries_keep_the_rest_in_order_across_many_wraps()
    {
        var list = new DispatchedList();
        var expected = new List<long>();
        long next = 1;
        // A window of 1000 acknowledged one (and sometimes three) at a time from the front, 20,000 times:
        // the array is compacted and reused many times over.
        for (; next <= 1000; next++)
        {
            list.Add(Reference(next));
            expected.Add(next);
        }
        for (int round = 0; round < 20_000; round++)
        {
            int take = round % 7 == 0 ? 3 : 1;
            var removed = new List<MessageReference>();
            int last = list.IndexOf(list[take - 1].Id);
            Assert.Equal(take - 1, last);
            list.CopyTo(0, take, removed);
            list.RemoveRange(0, take);
            Assert.Equal(expected.Take(take), removed.Select(r => r.Sequence));
            expected.RemoveRange(0, take);
            for (int i = 0; i < take; i++, next++)
            {
                list.Add(Reference(next));
                expected.Add(next);
            }
        }
        Assert.Equal(expected, Sequences(list));
        Assert.Equal(1000, list.Count);
    }

    [Fact]
    public void Removals_in_the_middle_and_by_reference_keep_order_and_indexes()
    {
        var list = new DispatchedList();
        var references = Enumerable.Range(1, 40).Select(i => Reference(i)).ToList();
        references.ForEach(list.Add);
        list.RemoveRange(0, 2);          // front: 3..40
        list.RemoveAt(5);                // 8
        list.RemoveRange(10, 3);         // 14, 15, 16
        Assert.True(list.Remove(references[39]));   // 40, the newest
        Assert.False(list.Remove(references[0]));   // already gone
        var expected = Enumerable.Range(3, 37).Select(i => (long)i).Where(i => i != 8 && i is < 14 or > 16).ToArray();
        Assert.Equal(expected, Sequences(list));
        Assert.Equal(list.Count - 1, list.IndexOf(references[38].Id));
        Assert.Equal(-1, list.IndexOf(references[7].Id));
        Assert.Equal(expected, list.ToList().Select(r => r.Sequence));
        list.Clear();
        Assert.Equal(0, list.Count);
        Assert.Empty(list);
        list.Add(references[0]);
        Assert.Equal([1L], Sequences(list));
    }
}

/// <summary>The producer audit recognises a producer recovered from a store by its text form.</summary>
public sealed class ProducerAuditTests
{
    [Fact]
    public void A_producer_recorded_by_its_text_form_is_the_same_producer_as_the_live_id()
    {
        var audit = new ProducerAudit();
        var producer = new ProducerId("ID:host-41234-1700000000000-1:7", sessionId: 3, value: 9);
        audit.Record(producer.ToString(), 42);
        Assert.True(audit.IsDuplicate(new MessageId(producer, producerSequenceId: 42)));
        Assert.False(audit.IsDuplicate(new MessageId(producer, producerSequenceId: 43)));
        var other = new ProducerId("ID:host-41234-1700000000000-1:7", sessionId: 3, value: 10);
        Assert.False(audit.IsDuplicate(new MessageId(other, producerSequenceId: 1)));
        audit.Record(new MessageId(other, producerSequenceId: 5));
        Assert.True(audit.IsDuplicate(new MessageId(other, producerSequenceId: 5)));
        Assert.Equal(2, audit.Count);
    }
}

using Ferry.Protocol.OpenWire;
using Ferry.Protocol.OpenWire.Commands;
using Ferry.TestKit;

namespace Ferry.Tests.Engine;

public sealed class QueueDispatchTests
{
    private static readonly TimeSpan Short = TimeSpan.FromMilliseconds(300);

    [Fact]
    public async Task Consumer_receives_no_more_than_its_prefetch_until_it_acks()
    {
        await using var engine = new EngineFixture();
        var client = await engine.ConnectAsync();
        var queue = Destination.Queue("prefetch");
        var producer = await client.AddProducerAsync(queue);
        for (int i = 0; i < 5; i++)
        {
            await client.SendTextAsync(producer, queue, "m" + i);
        }
        await client.SubscribeAsync(queue, prefetch: 2);
        var first = await client.ReceiveAsync();
        var second = await client.ReceiveAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.ReceiveAsync(Short));

        client.Ack(first);
        var third = await client.ReceiveAsync();
        Assert.Equal(["m0", "m1", "m2"], new[] { first, second, third }.Select(d => OpenWireTestClient.TextOf(d.Message!)));
    }

    [Fact]
    public async Task Unacked_messages_of_a_dropped_connection_are_redelivered_marked_redelivered()
    {
        await using var engine = new EngineFixture();
        var queue = Destination.Queue("crash");
        var victim = await engine.ConnectAsync();
        var producer = await victim.AddProducerAsync(queue);
        await victim.SendTextAsync(producer, queue, "in flight");
        await victim.SubscribeAsync(queue);
        var delivered = await victim.ReceiveAsync();
        Assert.Equal(0, delivered.RedeliveryCounter);
        victim.Abort();

        var survivor = await engine.ConnectAsync();
        await survivor.SubscribeAsync(queue);
        var redelivered = await survivor.ReceiveAsync();
        Assert.Equal("in flight", OpenWireTestClient.TextOf(redelivered.Message!));
        Assert.Equal(delivered.Message!.MessageId, redelivered.Message!.MessageId);
        Assert.Equal(1, redelivered.RedeliveryCounter);
        Assert.Equal(1, redelivered.Message.RedeliveryCounter);
    }

    [Fact]
    public async Task Prefetched_but_undelivered_messages_are_not_counted_as_redelivered_on_consumer_close()
    {
        await using var engine = new EngineFixture();
        var queue = Destination.Queue("close");
        var client = await engine.ConnectAsync();
        var producer = await client.AddProducerAsync(queue);
        await client.SendTextAsync(producer, queue, "seen");
        await client.SendTextAsync(producer, queue, "only prefetched");
        var consumer = await client.SubscribeAsync(queue);
        var seen = await client.ReceiveAsync();
        await client.ReceiveAsync();
        client.Send(new RemoveInfo { ObjectId = consumer, LastDeliveredSequenceId = seen.Message!.MessageId!.BrokerSequenceId });

        await client.SubscribeAsync(queue, consumerValue: 2);
        var again1 = await client.ReceiveAsync();
        var again2 = await client.ReceiveAsync();
        Assert.Equal(("seen", 1), (OpenWireTestClient.TextOf(again1.Message!), again1.RedeliveryCounter));
        Assert.Equal(("only prefetched", 0), (OpenWireTestClient.TextOf(again2.Message!), again2.RedeliveryCounter));
    }

    [Fact]
    public async Task Competing_consumers_share_a_queue_round_robin()
    {
        await using var engine = new EngineFixture();
        var queue = Destination.Queue("compete");
        var a = await engine.ConnectAsync();
        var b = await engine.ConnectAsync();
        await a.SubscribeAsync(queue, prefetch: 1);
        await b.SubscribeAsync(queue, prefetch: 1);
        var producer = await a.AddProducerAsync(queue);
        for (int i = 0; i < 20; i++)
        {
            await a.SendTextAsync(producer, queue, "m" + i);
        }
        var received = new List<string>();
        int fromA = 0, fromB = 0;
        for (int i = 0; i < 20; i++)
        {
            if (a.TryReceive(out var da))
            {
                received.Add(OpenWireTestClient.TextOf(da!.Message!));
                a.Ack(da);
                fromA++;
            }
            else if (b.TryReceive(out var db))
            {
                received.Add(OpenWireTestClient.TextOf(db!.Message!));
                b.Ack(db);
                fromB++;
            }
            else
            {
                i--;
                await Task.Delay(5);
            }
        }
        Assert.Equal(Enumerable.Range(0, 20).Select(i => "m" + i).Order(), received.Order());
        Assert.True(fromA >= 5 && fromB >= 5, $"a got {fromA}, b got {fromB}");
    }

    [Fact]
    public async Task Pull_consumer_gets_an_empty_dispatch_when_nothing_is_there()
    {
        await using var engine = new EngineFixture();
        var queue = Destination.Queue("pull");
        var client = await engine.ConnectAsync();
        var consumer = await client.SubscribeAsync(queue, prefetch: 0);
        client.Send(new MessagePull { ConsumerId = consumer, Destination = queue, Timeout = -1 });
        var empty = await client.ReceiveAsync();
        Assert.Null(empty.Message);

        var producer = await client.AddProducerAsync(queue);
        await client.SendTextAsync(producer, queue, "pulled");
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.ReceiveAsync(Short));
        client.Send(new MessagePull { ConsumerId = consumer, Destination = queue, Timeout = 0 });
        var pulled = await client.ReceiveAsync();
        Assert.Equal("pulled", OpenWireTestClient.TextOf(pulled.Message!));
    }

    [Fact]
    public async Task Browser_sees_the_queue_then_an_end_marker_and_consumes_nothing()
    {
        await using var engine = new EngineFixture();
        var queue = Destination.Queue("browse");
        var client = await engine.ConnectAsync();
        var producer = await client.AddProducerAsync(queue);
        await client.SendTextAsync(producer, queue, "a");
        await client.SendTextAsync(producer, queue, "b");
        await client.SubscribeAsync(queue, consumerValue: 7, browser: true);
        var seen = new[] { await client.ReceiveAsync(), await client.ReceiveAsync() };
        var end = await client.ReceiveAsync();
        Assert.Equal(["a", "b"], seen.Select(d => OpenWireTestClient.TextOf(d.Message!)));
        Assert.Null(end.Message);
        Assert.Equal(2, engine.Broker.Destinations.FindQueue("browse")!.PendingCount);
    }

    [Fact]
    public async Task Poison_ack_moves_the_message_to_the_dead_letter_queue()
    {
        await using var engine = new EngineFixture();
        var queue = Destination.Queue("poison");
        var client = await engine.ConnectAsync();
        var producer = await client.AddProducerAsync(queue);
        await client.SendTextAsync(producer, queue, "bad", persistent: true);
        await client.SubscribeAsync(queue);
        var dispatch = await client.ReceiveAsync();
        client.Ack(dispatch, AckType.Poison);

        await client.SubscribeAsync(Destination.Queue("ActiveMQ.DLQ"), consumerValue: 2);
        var dead = await client.ReceiveAsync();
        Assert.Equal("bad", OpenWireTestClient.TextOf(dead.Message!));
        Assert.Equal(queue, dead.Message!.OriginalDestination);
        Assert.Equal(0, engine.Broker.Destinations.FindQueue("poison")!.PendingCount);
    }

    [Fact]
    public async Task Async_send_from_a_windowed_producer_is_answered_with_a_producer_ack()
    {
        await using var engine = new EngineFixture();
        var queue = Destination.Queue("window");
        var client = await engine.ConnectAsync();
        var producer = await client.AddProducerAsync(queue, windowSize: 64 * 1024);
        var message = OpenWireTestClient.TextMessage(producer, 1, queue, "hello");
        client.Send(message);
        await WaitFor.ConditionAsync(() => { lock (client.Received) { return client.Received.OfType<ProducerAck>().Any(); } }, TimeSpan.FromSeconds(5), "ProducerAck");
        ProducerAck ack;
        lock (client.Received)
        {
            ack = client.Received.OfType<ProducerAck>().Single();
        }
        Assert.Equal(producer, ack.ProducerId);
        Assert.Equal(1024 + message.Content!.Length, ack.Size);
    }

    [Fact]
    public async Task Loose_and_tight_clients_exchange_messages()
    {
        await using var engine = new EngineFixture();
        var queue = Destination.Queue("mixed");
        var loose = await engine.ConnectAsync(wireFormat: new WireFormatOptions { TightEncodingEnabled = false });
        var tight = await engine.ConnectAsync(wireFormat: new WireFormatOptions { TightEncodingEnabled = true, CacheEnabled = true });
        var producer = await loose.AddProducerAsync(queue);
        await tight.SubscribeAsync(queue);
        await loose.SendTextAsync(producer, queue, "héllo ✓ 😀");
        var received = await tight.ReceiveAsync();
        Assert.Equal("héllo ✓ 😀", OpenWireTestClient.TextOf(received.Message!));
    }
}

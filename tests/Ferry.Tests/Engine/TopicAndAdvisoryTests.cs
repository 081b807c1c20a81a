using Ferry.Protocol.OpenWire;
using Ferry.Protocol.OpenWire.Commands;
using Ferry.TestKit;

namespace Ferry.Tests.Engine;

public sealed class TopicAndAdvisoryTests
{
    [Fact]
    public async Task Every_subscriber_gets_every_message_and_late_subscribers_get_none_of_the_past()
    {
        await using var engine = new EngineFixture();
        var topic = Destination.Topic("news");
        var publisher = await engine.ConnectAsync();
        var subscribers = new List<OpenWireTestClient>();
        for (int i = 0; i < 3; i++)
        {
            var s = await engine.ConnectAsync();
            await s.SubscribeAsync(topic);
            subscribers.Add(s);
        }
        var producer = await publisher.AddProducerAsync(topic);
        for (int i = 0; i < 10; i++)
        {
            await publisher.SendTextAsync(producer, topic, "n" + i);
        }
        foreach (var s in subscribers)
        {
            for (int i = 0; i < 10; i++)
            {
                var d = await s.ReceiveAsync();
                Assert.Equal("n" + i, OpenWireTestClient.TextOf(d.Message!));
                s.Ack(d);
            }
        }
        var late = await engine.ConnectAsync();
        await late.SubscribeAsync(topic);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => late.ReceiveAsync(TimeSpan.FromMilliseconds(200)));
    }

    /// <summary>
    /// A topic message for several subscribers has its header encoded once and shared (per encoding and
    /// version); subscribers on different wire formats each decode it whole, and the copy a poison ack
    /// sends to the DLQ carries its own destination, not the shared topic header.
    /// </summary>
    [Fact]
    public async Task Subscribers_on_mixed_wire_formats_share_a_header_and_the_dead_letter_copy_gets_its_own()
    {
        await using var engine = new EngineFixture();
        var topic = Destination.Topic("mixed.formats");
        var formats = new[]
        {
            new WireFormatOptions { TightEncodingEnabled = true },
            new WireFormatOptions { TightEncodingEnabled = false },
            new WireFormatOptions { TightEncodingEnabled = true, Version = 9 },
            new WireFormatOptions { TightEncodingEnabled = false, Version = 9 },
        };
        var subscribers = new List<OpenWireTestClient>();
        foreach (var format in formats)
        {
            var s = await engine.ConnectAsync(wireFormat: format);
            await s.SubscribeAsync(topic);
            subscribers.Add(s);
        }
        var dlqReader = await engine.ConnectAsync();
        await dlqReader.SubscribeAsync(Destination.Queue("ActiveMQ.DLQ"));
        var publisher = await engine.ConnectAsync();
        var producer = await publisher.AddProducerAsync(topic);
        for (int i = 0; i < 5; i++)
        {
            await publisher.SendTextAsync(producer, topic, "m" + i, persistent: true);
        }
        foreach (var s in subscribers)
        {
            for (int i = 0; i < 5; i++)
            {
                var d = await s.ReceiveAsync();
                Assert.Equal("m" + i, OpenWireTestClient.TextOf(d.Message!));
                Assert.Equal(topic, d.Message!.Destination);
                Assert.Equal(producer, d.Message.ProducerId);
                Assert.True(d.Message.Persistent);
                // The first subscriber refuses the first message: it goes to the DLQ.
                s.Ack(d, s == subscribers[0] && i == 0 ? AckType.Poison : AckType.Standard);
            }
        }
        var dead = await dlqReader.ReceiveAsync();
        Assert.Equal("m0", OpenWireTestClient.TextOf(dead.Message!));
        Assert.Equal(Destination.Queue("ActiveMQ.DLQ"), dead.Message!.Destination);
        Assert.Equal(topic, dead.Message.OriginalDestination);
    }

    [Fact]
    public async Task Wildcard_subscriber_receives_from_topics_created_after_it_subscribed()
    {
        await using var engine = new EngineFixture();
        var client = await engine.ConnectAsync();
        await client.SubscribeAsync(Destination.Topic("prices.>"));
        var producer = await client.AddProducerAsync(null);
        await client.SendTextAsync(producer, Destination.Topic("prices.eu.fr"), "fr");
        await client.SendTextAsync(producer, Destination.Topic("volumes.eu"), "not for us");
        await client.SendTextAsync(producer, Destination.Topic("prices.us"), "us");
        var first = await client.ReceiveAsync();
        var second = await client.ReceiveAsync();
        Assert.Equal(["fr", "us"], new[] { first, second }.Select(d => OpenWireTestClient.TextOf(d.Message!)));
        Assert.False(client.TryReceive(out _));
    }

    [Fact]
    public async Task Temp_queue_dies_with_its_connection_and_others_are_told()
    {
        await using var engine = new EngineFixture();
        var watcher = await engine.ConnectAsync();
        await watcher.SubscribeAsync(Destination.Topic("ActiveMQ.Advisory.TempQueue,ActiveMQ.Advisory.TempTopic"), consumerValue: 99);
        var owner = await engine.ConnectAsync();
        var temp = new Destination(DestinationKind.TempQueue, owner.ConnectionId.Value + ":1");
        OpenWireTestClient.EnsureOk(await owner.RequestAsync(new DestinationInfo { ConnectionId = owner.ConnectionId, Destination = temp, OperationType = DestinationInfo.Add }));

        var added = await watcher.ReceiveAsync();
        var addInfo = Assert.IsType<DestinationInfo>(added.Message!.DataStructure);
        Assert.Equal((temp, DestinationInfo.Add), (addInfo.Destination, addInfo.OperationType));
        Assert.Equal("Advisory", added.Message.Type);

        var sender = await engine.ConnectAsync();
        var producer = await sender.AddProducerAsync(null);
        await sender.SendTextAsync(producer, temp, "reply");
        await owner.CloseAsync();

        var removed = await watcher.ReceiveAsync();
        var removeInfo = Assert.IsType<DestinationInfo>(removed.Message!.DataStructure);
        Assert.Equal((temp, DestinationInfo.Remove), (removeInfo.Destination, removeInfo.OperationType));
        var refused = await sender.RequestAsync(OpenWireTestClient.TextMessage(producer, 99, temp, "too late"));
        var error = Assert.IsType<ExceptionResponse>(refused);
        Assert.Equal(JmsErrors.InvalidDestination, error.Exception!.ExceptionClass);
    }

    [Fact]
    public async Task New_advisory_subscriber_is_told_about_existing_temp_destinations()
    {
        await using var engine = new EngineFixture();
        var owner = await engine.ConnectAsync();
        var temp = new Destination(DestinationKind.TempTopic, owner.ConnectionId.Value + ":5");
        OpenWireTestClient.EnsureOk(await owner.RequestAsync(new DestinationInfo { ConnectionId = owner.ConnectionId, Destination = temp, OperationType = DestinationInfo.Add }));

        var late = await engine.ConnectAsync();
        var advisoryConsumer = await late.SubscribeAsync(Destination.Topic("ActiveMQ.Advisory.TempQueue,ActiveMQ.Advisory.TempTopic"));
        var replayed = await late.ReceiveAsync();
        Assert.Equal(temp, Assert.IsType<DestinationInfo>(replayed.Message!.DataStructure).Destination);
        Assert.Equal(advisoryConsumer, replayed.Message.TargetConsumerId);
    }

    [Fact]
    public async Task Consumer_advisories_report_the_consumer_count()
    {
        await using var engine = new EngineFixture();
        var watcher = await engine.ConnectAsync();
        await watcher.SubscribeAsync(Destination.Topic("ActiveMQ.Advisory.Consumer.Queue.orders"), consumerValue: 50);
        var consumer = await engine.ConnectAsync();
        var id = await consumer.SubscribeAsync(Destination.Queue("orders"));
        var added = await watcher.ReceiveAsync();
        Assert.Equal(id, Assert.IsType<ConsumerInfo>(added.Message!.DataStructure).ConsumerId);
        consumer.Send(new RemoveInfo { ObjectId = id, LastDeliveredSequenceId = -1 });
        var removed = await watcher.ReceiveAsync();
        Assert.Equal(id, Assert.IsType<RemoveInfo>(removed.Message!.DataStructure).ObjectId);
    }

    [Fact]
    public async Task Second_connection_with_the_same_client_id_is_refused()
    {
        await using var engine = new EngineFixture();
        await engine.ConnectAsync(clientId: "unique");
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => engine.ConnectAsync(clientId: "unique"));
        Assert.Contains(JmsErrors.InvalidClientId, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Requests_the_broker_cannot_honour_get_a_jms_error_and_the_connection_stays_usable()
    {
        await using var engine = new EngineFixture();
        var client = await engine.ConnectAsync();
        var response = await client.RequestAsync(new ConsumerInfo
        {
            ConsumerId = new ConsumerId(client.ConnectionId.Value!, 1, 3),
            Destination = Destination.Queue("composite.a,composite.b"),
            PrefetchSize = 10,
        });
        Assert.IsType<ExceptionResponse>(response);
        var queue = Destination.Queue("still-works");
        var producer = await client.AddProducerAsync(queue);
        await client.SubscribeAsync(queue);
        await client.SendTextAsync(producer, queue, "ok");
        Assert.Equal("ok", OpenWireTestClient.TextOf((await client.ReceiveAsync()).Message!));
    }

    [Fact]
    public async Task Reconnect_of_the_same_connection_takes_its_client_id_over_from_the_stale_socket()
    {
        await using var engine = new EngineFixture();
        var stale = await engine.ConnectAsync(clientId: "failover-client");
        var (transport, _) = InMemoryPair(engine);
        await using var again = await OpenWireTestClientWithId(transport, stale.ConnectionId, "failover-client");
        await stale.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        var queue = Destination.Queue("after-takeover");
        var producer = await again.AddProducerAsync(queue);
        await again.SubscribeAsync(queue);
        await again.SendTextAsync(producer, queue, "still me");
        Assert.Equal("still me", OpenWireTestClient.TextOf((await again.ReceiveAsync()).Message!));
    }

    private static (Ferry.Protocol.Transport.InMemoryConnection Client, Task Served) InMemoryPair(EngineFixture engine) => engine.ConnectRaw();

    private static Task<OpenWireTestClient> OpenWireTestClientWithId(Ferry.Protocol.Transport.InMemoryConnection transport, ConnectionId id, string clientId) =>
        OpenWireTestClient.StartAsync(transport, clientId: clientId, connectionId: id);
}

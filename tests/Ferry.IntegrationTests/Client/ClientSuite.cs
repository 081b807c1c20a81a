using System.Collections.Concurrent;
using Ferry.Client;

namespace Ferry.IntegrationTests.Client;

/// <summary>Runs the client suite against a <c>ferry</c> process.</summary>
public sealed class FerryClientTests(FerryClientBroker broker) : ClientSuite(broker), IClassFixture<FerryClientBroker>
{
    [Fact]
    public async Task Durable_subscription_keeps_messages_while_its_consumer_is_closed() => await DurableSubscriptionAsync();
}

/// <summary>Runs the same client suite against the real ActiveMQ 5.17 broker.</summary>
public sealed class ActiveMQClientTests(ActiveMQClientBroker broker) : ClientSuite(broker), IClassFixture<ActiveMQClientBroker>
{
    [Fact]
    public async Task Durable_subscription_keeps_messages_while_its_consumer_is_closed() => await DurableSubscriptionAsync();
}

/// <summary>
/// One behaviour suite for the .NET client, run against Ferry and against ActiveMQ: the client must
/// behave the same against both (the real broker is the reference).
/// </summary>
public abstract class ClientSuite(IClientTestBroker broker) : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly List<Connection> _connections = [];
    private readonly string _prefix = "client." + Guid.NewGuid().ToString("N")[..8] + ".";

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var connection in _connections)
        {
            await connection.DisposeAsync();
        }
        broker.AssertHealthy();
    }

    private async Task<Connection> ConnectAsync(string options = "", bool start = true)
    {
        var factory = new ConnectionFactory(broker.Uri + (options.Length > 0 ? "?" + options : ""));
        var connection = await factory.CreateConnectionAsync();
        _connections.Add(connection);
        if (start)
        {
            await connection.StartAsync();
        }
        return connection;
    }

    private Ferry.Client.Queue Queue(string name) => new(_prefix + name);

    private Topic Topic(string name) => new(_prefix + name);

    private static async Task<Message> ReceiveAsync(MessageConsumer consumer) =>
        await consumer.ReceiveAsync(Wait) ?? throw new TimeoutException("no message within " + Wait);

    private static string Text(Message message) => Assert.IsType<TextMessage>(message).Text!;

    [Fact]
    public async Task Connects_and_closes()
    {
        var factory = new ConnectionFactory(broker.Uri + "?jms.clientID=" + _prefix + "cid");
        await using var connection = await factory.CreateConnectionAsync();
        Assert.Equal(_prefix + "cid", connection.ClientId);
        Assert.False(string.IsNullOrEmpty(connection.BrokerName));
        await connection.StartAsync();
        await using var session = await connection.CreateSessionAsync();
        await connection.CloseAsync();
        // The client id is free again.
        await using var again = await factory.CreateConnectionAsync();
    }

    [Fact]
    public async Task Every_message_type_arrives_with_its_properties_and_headers()
    {
        var connection = await ConnectAsync();
        var session = await connection.CreateSessionAsync();
        var queue = Queue("types");
        var replyTo = Queue("types.reply");
        var producer = await session.CreateProducerAsync(queue);
        var consumer = await session.CreateConsumerAsync(queue);

        var map = new MapMessage();
        map.Body["s"] = "v";
        map.Body["i"] = 42;
        map.Body["l"] = long.MaxValue;
        map.Body["d"] = 2.5;
        map.Body["f"] = 0.25f;
        map.Body["b"] = true;
        map.Body["y"] = (sbyte)-1;
        map.Body["h"] = (short)-2;
        map.Body["c"] = 'z';
        map.Body["bytes"] = new byte[] { 9, 8 };
        var stream = new StreamMessage();
        stream.Body.AddRange(["x", 9, false, 1.5, new byte[] { 1 }, null]);
        Message[] messages = [new TextMessage("h\u00e9llo \u4e2d"), new BytesMessage([0, 1, 2, 255]), map, stream, new Message()];

        for (int i = 0; i < messages.Length; i++)
        {
            var m = messages[i];
            m.CorrelationId = "corr-" + i;
            m.ReplyTo = replyTo;
            m.Type = "type-" + i;
            m.Properties["bool"] = true;
            m.Properties["byte"] = (sbyte)-5;
            m.Properties["short"] = (short)1234;
            m.Properties["int"] = i;
            m.Properties["long"] = 1234567890123L;
            m.Properties["float"] = 1.25f;
            m.Properties["double"] = -0.5;
            m.Properties["string"] = "s\u00e9";
            await producer.SendAsync(m, i % 2 == 0 ? DeliveryMode.Persistent : DeliveryMode.NonPersistent, priority: 6, timeToLive: TimeSpan.FromMinutes(10));
            Assert.NotNull(m.MessageId);
            Assert.Equal(queue, m.Destination);
        }

        // ActiveMQ keeps persistent and non-persistent messages in separate cursors, so their relative order may differ.
        var received = new Dictionary<string, Message>();
        for (int i = 0; i < messages.Length; i++)
        {
            var message = await ReceiveAsync(consumer);
            received[message.MessageId!] = message;
        }
        for (int i = 0; i < messages.Length; i++)
        {
            var sent = messages[i];
            var got = received[sent.MessageId!];
            Assert.Equal(sent.GetType(), got.GetType());
            Assert.Equal(sent.MessageId, got.MessageId);
            Assert.Equal(queue, got.Destination);
            Assert.Equal("corr-" + i, got.CorrelationId);
            Assert.Equal(replyTo, got.ReplyTo);
            Assert.Equal("type-" + i, got.Type);
            Assert.Equal(6, got.Priority);
            Assert.Equal(i % 2 == 0 ? DeliveryMode.Persistent : DeliveryMode.NonPersistent, got.DeliveryMode);
            Assert.Equal(sent.Timestamp, got.Timestamp);
            Assert.Equal(sent.Timestamp!.Value.AddMinutes(10), got.Expiration);
            Assert.False(got.Redelivered);
            Assert.Equal(1, got.DeliveryCount);
            Assert.Equal(8, got.Properties.Count);
            foreach (var (key, value) in sent.Properties)
            {
                Assert.Equal(value, got.Properties[key]);
            }
            switch (got)
            {
                case TextMessage text:
                    Assert.Equal(((TextMessage)sent).Text, text.Text);
                    break;
                case BytesMessage bytes:
                    Assert.Equal(((BytesMessage)sent).Body, bytes.Body);
                    break;
                case MapMessage gotMap:
                    Assert.Equal(map.Body.Count, gotMap.Body.Count);
                    foreach (var (key, value) in map.Body)
                    {
                        Assert.Equal(value, gotMap.Body[key]);
                    }
                    break;
                case StreamMessage gotStream:
                    Assert.Equal(stream.Body, gotStream.Body);
                    break;
            }
        }
    }

    [Fact]
    public async Task A_topic_reaches_every_subscriber_and_no_local_skips_our_own()
    {
        var publisher = await ConnectAsync();
        var topic = Topic("fanout");
        var subscribers = new List<MessageConsumer>();
        for (int i = 0; i < 3; i++)
        {
            var connection = await ConnectAsync();
            var s = await connection.CreateSessionAsync();
            subscribers.Add(await s.CreateConsumerAsync(topic));
        }
        var session = await publisher.CreateSessionAsync();
        var noLocal = await session.CreateConsumerAsync(topic, noLocal: true);
        var producer = await session.CreateProducerAsync(topic);
        for (int i = 0; i < 5; i++)
        {
            await producer.SendAsync(new TextMessage("t" + i), DeliveryMode.NonPersistent);
        }
        foreach (var subscriber in subscribers)
        {
            for (int i = 0; i < 5; i++)
            {
                Assert.Equal("t" + i, Text(await ReceiveAsync(subscriber)));
            }
        }
        Assert.Null(await noLocal.ReceiveAsync(TimeSpan.FromMilliseconds(300)));
    }

    [Fact]
    public async Task Competing_consumers_share_a_queue_and_each_message_is_consumed_once()
    {
        var queue = Queue("competing");
        var connection = await ConnectAsync("jms.prefetchPolicy.queuePrefetch=1");
        var consumers = new List<MessageConsumer>();
        for (int i = 0; i < 3; i++)
        {
            var s = await connection.CreateSessionAsync();
            consumers.Add(await s.CreateConsumerAsync(queue));
        }
        var producerSession = await connection.CreateSessionAsync();
        var producer = await producerSession.CreateProducerAsync(queue);
        const int count = 30;
        for (int i = 0; i < count; i++)
        {
            await producer.SendAsync(new TextMessage(i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }
        var seen = new ConcurrentDictionary<string, int>();
        var perConsumer = await Task.WhenAll(consumers.Select(async c =>
        {
            int n = 0;
            while (await c.ReceiveAsync(TimeSpan.FromSeconds(1)) is { } m)
            {
                seen.AddOrUpdate(Text(m), 1, (_, v) => v + 1);
                n++;
                await Task.Delay(5);
            }
            return n;
        }));
        Assert.Equal(count, seen.Count);
        Assert.All(seen.Values, v => Assert.Equal(1, v));
        Assert.True(perConsumer.Count(n => n > 0) >= 2, "messages were not shared: " + string.Join(",", perConsumer));
    }

    [Fact]
    public async Task Unacknowledged_client_ack_messages_are_redelivered_marked_redelivered()
    {
        var queue = Queue("clientack");
        var connection = await ConnectAsync();
        var session = await connection.CreateSessionAsync(AcknowledgeMode.Client);
        var producer = await session.CreateProducerAsync(queue);
        for (int i = 0; i < 3; i++)
        {
            await producer.SendAsync(new TextMessage("c" + i));
        }
        var consumer = await session.CreateConsumerAsync(queue);
        var first = await ReceiveAsync(consumer);
        Assert.False(first.Redelivered);
        await ReceiveAsync(consumer);
        // Recover: delivered again locally.
        await session.RecoverAsync();
        var recovered = await ReceiveAsync(consumer);
        Assert.Equal(first.MessageId, recovered.MessageId);
        Assert.True(recovered.Redelivered);
        // Close without acknowledging: the broker gives them to the next consumer, redelivered.
        await session.CloseAsync();
        var other = await ConnectAsync();
        var otherSession = await other.CreateSessionAsync(AcknowledgeMode.Client);
        var next = await otherSession.CreateConsumerAsync(queue);
        var again = await ReceiveAsync(next);
        Assert.Equal("c0", Text(again));
        Assert.True(again.Redelivered);
        Assert.True(again.DeliveryCount >= 2);
        await ReceiveAsync(next);
        var last = await ReceiveAsync(next);
        Assert.Equal("c2", Text(last));
        await last.AcknowledgeAsync();
        await otherSession.CloseAsync();
        var check = await (await other.CreateSessionAsync()).CreateConsumerAsync(queue);
        Assert.Null(await check.ReceiveAsync(TimeSpan.FromMilliseconds(500)));
    }

    [Fact]
    public async Task Individual_ack_acknowledges_one_message()
    {
        var queue = Queue("individual");
        var connection = await ConnectAsync();
        var session = await connection.CreateSessionAsync(AcknowledgeMode.Individual);
        var producer = await session.CreateProducerAsync(queue);
        await producer.SendAsync(new TextMessage("i0"));
        await producer.SendAsync(new TextMessage("i1"));
        var consumer = await session.CreateConsumerAsync(queue);
        await ReceiveAsync(consumer);
        var second = await ReceiveAsync(consumer);
        await second.AcknowledgeAsync();
        await session.CloseAsync();
        var next = await (await connection.CreateSessionAsync()).CreateConsumerAsync(queue);
        var left = await ReceiveAsync(next);
        Assert.Equal("i0", Text(left));
        // Whether it is marked redelivered differs: ActiveMQ marks unacknowledged messages only up to the consumer's
        // last delivered one *if that one is still unacknowledged* (here it was acknowledged), Ferry marks all delivered ones.
        Assert.Null(await next.ReceiveAsync(TimeSpan.FromMilliseconds(300)));
    }

    [Fact]
    public async Task Transactions_commit_and_roll_back_sends_and_receives()
    {
        var queue = Queue("tx");
        var connection = await ConnectAsync();
        var session = await connection.CreateSessionAsync(AcknowledgeMode.Transacted);
        Assert.True(session.Transacted);
        var producer = await session.CreateProducerAsync(queue);
        var observer = await (await connection.CreateSessionAsync()).CreateConsumerAsync(queue, selector: "phase = 'never'");
        var consumer = await session.CreateConsumerAsync(queue);

        await producer.SendAsync(new TextMessage("rolled back"));
        await session.RollbackAsync();
        var kept = new TextMessage("committed");
        await producer.SendAsync(kept);
        Assert.Null(await consumer.ReceiveAsync(TimeSpan.FromMilliseconds(300)));
        await session.CommitAsync();

        var got = await ReceiveAsync(consumer);
        Assert.Equal("committed", Text(got));
        await session.RollbackAsync();
        var again = await ReceiveAsync(consumer);
        Assert.Equal(got.MessageId, again.MessageId);
        Assert.True(again.Redelivered);
        await session.CommitAsync();
        Assert.Null(await consumer.ReceiveAsync(TimeSpan.FromMilliseconds(300)));

        // Nothing is left on the queue for anyone else either.
        await session.CloseAsync();
        var check = await (await connection.CreateSessionAsync()).CreateConsumerAsync(queue);
        Assert.Null(await check.ReceiveAsync(TimeSpan.FromMilliseconds(500)));
        Assert.Null(await observer.ReceiveAsync(TimeSpan.Zero));
    }

    /// <summary>
    /// JMS: closing a consumer does not take its messages out of the session's open transaction. The commit
    /// after the close consumes what it received; a rollback gives it back, marked redelivered.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_consumer_closed_inside_a_transaction_keeps_its_messages_in_it(bool commit)
    {
        var queue = Queue("txclose." + commit);
        var connection = await ConnectAsync();
        var producer = await (await connection.CreateSessionAsync()).CreateProducerAsync(queue);
        for (int i = 0; i < 4; i++)
        {
            await producer.SendAsync(new TextMessage("m" + i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }
        var session = await connection.CreateSessionAsync(AcknowledgeMode.Transacted);
        var consumer = await session.CreateConsumerAsync(queue);
        Assert.Equal("m0", ((TextMessage)await ReceiveAsync(consumer)).Text);
        Assert.Equal("m1", ((TextMessage)await ReceiveAsync(consumer)).Text);
        await consumer.CloseAsync();
        Assert.Null(await consumer.ReceiveAsync(TimeSpan.Zero));
        if (commit)
        {
            await session.CommitAsync();
        }
        else
        {
            await session.RollbackAsync();
        }

        var other = await (await (await ConnectAsync()).CreateSessionAsync()).CreateConsumerAsync(queue);
        var rest = new List<(string Text, bool Redelivered)>();
        while (await other.ReceiveAsync(TimeSpan.FromSeconds(1)) is TextMessage m)
        {
            rest.Add((m.Text!, m.Redelivered));
        }
        if (commit)
        {
            Assert.Equal([("m2", false), ("m3", false)], rest);
        }
        else
        {
            Assert.Equal([("m0", true), ("m1", true), ("m2", false), ("m3", false)], rest);
        }
    }

    [Fact]
    public async Task A_transacted_consumer_holds_no_more_than_its_prefetch_after_each_commit()
    {
        var queue = Queue("txwindow");
        var connection = await ConnectAsync("jms.prefetchPolicy.queuePrefetch=10");
        var producer = await (await connection.CreateSessionAsync()).CreateProducerAsync(queue);
        for (int i = 0; i < 100; i++)
        {
            await producer.SendAsync(new TextMessage(i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }
        var session = await connection.CreateSessionAsync(AcknowledgeMode.Transacted);
        var consumer = await session.CreateConsumerAsync(queue);
        // Two batches, the second smaller than the first: 60 consumed, then the consumer idles.
        foreach (int batch in (int[])[40, 20])
        {
            for (int i = 0; i < batch; i++)
            {
                await ReceiveAsync(consumer);
            }
            await session.CommitAsync();
        }
        // Committed acks give their room back: the idle consumer keeps one window (10), the other 30 are free.
        // ActiveMQ, the reference, holds 10 too when the machine is quiet, but dispatches asynchronously to a window
        // that DELIVERED acks (every prefetch/2) widened before the commit lands: it was seen holding 13 under load
        // and 19 on a CI machine. What it must show is that the window does not grow with each batch (it would hold
        // all 40): it gets up to three windows.
        var other = await (await (await ConnectAsync()).CreateSessionAsync()).CreateConsumerAsync(queue);
        int free = 0;
        while (await other.ReceiveAsync(TimeSpan.FromSeconds(1)) is not null)
        {
            free++;
        }
        Assert.InRange(free, broker is ActiveMQClientBroker ? 10 : 30, 30);
        // Closing the idle consumer hands its prefetched messages over.
        await consumer.CloseAsync();
        int handedOver = 0;
        while (await other.ReceiveAsync(TimeSpan.FromSeconds(1)) is not null)
        {
            handedOver++;
        }
        Assert.Equal(40, free + handedOver);
    }

    [Fact]
    public async Task Request_reply_over_a_temporary_queue()
    {
        var requests = Queue("requests");
        var server = await ConnectAsync();
        var serverSession = await server.CreateSessionAsync();
        var serverConsumer = await serverSession.CreateConsumerAsync(requests);
        var replier = await serverSession.CreateProducerAsync();
        serverConsumer.SetMessageListener(async (request, ct) =>
        {
            var reply = new TextMessage("re: " + Text(request)) { CorrelationId = request.MessageId };
            await replier.SendAsync(request.ReplyTo!, reply, DeliveryMode.NonPersistent, cancellationToken: ct);
        });

        var client = await ConnectAsync();
        var session = await client.CreateSessionAsync();
        var temp = await session.CreateTemporaryQueueAsync();
        Assert.True(temp.IsTemporary);
        var replies = await session.CreateConsumerAsync(temp);
        var producer = await session.CreateProducerAsync(requests);
        for (int i = 0; i < 3; i++)
        {
            var request = new TextMessage("q" + i) { ReplyTo = temp };
            await producer.SendAsync(request);
            var reply = await ReceiveAsync(replies);
            Assert.Equal("re: q" + i, Text(reply));
            Assert.Equal(request.MessageId, reply.CorrelationId);
        }
        await replies.CloseAsync();
        await temp.DeleteAsync();
        var topic = await session.CreateTemporaryTopicAsync();
        Assert.True(topic.IsTopic);
        await topic.DeleteAsync();
    }

    protected async Task DurableSubscriptionAsync()
    {
        var topic = Topic("durable");
        string clientId = _prefix + "durable-client";
        var connection = await ConnectAsync("jms.clientID=" + clientId);
        var session = await connection.CreateSessionAsync();
        var subscriber = await session.CreateDurableConsumerAsync(topic, "sub1", selector: "color = 'red'");
        Assert.Equal("sub1", subscriber.SubscriptionName);
        await subscriber.CloseAsync();

        var publisher = await ConnectAsync();
        var producer = await (await publisher.CreateSessionAsync()).CreateProducerAsync(topic);
        await producer.SendAsync(new TextMessage("blue") { Properties = { ["color"] = "blue" } });
        await producer.SendAsync(new TextMessage("red") { Properties = { ["color"] = "red" } });

        subscriber = await session.CreateDurableConsumerAsync(topic, "sub1", selector: "color = 'red'");
        Assert.Equal("red", Text(await ReceiveAsync(subscriber)));
        Assert.Null(await subscriber.ReceiveAsync(TimeSpan.FromMilliseconds(300)));
        await Assert.ThrowsAsync<MessagingException>(() => session.UnsubscribeAsync("sub1"));
        await subscriber.CloseAsync();
        await session.UnsubscribeAsync("sub1");
    }

    [Fact]
    public async Task Selectors_filter_what_a_consumer_gets()
    {
        var queue = Queue("selector");
        var connection = await ConnectAsync();
        var session = await connection.CreateSessionAsync();
        var red = await session.CreateConsumerAsync(queue, "color = 'red' AND weight > 5");
        var producer = await session.CreateProducerAsync(queue);
        foreach (var (color, weight) in new[] { ("red", 10), ("blue", 10), ("red", 1), ("red", 7) })
        {
            var m = new TextMessage($"{color}/{weight}");
            m.Properties["color"] = color;
            m.Properties["weight"] = weight;
            await producer.SendAsync(m);
        }
        Assert.Equal("red/10", Text(await ReceiveAsync(red)));
        Assert.Equal("red/7", Text(await ReceiveAsync(red)));
        Assert.Null(await red.ReceiveAsync(TimeSpan.FromMilliseconds(300)));
        await Assert.ThrowsAsync<MessagingException>(() => session.CreateConsumerAsync(queue, "color = = 'x'"));
    }

    [Fact]
    public async Task Messages_can_be_read_as_an_async_stream()
    {
        var queue = Queue("stream");
        var connection = await ConnectAsync();
        var session = await connection.CreateSessionAsync();
        var producer = await session.CreateProducerAsync(queue);
        for (int i = 0; i < 10; i++)
        {
            await producer.SendAsync(new TextMessage("s" + i), DeliveryMode.NonPersistent);
        }
        var consumer = await session.CreateConsumerAsync(queue);
        using var cts = new CancellationTokenSource(Wait);
        var texts = new List<string>();
        await foreach (var message in consumer.ReadAllAsync(cts.Token))
        {
            texts.Add(Text(message));
            if (texts.Count == 10)
            {
                break;
            }
        }
        Assert.Equal(Enumerable.Range(0, 10).Select(i => "s" + i), texts);
    }

    [Fact]
    public async Task A_listener_gets_every_message_and_a_throwing_listener_gets_it_again()
    {
        var queue = Queue("listener");
        var connection = await ConnectAsync();
        var session = await connection.CreateSessionAsync();
        var consumer = await session.CreateConsumerAsync(queue);
        var received = new ConcurrentQueue<Message>();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int calls = 0;
        consumer.SetMessageListener((message, _) =>
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                throw new InvalidOperationException("first delivery fails");
            }
            received.Enqueue(message);
            if (received.Count == 5)
            {
                done.TrySetResult();
            }
            return ValueTask.CompletedTask;
        });
        var producer = await session.CreateProducerAsync(queue);
        for (int i = 0; i < 5; i++)
        {
            await producer.SendAsync(new TextMessage("l" + i));
        }
        await done.Task.WaitAsync(Wait);
        var list = received.ToList();
        Assert.Equal(Enumerable.Range(0, 5).Select(i => "l" + i), list.Select(Text));
        Assert.True(list[0].Redelivered);
        Assert.False(list[1].Redelivered);
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await consumer.ReceiveAsync());
        await consumer.CloseAsync();
        var check = await session.CreateConsumerAsync(queue);
        Assert.Null(await check.ReceiveAsync(TimeSpan.FromMilliseconds(300)));
    }

    [Fact]
    public async Task Async_sends_with_a_producer_window_all_arrive()
    {
        var queue = Queue("window");
        var connection = await ConnectAsync("jms.useAsyncSend=true&jms.producerWindowSize=4096");
        var session = await connection.CreateSessionAsync();
        var producer = await session.CreateProducerAsync(queue);
        for (int i = 0; i < 50; i++)
        {
            await producer.SendAsync(new BytesMessage(new byte[512]));
        }
        var consumer = await session.CreateConsumerAsync(queue);
        for (int i = 0; i < 50; i++)
        {
            Assert.Equal(512, Assert.IsType<BytesMessage>(await ReceiveAsync(consumer)).Body.Length);
        }
    }
}

using Ferry.Broker;
using Ferry.Protocol.OpenWire;
using Ferry.Protocol.OpenWire.Commands;
using Ferry.Store.Memory;
using Ferry.TestKit;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Ferry.Tests.Engine;

/// <summary>Persistence, transactions, durable subscriptions, duplicates and flow control in the engine.</summary>
public sealed class StoreSemanticsTests
{
    private static readonly TimeSpan Short = TimeSpan.FromMilliseconds(300);

    [Fact]
    public async Task Persistent_message_is_stored_until_acknowledged()
    {
        await using var engine = new EngineFixture();
        var client = await engine.ConnectAsync();
        var queue = Destination.Queue("stored");
        var producer = await client.AddProducerAsync(queue);
        await client.SendTextAsync(producer, queue, "keep me", persistent: true);
        await client.SendTextAsync(producer, queue, "not me", persistent: false);
        Assert.Equal(1, engine.Store.MessageCount);
        await client.SubscribeAsync(queue);
        var dispatch = await client.ReceiveAsync();
        client.Ack(dispatch);
        await WaitFor.ConditionAsync(() => engine.Store.MessageCount == 0, TimeSpan.FromSeconds(5), "store removal after ack");
    }

    [Fact]
    public async Task A_resent_message_with_the_same_producer_sequence_is_delivered_once()
    {
        await using var engine = new EngineFixture();
        var client = await engine.ConnectAsync();
        var queue = Destination.Queue("dedupe");
        var producer = await client.AddProducerAsync(queue);
        var original = OpenWireTestClient.TextMessage(producer, 1, queue, "once");
        original.Persistent = true;
        OpenWireTestClient.EnsureOk(await client.RequestAsync(original));
        var resend = OpenWireTestClient.TextMessage(producer, 1, queue, "once");
        resend.Persistent = true;
        OpenWireTestClient.EnsureOk(await client.RequestAsync(resend));
        await client.SubscribeAsync(queue);
        await client.ReceiveAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.ReceiveAsync(Short));
        Assert.Equal(1, engine.Store.MessageCount);
    }

    [Fact]
    public async Task Transacted_sends_appear_only_on_commit_and_vanish_on_rollback()
    {
        await using var engine = new EngineFixture();
        var client = await engine.ConnectAsync();
        var queue = Destination.Queue("tx-send");
        var producer = await client.AddProducerAsync(queue);
        await client.SubscribeAsync(queue);

        var tx1 = new LocalTransactionId(client.ConnectionId, 1);
        client.Send(new TransactionInfo { ConnectionId = client.ConnectionId, TransactionId = tx1, Type = (byte)TransactionType.Begin });
        var rolledBack = OpenWireTestClient.TextMessage(producer, 1, queue, "rolled back");
        rolledBack.TransactionId = tx1;
        client.Send(rolledBack);
        OpenWireTestClient.EnsureOk(await client.RequestAsync(new TransactionInfo { ConnectionId = client.ConnectionId, TransactionId = tx1, Type = (byte)TransactionType.Rollback }));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.ReceiveAsync(Short));

        var tx2 = new LocalTransactionId(client.ConnectionId, 2);
        client.Send(new TransactionInfo { ConnectionId = client.ConnectionId, TransactionId = tx2, Type = (byte)TransactionType.Begin });
        var committed = OpenWireTestClient.TextMessage(producer, 2, queue, "committed");
        committed.TransactionId = tx2;
        committed.Persistent = true;
        client.Send(committed);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.ReceiveAsync(Short));
        OpenWireTestClient.EnsureOk(await client.RequestAsync(new TransactionInfo { ConnectionId = client.ConnectionId, TransactionId = tx2, Type = (byte)TransactionType.CommitOnePhase }));
        var received = await client.ReceiveAsync();
        Assert.Equal("committed", OpenWireTestClient.TextOf(received.Message!));
        Assert.Null(received.Message!.TransactionId);
    }

    [Fact]
    public async Task Transacted_ack_removes_the_message_only_on_commit()
    {
        await using var engine = new EngineFixture();
        var client = await engine.ConnectAsync();
        var queue = Destination.Queue("tx-ack");
        var producer = await client.AddProducerAsync(queue);
        await client.SendTextAsync(producer, queue, "work", persistent: true);
        await client.SubscribeAsync(queue, prefetch: 1);
        var dispatch = await client.ReceiveAsync();

        var tx = new LocalTransactionId(client.ConnectionId, 1);
        client.Send(new TransactionInfo { ConnectionId = client.ConnectionId, TransactionId = tx, Type = (byte)TransactionType.Begin });
        client.Send(new MessageAck
        {
            AckType = AckType.Standard, ConsumerId = dispatch.ConsumerId, Destination = queue, TransactionId = tx,
            FirstMessageId = dispatch.Message!.MessageId, LastMessageId = dispatch.Message.MessageId, MessageCount = 1,
        });
        OpenWireTestClient.EnsureOk(await client.RequestAsync(new TransactionInfo { ConnectionId = client.ConnectionId, TransactionId = tx, Type = (byte)TransactionType.Rollback }));
        Assert.Equal(1, engine.Store.MessageCount);

        var tx2 = new LocalTransactionId(client.ConnectionId, 2);
        client.Send(new TransactionInfo { ConnectionId = client.ConnectionId, TransactionId = tx2, Type = (byte)TransactionType.Begin });
        client.Send(new MessageAck
        {
            AckType = AckType.Standard, ConsumerId = dispatch.ConsumerId, Destination = queue, TransactionId = tx2,
            FirstMessageId = dispatch.Message.MessageId, LastMessageId = dispatch.Message.MessageId, MessageCount = 1,
        });
        OpenWireTestClient.EnsureOk(await client.RequestAsync(new TransactionInfo { ConnectionId = client.ConnectionId, TransactionId = tx2, Type = (byte)TransactionType.CommitOnePhase }));
        Assert.Equal(0, engine.Store.MessageCount);
        Assert.Equal(0, engine.Broker.Destinations.FindQueue("tx-ack")!.PendingCount);
    }

    [Fact]
    public async Task Durable_subscription_keeps_messages_while_offline_and_after_a_restart()
    {
        var store = new MemoryPersistenceAdapter();
        var topic = Destination.Topic("durable.engine");
        var options = new BrokerOptions { BrokerName = "durable" };
        options.TransportConnectors.Add(new TransportConnectorOptions());
        await using (var engine = new EngineFixture(store: store))
        {
            var subscriber = await engine.ConnectAsync(clientId: "dur");
            var consumer = new ConsumerId(subscriber.ConnectionId.Value!, 1, 1);
            OpenWireTestClient.EnsureOk(await subscriber.RequestAsync(new ConsumerInfo { ConsumerId = consumer, Destination = topic, SubscriptionName = "s", PrefetchSize = 100 }));
            subscriber.Send(new RemoveInfo { ObjectId = consumer, LastDeliveredSequenceId = -1 });
            var publisher = await engine.ConnectAsync();
            var producer = await publisher.AddProducerAsync(topic);
            await publisher.SendTextAsync(producer, topic, "while away", persistent: true);
            Assert.Equal(1, store.MessageCount);
        }

        await using var restarted = new EngineFixture(store: store);
        await restarted.Broker.RecoverAsync(CancellationToken.None);
        var back = await restarted.ConnectAsync(clientId: "dur");
        OpenWireTestClient.EnsureOk(await back.RequestAsync(new ConsumerInfo
        {
            ConsumerId = new ConsumerId(back.ConnectionId.Value!, 1, 1), Destination = topic, SubscriptionName = "s", PrefetchSize = 100,
        }));
        var received = await back.ReceiveAsync();
        Assert.Equal("while away", OpenWireTestClient.TextOf(received.Message!));
        back.Ack(received);
        await WaitFor.ConditionAsync(() => store.MessageCount == 0, TimeSpan.FromSeconds(5), "durable ack removes the stored message");

        back.Send(new RemoveInfo { ObjectId = new ConsumerId(back.ConnectionId.Value!, 1, 1), LastDeliveredSequenceId = -1 });
        OpenWireTestClient.EnsureOk(await back.RequestAsync(new RemoveSubscriptionInfo { ConnectionId = back.ConnectionId, ClientId = "dur", SubscriptionName = "s" }));
        Assert.Null(restarted.Broker.Destinations.FindDurable("dur:s"));
    }

    [Fact]
    public async Task Second_consumer_on_an_active_durable_subscription_is_refused()
    {
        await using var engine = new EngineFixture();
        var topic = Destination.Topic("durable.busy");
        var a = await engine.ConnectAsync(clientId: "same");
        OpenWireTestClient.EnsureOk(await a.RequestAsync(new ConsumerInfo { ConsumerId = new ConsumerId(a.ConnectionId.Value!, 1, 1), Destination = topic, SubscriptionName = "s", PrefetchSize = 10 }));
        var again = await a.RequestAsync(new ConsumerInfo { ConsumerId = new ConsumerId(a.ConnectionId.Value!, 1, 2), Destination = topic, SubscriptionName = "s", PrefetchSize = 10 });
        var error = Assert.IsType<ExceptionResponse>(again);
        Assert.Contains("in use", error.Exception!.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sync_send_at_the_memory_limit_waits_then_fails_with_a_clear_error()
    {
        await using var engine = new EngineFixture(configure: o =>
        {
            o.DestinationMemoryLimit = 4096;
            o.SendFailIfNoSpaceAfterTimeout = 500;
        });
        var client = await engine.ConnectAsync();
        var queue = Destination.Queue("full");
        var producer = await client.AddProducerAsync(queue);
        // Each message counts 1024 + body bytes: four fill the 4 KiB limit.
        for (int i = 0; i < 4; i++)
        {
            await client.SendTextAsync(producer, queue, "m" + i);
        }
        var refused = await client.RequestAsync(OpenWireTestClient.TextMessage(producer, 99, queue, "one too many"), TimeSpan.FromSeconds(10));
        var error = Assert.IsType<ExceptionResponse>(refused);
        Assert.Equal(JmsErrors.ResourceAllocation, error.Exception!.ExceptionClass);
        Assert.Contains("sendFailIfNoSpaceAfterTimeout", error.Exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Blocked_send_completes_once_a_consumer_frees_memory()
    {
        await using var engine = new EngineFixture(configure: o =>
        {
            o.DestinationMemoryLimit = 4096;
            o.SendFailIfNoSpaceAfterTimeout = 30_000;
        });
        var producerClient = await engine.ConnectAsync();
        var queue = Destination.Queue("drain-me");
        var producer = await producerClient.AddProducerAsync(queue);
        for (int i = 0; i < 4; i++)
        {
            await producerClient.SendTextAsync(producer, queue, "m" + i);
        }
        var blocked = producerClient.RequestAsync(OpenWireTestClient.TextMessage(producer, 50, queue, "waits"), TimeSpan.FromSeconds(20));
        await Task.Delay(200);
        Assert.False(blocked.IsCompleted);

        var consumer = await engine.ConnectAsync();
        await consumer.SubscribeAsync(queue);
        for (int i = 0; i < 5; i++)
        {
            consumer.Ack(await consumer.ReceiveAsync());
        }
        OpenWireTestClient.EnsureOk(await blocked);
    }

    [Fact]
    public async Task Higher_priority_messages_are_dispatched_first()
    {
        await using var engine = new EngineFixture();
        var client = await engine.ConnectAsync();
        var queue = Destination.Queue("priority");
        var producer = await client.AddProducerAsync(queue);
        long seq = 0;
        foreach (var (text, priority) in new[] { ("low", (byte)1), ("high", (byte)9), ("normal", (byte)4) })
        {
            var m = OpenWireTestClient.TextMessage(producer, ++seq, queue, text);
            m.Priority = priority;
            OpenWireTestClient.EnsureOk(await client.RequestAsync(m));
        }
        await client.SubscribeAsync(queue);
        var order = new List<string>();
        for (int i = 0; i < 3; i++)
        {
            order.Add(OpenWireTestClient.TextOf((await client.ReceiveAsync()).Message!));
        }
        Assert.Equal(["high", "normal", "low"], order);
    }

    [Fact]
    public async Task Expired_persistent_message_goes_to_the_dead_letter_queue_not_the_consumer()
    {
        // The broker's clock, not the wall clock: the message must reach the queue unexpired and expire only
        // afterwards, however slowly the test host runs (this is expiry in the queue; arrival is the next test).
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var engine = new EngineFixture(time);
        var client = await engine.ConnectAsync();
        var queue = Destination.Queue("expires");
        var producer = await client.AddProducerAsync(queue);
        var m = OpenWireTestClient.TextMessage(producer, 1, queue, "stale");
        m.Persistent = true;
        m.Expiration = time.GetUtcNow().ToUnixTimeMilliseconds() + 100;
        OpenWireTestClient.EnsureOk(await client.RequestAsync(m));
        time.Advance(TimeSpan.FromMilliseconds(250));
        await client.SubscribeAsync(queue);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.ReceiveAsync(Short));
        await client.SubscribeAsync(Destination.Queue("ActiveMQ.DLQ"), consumerValue: 2);
        var dead = await client.ReceiveAsync();
        Assert.Equal("stale", OpenWireTestClient.TextOf(dead.Message!));
        Assert.Equal(0, dead.Message!.Expiration);
    }

    [Fact]
    public async Task A_message_that_arrives_expired_is_dead_lettered_when_persistent_and_dropped_otherwise()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var engine = new EngineFixture(time);
        var client = await engine.ConnectAsync();
        var queue = Destination.Queue("late");
        var producer = await client.AddProducerAsync(queue);
        long past = time.GetUtcNow().ToUnixTimeMilliseconds() - 1; // held up past its time to live on the way
        var persistent = OpenWireTestClient.TextMessage(producer, 1, queue, "late persistent");
        persistent.Persistent = true;
        persistent.Expiration = past;
        OpenWireTestClient.EnsureOk(await client.RequestAsync(persistent));
        var nonPersistent = OpenWireTestClient.TextMessage(producer, 2, queue, "late non-persistent");
        nonPersistent.Persistent = false;
        nonPersistent.Expiration = past;
        OpenWireTestClient.EnsureOk(await client.RequestAsync(nonPersistent));

        await client.SubscribeAsync(queue);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.ReceiveAsync(Short));
        await client.SubscribeAsync(Destination.Queue("ActiveMQ.DLQ"), consumerValue: 2);
        var dead = await client.ReceiveAsync();
        Assert.Equal("late persistent", OpenWireTestClient.TextOf(dead.Message!));
        Assert.Equal(queue, dead.Message!.OriginalDestination);
        Assert.Equal(0, dead.Message.Expiration);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.ReceiveAsync(Short)); // the non-persistent one is gone
    }

    [Fact]
    public async Task An_expired_resend_of_a_message_accepted_before_is_a_duplicate_not_a_dead_letter()
    {
        // A failover client resends what it did not see answered; by then the message may have expired.
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var engine = new EngineFixture(time);
        var client = await engine.ConnectAsync();
        var queue = Destination.Queue("resent");
        var producer = await client.AddProducerAsync(queue);
        var original = OpenWireTestClient.TextMessage(producer, 1, queue, "once");
        original.Persistent = true;
        original.Expiration = time.GetUtcNow().ToUnixTimeMilliseconds() + 1000;
        OpenWireTestClient.EnsureOk(await client.RequestAsync(original));
        time.Advance(TimeSpan.FromSeconds(2));
        var resend = OpenWireTestClient.TextMessage(producer, 1, queue, "once");
        resend.Persistent = true;
        resend.Expiration = original.Expiration;
        OpenWireTestClient.EnsureOk(await client.RequestAsync(resend));

        // The original expires in the queue and goes to the DLQ once; the resend adds nothing.
        await client.SubscribeAsync(queue);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.ReceiveAsync(Short));
        await client.SubscribeAsync(Destination.Queue("ActiveMQ.DLQ"), consumerValue: 2);
        Assert.Equal("once", OpenWireTestClient.TextOf((await client.ReceiveAsync()).Message!));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.ReceiveAsync(Short));
    }

    [Fact]
    public async Task Bad_selector_is_refused_with_InvalidSelectorException()
    {
        await using var engine = new EngineFixture();
        var client = await engine.ConnectAsync();
        var response = await client.RequestAsync(new ConsumerInfo
        {
            ConsumerId = new ConsumerId(client.ConnectionId.Value!, 1, 1), Destination = Destination.Queue("sel"), Selector = "color = = 'red'", PrefetchSize = 1,
        });
        Assert.Equal(JmsErrors.InvalidSelector, Assert.IsType<ExceptionResponse>(response).Exception!.ExceptionClass);
    }
}

using Ferry.Client;
using Ferry.Protocol.OpenWire.Commands;
using ClientMessage = Ferry.Client.Message;
using Queue = Ferry.Client.Queue;
using Destination = Ferry.Client.Destination;

namespace Ferry.Tests.Client;

/// <summary>What the client puts on the wire, against an in-process broker: the Java client's command sequences.</summary>
public class ClientConversationTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private static Queue NewQueue() => new("client.conv." + Guid.NewGuid().ToString("N"));

    private static async Task SendTextsAsync(Connection connection, Destination destination, int count, DeliveryMode mode = DeliveryMode.NonPersistent)
    {
        await using var session = await connection.CreateSessionAsync(AcknowledgeMode.Auto);
        await using var producer = await session.CreateProducerAsync(destination);
        for (int i = 1; i <= count; i++)
        {
            await producer.SendAsync(new TextMessage("m" + i), mode);
        }
    }

    private static async Task<ClientMessage> ReceiveAsync(MessageConsumer consumer) =>
        await consumer.ReceiveAsync(Wait) ?? throw new TimeoutException("no message");

    [Fact]
    public async Task Connect_and_close_send_the_java_sequence()
    {
        await using var broker = await ClientBrokerFixture.StartAsync();
        var connection = await broker.Factory("jms.clientID=conv-basic").CreateConnectionAsync();
        Assert.Equal("conv-basic", connection.ClientId);
        Assert.Equal("client-test", connection.BrokerName);
        var session = await connection.CreateSessionAsync();
        var queue = NewQueue();
        var producer = await session.CreateProducerAsync(queue);
        await producer.SendAsync(new TextMessage("x"), DeliveryMode.NonPersistent);
        await producer.SendAsync(new TextMessage("y"));
        await connection.DisposeAsync();

        var sent = broker.Transports[0].Sent;
        var info = Assert.IsType<ConnectionInfo>(sent[0]);
        Assert.True(info.ResponseRequired);
        Assert.Equal("conv-basic", info.ClientId);
        Assert.True(info.Manageable);
        Assert.IsType<SessionInfo>(sent[1]);
        Assert.False(sent[1].ResponseRequired);
        Assert.True(Assert.IsType<ProducerInfo>(sent[2]).ResponseRequired);
        var nonPersistent = Assert.IsAssignableFrom<Protocol.OpenWire.Commands.Message>(sent[3]);
        Assert.False(nonPersistent.ResponseRequired);
        Assert.False(nonPersistent.Persistent);
        var persistent = Assert.IsAssignableFrom<Protocol.OpenWire.Commands.Message>(sent[4]);
        Assert.True(persistent.ResponseRequired);
        Assert.Equal(2, persistent.MessageId!.ProducerSequenceId);
        var tail = sent.Skip(5).ToList();
        Assert.Equal(4, tail.Count);
        Assert.IsType<ProducerId>(Assert.IsType<RemoveInfo>(tail[0]).ObjectId);
        Assert.IsType<SessionId>(Assert.IsType<RemoveInfo>(tail[1]).ObjectId);
        var removeConnection = Assert.IsType<RemoveInfo>(tail[2]);
        Assert.IsType<ConnectionId>(removeConnection.ObjectId);
        Assert.True(removeConnection.ResponseRequired);
        Assert.IsType<ShutdownInfo>(tail[3]);
    }

    [Fact]
    public async Task Auto_ack_sends_one_standard_ack_per_message()
    {
        await using var broker = await ClientBrokerFixture.StartAsync();
        await using var connection = await broker.Factory().CreateConnectionAsync();
        await connection.StartAsync();
        var queue = NewQueue();
        await SendTextsAsync(connection, queue, 3);
        var session = await connection.CreateSessionAsync(AcknowledgeMode.Auto);
        var consumer = await session.CreateConsumerAsync(queue);
        for (int i = 1; i <= 3; i++)
        {
            Assert.Equal("m" + i, ((TextMessage)await ReceiveAsync(consumer)).Text);
        }
        var acks = broker.Transports[0].Acks.ToList();
        Assert.Equal(3, acks.Count);
        Assert.All(acks, a =>
        {
            Assert.Equal(AckType.Standard, a.AckType);
            Assert.Equal(1, a.MessageCount);
            Assert.Equal(a.FirstMessageId, a.LastMessageId);
            Assert.Null(a.TransactionId);
        });
        await consumer.CloseAsync();
        var remove = broker.Transports[0].Sent.OfType<RemoveInfo>().Single(r => r.ObjectId is ConsumerId);
        Assert.True(remove.LastDeliveredSequenceId > 0);
    }

    [Fact]
    public async Task Client_ack_sends_delivered_acks_then_one_standard_range()
    {
        await using var broker = await ClientBrokerFixture.StartAsync();
        await using var connection = await broker.Factory("jms.prefetchPolicy.all=3").CreateConnectionAsync();
        await connection.StartAsync();
        var queue = NewQueue();
        await SendTextsAsync(connection, queue, 5);
        var session = await connection.CreateSessionAsync(AcknowledgeMode.Client);
        var consumer = await session.CreateConsumerAsync(queue);
        var received = new List<ClientMessage>();
        for (int i = 0; i < 5; i++)
        {
            received.Add(await ReceiveAsync(consumer));
        }
        await received[^1].AcknowledgeAsync();
        var acks = broker.Transports[0].Acks.ToList();
        Assert.Equal([AckType.Delivered, AckType.Delivered, AckType.Standard], acks.Select(a => a.AckType));
        Assert.All(acks.Take(2), a => Assert.Equal(2, a.MessageCount));
        var standard = acks[^1];
        Assert.Equal(5, standard.MessageCount);
        Assert.Equal(received[0].MessageId, standard.FirstMessageId!.ToString());
        Assert.Equal(received[4].MessageId, standard.LastMessageId!.ToString());
        // The queue is empty afterwards: a new consumer gets nothing.
        await consumer.CloseAsync();
        var again = await session.CreateConsumerAsync(queue);
        Assert.Null(await again.ReceiveAsync(TimeSpan.FromMilliseconds(300)));
    }

    [Fact]
    public async Task Individual_ack_acks_only_that_message()
    {
        await using var broker = await ClientBrokerFixture.StartAsync();
        await using var connection = await broker.Factory().CreateConnectionAsync();
        await connection.StartAsync();
        var queue = NewQueue();
        await SendTextsAsync(connection, queue, 2);
        var session = await connection.CreateSessionAsync(AcknowledgeMode.Individual);
        var consumer = await session.CreateConsumerAsync(queue);
        var first = await ReceiveAsync(consumer);
        var second = await ReceiveAsync(consumer);
        await second.AcknowledgeAsync();
        var ack = Assert.Single(broker.Transports[0].Acks);
        Assert.Equal(AckType.Individual, ack.AckType);
        Assert.Equal(second.MessageId, ack.LastMessageId!.ToString());
        Assert.Equal(1, ack.MessageCount);
        // The unacknowledged first message comes back to the next consumer. As with ActiveMQ, it is not
        // counted as redelivered: the last message the application saw (the second) was acknowledged.
        await consumer.CloseAsync();
        var again = await session.CreateConsumerAsync(queue);
        var back = await ReceiveAsync(again);
        Assert.Equal(first.MessageId, back.MessageId);
        Assert.False(back.Redelivered);
        await back.AcknowledgeAsync();
    }

    [Fact]
    public async Task Transacted_session_acks_with_the_transaction_then_commits()
    {
        await using var broker = await ClientBrokerFixture.StartAsync();
        await using var connection = await broker.Factory().CreateConnectionAsync();
        await connection.StartAsync();
        var queue = NewQueue();
        var session = await connection.CreateSessionAsync(AcknowledgeMode.Transacted);
        var producer = await session.CreateProducerAsync(queue);
        await producer.SendAsync(new TextMessage("t1"));
        var consumer = await session.CreateConsumerAsync(queue);
        Assert.Null(await consumer.ReceiveAsync(TimeSpan.FromMilliseconds(200)));
        await session.CommitAsync();
        var received = await ReceiveAsync(consumer);
        await session.CommitAsync();

        var sent = broker.Transports[0].Sent;
        var begins = sent.OfType<TransactionInfo>().Where(t => t.Kind == TransactionType.Begin).ToList();
        var commits = sent.OfType<TransactionInfo>().Where(t => t.Kind == TransactionType.CommitOnePhase).ToList();
        Assert.Equal(2, begins.Count);
        Assert.Equal(2, commits.Count);
        Assert.All(commits, c => Assert.True(c.ResponseRequired));
        var send = sent.OfType<Protocol.OpenWire.Commands.Message>().Single();
        Assert.False(send.ResponseRequired);
        Assert.Equal(begins[0].TransactionId, send.TransactionId);
        var standard = sent.OfType<MessageAck>().Single(a => a.AckType == AckType.Standard);
        Assert.Equal(begins[1].TransactionId, standard.TransactionId);
        Assert.True(sent.ToList().IndexOf(standard) < sent.ToList().IndexOf(commits[1]));
        Assert.Equal(received.MessageId, standard.LastMessageId!.ToString());
    }

    [Fact]
    public async Task Rollback_redelivers_locally_and_poisons_past_the_limit()
    {
        await using var broker = await ClientBrokerFixture.StartAsync();
        await using var connection = await broker.Factory("jms.redeliveryPolicy.maximumRedeliveries=2").CreateConnectionAsync();
        await connection.StartAsync();
        var queue = NewQueue();
        await SendTextsAsync(connection, queue, 1, DeliveryMode.Persistent);
        var session = await connection.CreateSessionAsync(AcknowledgeMode.Transacted);
        var consumer = await session.CreateConsumerAsync(queue);
        for (int attempt = 0; attempt <= 2; attempt++)
        {
            var message = await ReceiveAsync(consumer);
            Assert.Equal(attempt > 0, message.Redelivered);
            Assert.Equal(attempt + 1, message.DeliveryCount);
            await session.RollbackAsync();
        }
        Assert.Null(await consumer.ReceiveAsync(TimeSpan.FromMilliseconds(300)));
        var acks = broker.Transports[0].Acks.ToList();
        Assert.Contains(acks, a => a.AckType == AckType.Redelivered);
        var poison = Assert.Single(acks, a => a.AckType == AckType.Poison);
        Assert.Null(poison.TransactionId);
        Assert.All(broker.Transports[0].Sent.OfType<TransactionInfo>().Where(t => t.Kind == TransactionType.Rollback), r => Assert.True(r.ResponseRequired));

        // The broker moved it to the dead-letter queue.
        var dlqSession = await connection.CreateSessionAsync();
        var dlq = await dlqSession.CreateConsumerAsync(new Queue("ActiveMQ.DLQ"));
        Assert.Equal("m1", ((TextMessage)await ReceiveAsync(dlq)).Text);
    }

    [Fact]
    public async Task Recover_in_client_mode_redelivers_marked_redelivered()
    {
        await using var broker = await ClientBrokerFixture.StartAsync();
        await using var connection = await broker.Factory().CreateConnectionAsync();
        await connection.StartAsync();
        var queue = NewQueue();
        await SendTextsAsync(connection, queue, 2);
        var session = await connection.CreateSessionAsync(AcknowledgeMode.Client);
        var consumer = await session.CreateConsumerAsync(queue);
        var a = await ReceiveAsync(consumer);
        await ReceiveAsync(consumer);
        await session.RecoverAsync();
        var again = await ReceiveAsync(consumer);
        Assert.Equal(a.MessageId, again.MessageId);
        Assert.True(again.Redelivered);
        Assert.Equal(2, again.DeliveryCount);
        Assert.True((await ReceiveAsync(consumer)).Redelivered);
        await again.AcknowledgeAsync();
        Assert.Equal(2, broker.Transports[0].Acks.Single(x => x.AckType == AckType.Standard).MessageCount);
    }

    [Fact]
    public async Task Producer_window_is_released_by_producer_acks()
    {
        await using var broker = await ClientBrokerFixture.StartAsync();
        await using var connection = await broker.Factory("jms.producerWindowSize=3000&jms.sendTimeout=0&jms.requestTimeout=5000").CreateConnectionAsync();
        var queue = NewQueue();
        var session = await connection.CreateSessionAsync();
        var producer = await session.CreateProducerAsync(queue);
        for (int i = 0; i < 20; i++)
        {
            await producer.SendAsync(new TextMessage("w" + i), DeliveryMode.NonPersistent);
        }
        var info = broker.Transports[0].Sent.OfType<ProducerInfo>().Single();
        Assert.Equal(3000, info.WindowSize);
        await connection.StartAsync();
        var consumer = await session.CreateConsumerAsync(queue);
        for (int i = 0; i < 20; i++)
        {
            Assert.Equal("w" + i, ((TextMessage)await ReceiveAsync(consumer)).Text);
        }
    }

    [Fact]
    public async Task Prefetch_zero_pulls_and_a_timed_receive_on_an_empty_queue_returns_null()
    {
        await using var broker = await ClientBrokerFixture.StartAsync();
        await using var connection = await broker.Factory("jms.prefetchPolicy.queuePrefetch=0").CreateConnectionAsync();
        await connection.StartAsync();
        var queue = NewQueue();
        var session = await connection.CreateSessionAsync();
        var consumer = await session.CreateConsumerAsync(queue);
        Assert.Null(await consumer.ReceiveAsync(TimeSpan.FromMilliseconds(200)));
        await SendTextsAsync(connection, queue, 1);
        Assert.Equal("m1", ((TextMessage)await ReceiveAsync(consumer)).Text);
        Assert.Contains(broker.Transports[0].Sent, c => c is MessagePull);
    }

    [Fact]
    public async Task Messages_wait_until_the_connection_is_started()
    {
        await using var broker = await ClientBrokerFixture.StartAsync();
        await using var connection = await broker.Factory().CreateConnectionAsync();
        var queue = NewQueue();
        await SendTextsAsync(connection, queue, 1);
        var session = await connection.CreateSessionAsync();
        var consumer = await session.CreateConsumerAsync(queue);
        Assert.Null(await consumer.ReceiveAsync(TimeSpan.FromMilliseconds(300)));
        await connection.StartAsync();
        Assert.NotNull(await consumer.ReceiveAsync(Wait));
    }

    [Fact]
    public async Task A_dispatch_repeated_after_a_failover_never_reaches_the_application_twice()
    {
        await using var broker = await ClientBrokerFixture.StartAsync();
        await using var connection = await broker.Factory().CreateConnectionAsync();
        await connection.StartAsync();
        var queue = NewQueue();
        await SendTextsAsync(connection, queue, 2);
        var session = await connection.CreateSessionAsync(AcknowledgeMode.Client);
        var consumer = await session.CreateConsumerAsync(queue);
        var first = await ReceiveAsync(consumer);
        var transport = broker.Transports[0];
        var dispatches = transport.Received.OfType<MessageDispatch>().ToList();
        Assert.Equal(2, dispatches.Count);

        // Repeated while still held (delivered, unacknowledged): dropped silently.
        await transport.InjectAsync(dispatches[0]);
        Assert.Equal("m2", ((TextMessage)await ReceiveAsync(consumer)).Text);
        Assert.Null(await consumer.ReceiveAsync(TimeSpan.FromMilliseconds(200)));
        await first.AcknowledgeAsync();
        int acksBefore = transport.Acks.Count();

        // Repeated after it was acknowledged (the ack was lost with the link): acked again individually, not delivered.
        await transport.InjectAsync(dispatches[1]);
        Assert.Null(await consumer.ReceiveAsync(TimeSpan.FromMilliseconds(200)));
        var ack = transport.Acks.Skip(acksBefore).Single();
        Assert.Equal(AckType.Individual, ack.AckType);
        Assert.Equal(dispatches[1].Message!.MessageId, ack.LastMessageId);
    }

    [Fact]
    public async Task A_duplicate_client_id_is_refused()
    {
        await using var broker = await ClientBrokerFixture.StartAsync();
        await using var first = await broker.Factory("jms.clientID=dup").CreateConnectionAsync();
        var error = await Assert.ThrowsAsync<MessagingException>(() => broker.Factory("jms.clientID=dup").CreateConnectionAsync());
        Assert.Equal("javax.jms.InvalidClientIDException", error.BrokerExceptionClass);
    }
}

/// <summary>The client over the failover transport (one broker): the same API, a fault-tolerant ConnectionInfo.</summary>
public class ClientFailoverSmokeTests
{
    [Fact]
    public async Task A_failover_uri_connects_and_marks_the_connection_fault_tolerant()
    {
        await using var broker = await ClientBrokerFixture.StartAsync();
        var factory = new ConnectionFactory($"failover:({broker.Uri})?maxReconnectAttempts=0&jms.clientID=fo");
        await using var connection = await factory.CreateConnectionAsync();
        await connection.StartAsync();
        var session = await connection.CreateSessionAsync();
        var queue = new Ferry.Client.Queue("client.failover.smoke");
        var producer = await session.CreateProducerAsync(queue);
        var consumer = await session.CreateConsumerAsync(queue);
        await producer.SendAsync(new TextMessage("via failover"));
        var message = await consumer.ReceiveAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("via failover", Assert.IsType<TextMessage>(message).Text);
    }
}

using System.Collections.Concurrent;
using System.Diagnostics;
using Ferry.Client;
using Ferry.TestKit;
using Xunit.Abstractions;
using static Ferry.IntegrationTests.ClientFailover.ClientFailoverTests;

namespace Ferry.IntegrationTests.ClientFailover;

/// <summary>
/// The failover options as an application using Ferry.Client sees them, against real <c>ferry broker</c>
/// processes: what its calls and events do when the transport gives up, times out or moves back.
/// </summary>
public sealed class ClientFailoverOptionsTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private static Ferry.Client.Queue NewQueue() => new("client.failover.options." + Guid.NewGuid().ToString("N"));

    [Fact]
    public async Task MaxReconnectAttempts_gives_up_raises_ExceptionThrown_and_fails_every_call()
    {
        await using var broker = await BrokerProcess.StartAsync();
        var factory = new ConnectionFactory($"failover:(tcp://127.0.0.1:{broker.Port})?maxReconnectAttempts=2&initialReconnectDelay=50&maxReconnectDelay=100");
        await using var connection = await factory.CreateConnectionAsync();
        var events = new ConnectionEvents(connection);
        await connection.StartAsync();
        var session = await connection.CreateSessionAsync();
        var queue = NewQueue();
        var producer = await session.CreateProducerAsync(queue);
        var consumer = await session.CreateConsumerAsync(queue);
        await producer.SendAsync(new TextMessage("before"));
        Assert.NotNull(await consumer.ReceiveAsync(Wait));

        // A receive waiting when the broker dies, and a send made during the outage, both fail once the transport gives up.
        var receiving = consumer.ReceiveAsync(Wait).AsTask();
        broker.Kill();
        await broker.WaitForExitAsync(TimeSpan.FromSeconds(10));
        await WaitFor.ConditionAsync(() => events.Interrupted >= 1, Wait, "Interrupted");
        var sending = producer.SendAsync(new TextMessage("during"));

        await WaitFor.ConditionAsync(() => !events.Exceptions.IsEmpty, Wait, "ExceptionThrown");
        var raised = Assert.Single(events.Exceptions);
        output.WriteLine($"ExceptionThrown: {raised.Message}");
        Assert.Contains("maxReconnectAttempts=2", raised.Message, StringComparison.Ordinal);

        var sendError = await Assert.ThrowsAsync<MessagingException>(() => sending.WaitAsync(Wait));
        output.WriteLine($"pending send: {sendError.Message}");
        var receiveError = await Assert.ThrowsAsync<MessagingException>(() => receiving.WaitAsync(Wait));
        output.WriteLine($"pending receive: {receiveError.Message}");
        await Assert.ThrowsAsync<MessagingException>(() => producer.SendAsync(new TextMessage("after")));
        await Assert.ThrowsAsync<MessagingException>(async () => await consumer.ReceiveAsync(TimeSpan.FromSeconds(1)));
        await Assert.ThrowsAsync<MessagingException>(() => connection.CreateSessionAsync());
        Assert.Equal(0, events.Resumed);
        // Closing a failed connection is quiet and quick.
        await connection.CloseAsync().WaitAsync(Wait);
    }

    [Fact]
    public async Task StartupMaxReconnectAttempts_fails_CreateConnectionAsync_when_no_broker_is_up()
    {
        var factory = new ConnectionFactory(
            $"failover:(tcp://127.0.0.1:{FreePort.Pick()},tcp://127.0.0.1:{FreePort.Pick()})?randomize=false&startupMaxReconnectAttempts=3&initialReconnectDelay=20&maxReconnectDelay=100");
        var clock = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<MessagingException>(() => factory.CreateConnectionAsync().WaitAsync(Wait));
        output.WriteLine($"after {clock.ElapsedMilliseconds} ms: {error.Message}");
        Assert.Contains("startupMaxReconnectAttempts=3", error.Message, StringComparison.Ordinal);
        Assert.Contains("3 attempt(s)", error.Message, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"gave up after {clock.Elapsed}");
    }

    [Fact]
    public async Task Timeout_fails_a_send_made_during_an_outage_and_the_connection_carries_on_after_it()
    {
        string data = Directory.CreateTempSubdirectory("ferry-client-failover-timeout-").FullName;
        BrokerProcess? broker = null;
        try
        {
            broker = await BrokerProcess.StartOnAsync(0, data);
            int port = broker.Port;
            var factory = new ConnectionFactory(FailoverUri(port, port, "&timeout=1000"));
            await using var connection = await factory.CreateConnectionAsync();
            var events = new ConnectionEvents(connection);
            await connection.StartAsync();
            var session = await connection.CreateSessionAsync();
            var queue = NewQueue();
            var producer = await session.CreateProducerAsync(queue);
            var consumer = await session.CreateConsumerAsync(queue);

            broker.Kill();
            await broker.WaitForExitAsync(TimeSpan.FromSeconds(10));
            await broker.DisposeAsync();
            broker = null;
            await WaitFor.ConditionAsync(() => events.Interrupted >= 1, Wait, "Interrupted");

            foreach (var mode in new[] { DeliveryMode.Persistent, DeliveryMode.NonPersistent })
            {
                var clock = Stopwatch.StartNew();
                var error = await Assert.ThrowsAsync<MessagingException>(() => producer.SendAsync(new TextMessage("lost"), mode).WaitAsync(Wait));
                output.WriteLine($"{mode} send failed after {clock.ElapsedMilliseconds} ms: {error.Message}");
                Assert.Contains("Failover timeout of 1000 ms", error.Message, StringComparison.Ordinal);
                Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(900), TimeSpan.FromSeconds(10));
            }
            Assert.True(events.Exceptions.IsEmpty, "a timed-out send does not fail the connection");

            // The broker comes back: the same connection, session, producer and consumer work again.
            broker = await BrokerProcess.StartOnAsync(port, data);
            await WaitFor.ConditionAsync(() => events.Resumed >= 1, Wait, "Resumed");
            await producer.SendAsync(new TextMessage("after"));
            var received = await consumer.ReceiveAsync(Wait);
            Assert.Equal("after", Assert.IsType<TextMessage>(received).Text);
            Assert.Null(await consumer.ReceiveAsync(TimeSpan.FromMilliseconds(300)));
            output.WriteLine(events.ToString());
        }
        finally
        {
            if (broker is not null)
            {
                await broker.DisposeAsync();
            }
            Directory.Delete(data, recursive: true);
        }
    }

    [Fact]
    public async Task PriorityBackup_moves_the_connection_back_to_the_priority_broker_once_it_is_up()
    {
        int priorityPort = FreePort.Pick();
        await using var backup = await BrokerProcess.StartAsync();
        var factory = new ConnectionFactory(FailoverUri(priorityPort, backup.Port, "&priorityBackup=true"));
        await using var connection = await factory.CreateConnectionAsync();
        var events = new ConnectionEvents(connection);
        var addresses = new ConcurrentQueue<string>();
        connection.Resumed += (_, e) => addresses.Enqueue(e.Address);
        await connection.StartAsync();
        var session = await connection.CreateSessionAsync();
        var queue = NewQueue();
        var producer = await session.CreateProducerAsync(queue);
        var consumer = await session.CreateConsumerAsync(queue);
        await producer.SendAsync(new TextMessage("on the backup"));
        Assert.Equal("on the backup", Assert.IsType<TextMessage>(await consumer.ReceiveAsync(Wait)).Text);

        string priorityData = Directory.CreateTempSubdirectory("ferry-client-priority-").FullName;
        var priority = await BrokerProcess.StartOnAsync(priorityPort, priorityData);
        try
        {
            var clock = Stopwatch.StartNew();
            await WaitFor.ConditionAsync(() => events.Resumed >= 1, Wait, "the move to the priority broker");
            output.WriteLine($"moved {clock.ElapsedMilliseconds} ms after the priority broker listened: {events}");
            Assert.Equal($"tcp://127.0.0.1:{priorityPort}", Assert.Single(addresses));
            Assert.True(events.Exceptions.IsEmpty, events.ToString());

            // The producer and the consumer were replayed on the priority broker: a message sent now is stored there.
            await producer.SendAsync(new TextMessage("on the priority broker"));
            Assert.Equal("on the priority broker", Assert.IsType<TextMessage>(await consumer.ReceiveAsync(Wait)).Text);
            await producer.SendAsync(new TextMessage("check"));
            await consumer.CloseAsync();
            await using var direct = await new ConnectionFactory($"tcp://127.0.0.1:{priorityPort}").CreateConnectionAsync();
            await direct.StartAsync();
            var directSession = await direct.CreateSessionAsync();
            var directConsumer = await directSession.CreateConsumerAsync(queue);
            Assert.Equal("check", Assert.IsType<TextMessage>(await directConsumer.ReceiveAsync(Wait)).Text);
            priority.AssertNoErrors();
            backup.AssertNoErrors();
        }
        finally
        {
            await priority.DisposeAsync();
            Directory.Delete(priorityData, recursive: true);
        }
    }
}

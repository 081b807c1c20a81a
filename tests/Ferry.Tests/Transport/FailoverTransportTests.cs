using Ferry.Protocol.OpenWire.Commands;
using Ferry.Protocol.Transport;
using Ferry.TestKit;

namespace Ferry.Tests.Transport;

/// <summary>The failover transport against real in-process brokers on loopback, driven with raw commands.</summary>
public sealed class FailoverTransportTests
{
    private const string Fast = "initialReconnectDelay=10&maxReconnectDelay=100";

    [Fact]
    public async Task When_the_first_broker_stops_it_reconnects_to_the_second_and_the_consumer_keeps_receiving()
    {
        await using var a = await FailoverTestBroker.StartAsync("a");
        await using var b = await FailoverTestBroker.StartAsync("b");
        await using var client = new FailoverTestClient($"failover:({a.Uri},{b.Uri})?randomize=false&{Fast}");
        await client.ConnectAsync();
        Assert.Equal(a.Uri, client.Transport.RemoteAddress);
        Assert.Equal("a", client.Transport.BrokerInfo?.BrokerName);
        var queue = Destination.Queue("failover.keeps-receiving");
        await client.SubscribeAsync(queue);
        var producer = await client.AddProducerAsync(queue);
        await client.SendTextAsync(producer, queue, "before");
        Assert.Equal("before", await client.ReceiveTextAsync());

        await a.StopAsync();
        await client.WaitForEventAsync("resumed");

        Assert.Equal(b.Uri, client.Transport.RemoteAddress);
        Assert.Equal("b", client.Transport.BrokerInfo?.BrokerName);
        Assert.Equal(["interrupted " + a.Uri, "resumed " + b.Uri], client.Events);
        // The producer and the consumer were replayed on b: a message sent there reaches the same consumer id.
        await client.SendTextAsync(producer, queue, "after");
        var dispatch = await client.ReceiveAsync();
        Assert.Equal("after", Ferry.TestKit.OpenWireTestClient.TextOf(dispatch.Message!));
        Assert.Equal(new ConsumerId(client.ConnectionId.Value!, 1, 1), dispatch.ConsumerId);
        Assert.Equal(1, b.Service.ConnectionCount);
    }

    [Fact]
    public async Task A_request_issued_during_the_outage_completes_after_the_broker_returns()
    {
        await using var broker = await FailoverTestBroker.StartAsync("restart");
        await using var client = new FailoverTestClient($"failover:({broker.Uri})?{Fast}");
        await client.ConnectAsync();
        var queue = Destination.Queue("failover.outage-request");
        await client.SubscribeAsync(queue);
        var producer = await client.AddProducerAsync(queue);

        await broker.StopAsync();
        await client.WaitForEventAsync("interrupted");
        Assert.False(client.Transport.IsConnected);
        var send = client.SendTextAsync(producer, queue, "sent during the outage", seconds: 30);
        Assert.False(send.IsCompleted);

        await broker.RestartAsync();
        await send.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal("sent during the outage", await client.ReceiveTextAsync());
        Assert.Equal(1, client.Count("resumed"));
    }

    [Fact]
    public async Task A_request_in_flight_when_the_link_drops_is_resent_with_the_same_ids_and_stored_once()
    {
        // A full destination parks sync sends, so the broker holds the request without answering it.
        await using var broker = await FailoverTestBroker.StartAsync("resend", o => o.DestinationMemoryLimit = 4096);
        await using var client = new FailoverTestClient($"failover:({broker.Uri})?{Fast}");
        await client.ConnectAsync();
        var queue = Destination.Queue("failover.resend");
        var producer = await client.AddProducerAsync(queue);
        var filler = client.Text(producer, queue, new string('x', 8192), persistent: false);
        FailoverTestClient.EnsureOk(await client.RequestAsync(filler));
        var message = client.Text(producer, queue, "in flight");
        var request = client.RequestAsync(message, seconds: 30);
        await WaitFor.ConditionAsync(() => message.CommandId != 0, TimeSpan.FromSeconds(5), "the send to go out");
        int commandId = message.CommandId;
        var messageId = message.MessageId;
        Assert.False(request.IsCompleted);

        // The non-persistent filler is gone after the restart, so the resent message fits.
        await broker.StopAsync();
        await broker.RestartAsync();
        FailoverTestClient.EnsureOk(await request);
        Assert.Equal(commandId, message.CommandId);
        Assert.Same(messageId, message.MessageId);

        // Resending the same message id again is dropped by the broker's producer audit.
        var duplicate = client.Text(producer, queue, "in flight");
        duplicate.MessageId = messageId;
        FailoverTestClient.EnsureOk(await client.RequestAsync(duplicate));
        await client.SubscribeAsync(queue);
        Assert.Equal("in flight", await client.ReceiveTextAsync());
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.ReceiveAsync(seconds: 0.5));
    }

    [Fact]
    public async Task A_link_dropped_on_the_client_side_comes_back_to_the_same_broker_with_its_state()
    {
        await using var broker = await FailoverTestBroker.StartAsync("client-drop");
        await using var client = new FailoverTestClient($"failover:({broker.Uri})?{Fast}");
        await client.ConnectAsync();
        var queue = Destination.Queue("failover.client-drop");
        await client.SubscribeAsync(queue);
        var producer = await client.AddProducerAsync(queue);

        for (int drop = 1; drop <= 3; drop++)
        {
            await client.Transport.DropLinkAsync();
            await client.WaitForEventAsync("resumed", count: drop);
            await client.SendTextAsync(producer, queue, $"after drop {drop}");
            Assert.Equal($"after drop {drop}", await client.ReceiveTextAsync());
        }
        Assert.Equal(3, client.Count("interrupted"));
        await WaitFor.ConditionAsync(() => broker.Service.ConnectionCount == 1, TimeSpan.FromSeconds(10), "one broker connection");
    }

    [Fact]
    public async Task When_max_reconnect_attempts_are_exhausted_it_fails_for_good_and_so_do_pending_calls()
    {
        var broker = await FailoverTestBroker.StartAsync("gives-up");
        await using var client = new FailoverTestClient($"failover:({broker.Uri})?maxReconnectAttempts=3&initialReconnectDelay=5&maxReconnectDelay=20");
        await client.ConnectAsync();
        var queue = Destination.Queue("failover.gives-up");
        var producer = await client.AddProducerAsync(queue);

        await broker.StopAsync();
        var pending = client.SendTextAsync(producer, queue, "never", seconds: 30);
        await client.WaitForEventAsync("failed");

        var error = await Assert.ThrowsAsync<TransportClosedException>(() => pending);
        Assert.Contains("3 attempt(s)", error.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<TransportClosedException>(async () => await client.Transport.SendAsync(new SessionInfo { SessionId = client.SessionId }, CancellationToken.None));
        Assert.Equal(1, client.Count("interrupted"));
        Assert.Equal(0, client.Count("resumed"));
    }

    [Fact]
    public async Task With_no_broker_start_fails_after_startup_max_reconnect_attempts()
    {
        int port = Ferry.TestKit.FreePort.Pick();
        var client = new FailoverTestClient($"failover:(tcp://127.0.0.1:{port})?startupMaxReconnectAttempts=4&initialReconnectDelay=1&maxReconnectDelay=5");
        await using (client)
        {
            int attempts = 0;
            client.Transport.ConnectAttemptObserver = _ => Interlocked.Increment(ref attempts);
            var error = await Assert.ThrowsAsync<TransportClosedException>(() => client.ConnectAsync());
            Assert.Contains("4 attempt(s)", error.Message, StringComparison.Ordinal);
            Assert.Equal(4, attempts);
            Assert.Equal(1, client.Count("failed"));
        }
    }

    [Fact]
    public async Task Start_is_bounded_by_the_caller_token_even_when_retrying_forever()
    {
        int port = Ferry.TestKit.FreePort.Pick();
        await using var transport = TransportFactory.Create($"failover:(tcp://127.0.0.1:{port})?initialReconnectDelay=5&maxReconnectDelay=20");
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => transport.StartAsync(cts.Token));
        await Assert.ThrowsAsync<TransportClosedException>(async () => await transport.SendAsync(new ShutdownInfo(), CancellationToken.None));
    }

    [Fact]
    public async Task With_a_timeout_a_send_during_an_outage_fails_with_the_failover_timeout()
    {
        await using var broker = await FailoverTestBroker.StartAsync("timeout");
        await using var client = new FailoverTestClient($"failover:({broker.Uri})?timeout=300&{Fast}");
        await client.ConnectAsync();
        var queue = Destination.Queue("failover.timeout");
        var producer = await client.AddProducerAsync(queue);

        await broker.StopAsync();
        await client.WaitForEventAsync("interrupted");
        var oneWay = client.Transport.SendAsync(client.Text(producer, queue, "async", persistent: false), CancellationToken.None).AsTask();
        var request = client.SendTextAsync(producer, queue, "sync");
        var error = await Assert.ThrowsAsync<FailoverTimeoutException>(() => request);
        Assert.IsAssignableFrom<TimeoutException>(error);
        Assert.Contains("300 ms", error.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<FailoverTimeoutException>(() => oneWay);

        // The transport itself keeps trying: when the broker is back, new sends work.
        await broker.RestartAsync();
        await client.WaitForEventAsync("resumed");
        await client.SendTextAsync(producer, queue, "after");
    }

    [Fact]
    public async Task A_callers_token_bounds_its_wait_during_an_outage()
    {
        await using var broker = await FailoverTestBroker.StartAsync("token");
        await using var client = new FailoverTestClient($"failover:({broker.Uri})?{Fast}");
        await client.ConnectAsync();
        var queue = Destination.Queue("failover.token");
        var producer = await client.AddProducerAsync(queue);
        await broker.StopAsync();
        await client.WaitForEventAsync("interrupted");
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.SendTextAsync(producer, queue, "cancelled", seconds: 0.2));

        // The abandoned send is not sent later.
        await broker.RestartAsync();
        await client.WaitForEventAsync("resumed");
        await client.SubscribeAsync(queue);
        await client.SendTextAsync(producer, queue, "kept");
        Assert.Equal("kept", await client.ReceiveTextAsync());
    }

    [Fact]
    public async Task Sends_waiting_for_the_link_go_out_in_call_order()
    {
        await using var broker = await FailoverTestBroker.StartAsync("order");
        await using var client = new FailoverTestClient($"failover:({broker.Uri})?{Fast}");
        await client.ConnectAsync();
        var queue = Destination.Queue("failover.order");
        await client.SubscribeAsync(queue);
        var producer = await client.AddProducerAsync(queue);
        await broker.StopAsync();
        await client.WaitForEventAsync("interrupted");

        var sends = Enumerable.Range(0, 20)
            .Select(i => client.Transport.SendAsync(client.Text(producer, queue, $"m{i}", persistent: false), CancellationToken.None).AsTask())
            .ToList();
        await broker.RestartAsync();
        await Task.WhenAll(sends).WaitAsync(TimeSpan.FromSeconds(20));
        for (int i = 0; i < 20; i++)
        {
            Assert.Equal($"m{i}", await client.ReceiveTextAsync());
        }
    }

    [Fact]
    public async Task A_transaction_open_across_a_failover_fails_at_commit_and_its_rollback_is_answered()
    {
        await using var broker = await FailoverTestBroker.StartAsync("tx");
        await using var client = new FailoverTestClient($"failover:({broker.Uri})?{Fast}");
        await client.ConnectAsync();
        var queue = Destination.Queue("failover.tx");
        var producer = await client.AddProducerAsync(queue);
        var tx = new LocalTransactionId(client.ConnectionId, 1);
        await client.Transport.SendAsync(new TransactionInfo { ConnectionId = client.ConnectionId, TransactionId = tx, Type = (byte)TransactionType.Begin }, CancellationToken.None);
        await client.Transport.SendAsync(client.Text(producer, queue, "in tx", transaction: tx), CancellationToken.None);

        await broker.StopAsync();
        await broker.RestartAsync();
        await client.WaitForEventAsync("resumed");

        Assert.True(client.Transport.IsTransactionRolledBackByFailover(tx));
        // Work done in the lost transaction after the failover is dropped, not sent to a broker that never heard of it.
        await client.Transport.SendAsync(client.Text(producer, queue, "also in tx", transaction: tx), CancellationToken.None);
        var error = await Assert.ThrowsAsync<TransactionRolledBackException>(() =>
            client.RequestAsync(new TransactionInfo { ConnectionId = client.ConnectionId, TransactionId = tx, Type = (byte)TransactionType.CommitOnePhase }));
        Assert.Equal(tx, error.TransactionId);
        Assert.False(error.InDoubt);
        Assert.Contains("rolled back due to failover", error.Message, StringComparison.Ordinal);
        FailoverTestClient.EnsureOk(await client.RequestAsync(new TransactionInfo { ConnectionId = client.ConnectionId, TransactionId = tx, Type = (byte)TransactionType.Rollback }));
        Assert.False(client.Transport.IsTransactionRolledBackByFailover(tx));

        // A new transaction after the failover commits normally, and nothing of the lost one arrived.
        var tx2 = new LocalTransactionId(client.ConnectionId, 2);
        await client.Transport.SendAsync(new TransactionInfo { ConnectionId = client.ConnectionId, TransactionId = tx2, Type = (byte)TransactionType.Begin }, CancellationToken.None);
        await client.Transport.SendAsync(client.Text(producer, queue, "committed", transaction: tx2), CancellationToken.None);
        FailoverTestClient.EnsureOk(await client.RequestAsync(new TransactionInfo { ConnectionId = client.ConnectionId, TransactionId = tx2, Type = (byte)TransactionType.CommitOnePhase }));
        await client.SubscribeAsync(queue);
        Assert.Equal("committed", await client.ReceiveTextAsync());
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.ReceiveAsync(seconds: 0.5));
    }

    [Fact]
    public async Task With_priority_backup_it_moves_back_to_the_priority_broker_once_it_returns()
    {
        await using var primary = await FailoverTestBroker.StartAsync("primary");
        await using var secondary = await FailoverTestBroker.StartAsync("secondary");
        await using var client = new FailoverTestClient($"failover:({primary.Uri},{secondary.Uri})?randomize=false&priorityBackup=true&{Fast}");
        await client.ConnectAsync();
        Assert.Equal(primary.Uri, client.Transport.RemoteAddress);
        var queue = Destination.Queue("failover.priority");
        await client.SubscribeAsync(queue);
        var producer = await client.AddProducerAsync(queue);

        await primary.StopAsync();
        await client.WaitForEventAsync("resumed");
        Assert.Equal(secondary.Uri, client.Transport.RemoteAddress);

        await primary.RestartAsync();
        await client.WaitForEventAsync("resumed", count: 2);
        Assert.Equal(primary.Uri, client.Transport.RemoteAddress);
        Assert.Equal(["interrupted " + primary.Uri, "resumed " + secondary.Uri, "interrupted " + secondary.Uri, "resumed " + primary.Uri], client.Events);
        await WaitFor.ConditionAsync(() => secondary.Service.ConnectionCount == 0, TimeSpan.FromSeconds(10), "the secondary connection to close");
        await client.SendTextAsync(producer, queue, "back home");
        Assert.Equal("back home", await client.ReceiveTextAsync());
    }

    [Fact]
    public async Task Connected_brokers_from_connection_control_are_added_and_used_on_failover()
    {
        await using var a = await FailoverTestBroker.StartAsync("cc-a");
        await using var b = await FailoverTestBroker.StartAsync("cc-b");
        await using var client = new FailoverTestClient($"failover:({a.Uri})?{Fast}");
        await client.ConnectAsync();
        Assert.Equal([a.Uri], client.Transport.KnownUris);

        await client.Transport.InjectFromBrokerAsync(new ConnectionControl { ConnectedBrokers = $"{a.Uri},{b.Uri}" });
        Assert.Equal([a.Uri, b.Uri], client.Transport.KnownUris);
        Assert.Equal(a.Uri, client.Transport.RemoteAddress);
        Assert.Contains(client.Received, c => c is ConnectionControl { ConnectedBrokers.Length: > 0 });

        await a.StopAsync();
        await client.WaitForEventAsync("resumed");
        Assert.Equal(b.Uri, client.Transport.RemoteAddress);
    }

    [Fact]
    public async Task Connected_brokers_are_ignored_without_update_uris_supported()
    {
        await using var a = await FailoverTestBroker.StartAsync("no-update");
        await using var client = new FailoverTestClient($"failover:({a.Uri})?updateURIsSupported=false&{Fast}");
        await client.ConnectAsync();
        await client.Transport.InjectFromBrokerAsync(new ConnectionControl { ConnectedBrokers = "tcp://127.0.0.1:1" });
        Assert.Equal([a.Uri], client.Transport.KnownUris);
    }

    [Fact]
    public async Task Reconnect_to_from_connection_control_moves_the_client_with_its_state()
    {
        await using var a = await FailoverTestBroker.StartAsync("rt-a");
        await using var b = await FailoverTestBroker.StartAsync("rt-b");
        await using var client = new FailoverTestClient($"failover:({a.Uri})?{Fast}");
        await client.ConnectAsync();
        var queue = Destination.Queue("failover.reconnect-to");
        await client.SubscribeAsync(queue);
        var producer = await client.AddProducerAsync(queue);

        await client.Transport.InjectFromBrokerAsync(new ConnectionControl { ReconnectTo = b.Uri });
        await client.WaitForEventAsync("resumed");
        Assert.Equal(b.Uri, client.Transport.RemoteAddress);
        await WaitFor.ConditionAsync(() => a.Service.ConnectionCount == 0, TimeSpan.FromSeconds(10), "the old connection to close");
        await client.SendTextAsync(producer, queue, "moved");
        Assert.Equal("moved", await client.ReceiveTextAsync());
    }

    [Fact]
    public async Task Rebalance_moves_to_the_first_of_the_updated_list()
    {
        await using var a = await FailoverTestBroker.StartAsync("rb-a");
        await using var b = await FailoverTestBroker.StartAsync("rb-b");
        await using var client = new FailoverTestClient($"failover:({a.Uri})?randomize=false&{Fast}");
        await client.ConnectAsync();
        await client.Transport.InjectFromBrokerAsync(new ConnectionControl { ConnectedBrokers = b.Uri, RebalanceConnection = true });
        await client.WaitForEventAsync("resumed");
        Assert.Equal(b.Uri, client.Transport.RemoteAddress);
    }

    [Fact]
    public async Task With_backup_a_warm_standby_is_kept_and_used_on_failover()
    {
        await using var a = await FailoverTestBroker.StartAsync("bk-a");
        await using var b = await FailoverTestBroker.StartAsync("bk-b");
        await using var client = new FailoverTestClient($"failover:({a.Uri},{b.Uri})?randomize=false&backup=true&{Fast}");
        await client.ConnectAsync();
        await WaitFor.ConditionAsync(() => b.Service.ConnectionCount == 1, TimeSpan.FromSeconds(10), "a standby connection to b");
        int attemptsOnB = 0;
        client.Transport.ConnectAttemptObserver = address =>
        {
            if (address == b.Uri)
            {
                Interlocked.Increment(ref attemptsOnB);
            }
        };
        var queue = Destination.Queue("failover.backup");
        await client.SubscribeAsync(queue);

        await a.StopAsync();
        await client.WaitForEventAsync("resumed");
        Assert.Equal(b.Uri, client.Transport.RemoteAddress);
        // No new connection to b was needed: the standby became the link (only a new standby to a is being tried).
        Assert.Equal(0, Volatile.Read(ref attemptsOnB));
        Assert.Equal(1, b.Service.ConnectionCount);
        var producer = await client.AddProducerAsync(queue);
        await client.SendTextAsync(producer, queue, "via standby");
        Assert.Equal("via standby", await client.ReceiveTextAsync());
    }

    [Fact]
    public async Task Acks_and_removes_while_disconnected_are_answered_locally_and_shutdown_is_skipped()
    {
        await using var broker = await FailoverTestBroker.StartAsync("stale");
        await using var client = new FailoverTestClient($"failover:({broker.Uri})?{Fast}");
        await client.ConnectAsync();
        var queue = Destination.Queue("failover.stale");
        var consumer = await client.SubscribeAsync(queue);
        await broker.StopAsync();
        await client.WaitForEventAsync("interrupted");

        await client.Transport.SendAsync(new MessageAck { ConsumerId = consumer, Destination = queue, AckType = AckType.Standard, MessageCount = 1 }, CancellationToken.None);
        await client.Transport.SendAsync(new RemoveInfo { ObjectId = consumer }, CancellationToken.None);
        Assert.DoesNotContain(client.Transport.StateTracker.RestoreState(), c => c is ConsumerInfo { ConsumerId: var id } && id == consumer);
        var closed = await client.RequestAsync(new RemoveInfo { ObjectId = client.ConnectionId, LastDeliveredSequenceId = -1 }, seconds: 5);
        Assert.IsNotType<ExceptionResponse>(closed);
        await client.Transport.SendAsync(new ShutdownInfo(), CancellationToken.None);
        Assert.Empty(client.Transport.StateTracker.RestoreConnections());
    }
}

using Ferry.Protocol.OpenWire;
using Ferry.Protocol.OpenWire.Commands;
using Ferry.Protocol.Transport;

namespace Ferry.Tests.Transport;

/// <summary>ConnectionStateTracker: what a failover replays, in which order, and what a RemoveInfo drops.</summary>
public sealed class FailoverStateTrackerTests
{
    private static readonly ConnectionId Connection = new("ID:c-1");
    private static readonly SessionId Session1 = new("ID:c-1", 1);
    private static readonly SessionId Session2 = new("ID:c-1", 2);

    private static ConnectionStateTracker Populated(out Dictionary<string, Command> commands, bool trackMessages = false)
    {
        var tracker = new ConnectionStateTracker(trackMessages, maxCacheSize: 3000);
        commands = new Dictionary<string, Command>
        {
            ["connection"] = new ConnectionInfo { ConnectionId = Connection, ClientId = "client", FaultTolerant = true },
            ["advisory"] = new ConsumerInfo { ConsumerId = new ConsumerId("ID:c-1", -1, 1), Destination = Destination.Topic("ActiveMQ.Advisory.TempQueue") },
            ["session1"] = new SessionInfo { SessionId = Session1 },
            ["temp"] = new DestinationInfo { ConnectionId = Connection, Destination = new Destination(DestinationKind.TempQueue, "ID:c-1:1:1"), OperationType = DestinationInfo.Add },
            ["consumer1"] = new ConsumerInfo { ConsumerId = new ConsumerId("ID:c-1", 1, 1), Destination = Destination.Queue("q") },
            ["producer1"] = new ProducerInfo { ProducerId = new ProducerId("ID:c-1", 1, 1), Destination = Destination.Queue("q") },
            ["session2"] = new SessionInfo { SessionId = Session2 },
            ["producer2"] = new ProducerInfo { ProducerId = new ProducerId("ID:c-1", 2, 1) },
            ["consumer2"] = new ConsumerInfo { ConsumerId = new ConsumerId("ID:c-1", 2, 1), Destination = Destination.Topic("t") },
        };
        int id = 0;
        foreach (var command in commands.Values)
        {
            command.CommandId = ++id;
            tracker.Track(command);
        }
        return tracker;
    }

    [Fact]
    public void Connections_replay_as_copies_marked_failover_reconnect()
    {
        var tracker = Populated(out var commands);
        var info = Assert.Single(tracker.RestoreConnections());
        Assert.NotSame(commands["connection"], info);
        Assert.True(info.FailoverReconnect);
        Assert.Equal("client", info.ClientId);
        Assert.False(((ConnectionInfo)commands["connection"]).FailoverReconnect);
    }

    [Fact]
    public void State_replays_temp_destinations_then_each_session_with_its_producers_then_consumers()
    {
        var tracker = Populated(out var c);
        Assert.Equal(
            [c["temp"], c["advisory"], c["session1"], c["producer1"], c["consumer1"], c["session2"], c["producer2"], c["consumer2"]],
            tracker.RestoreState());
        Assert.True(tracker.IsReplayed(c["consumer1"]));
        Assert.False(tracker.IsReplayed(new ConsumerInfo { ConsumerId = new ConsumerId("ID:c-1", 1, 1) }));
    }

    [Fact]
    public void Removing_a_consumer_or_producer_drops_only_it()
    {
        var tracker = Populated(out var c);
        tracker.Track(new RemoveInfo { ObjectId = new ConsumerId("ID:c-1", 1, 1) });
        tracker.Track(new RemoveInfo { ObjectId = new ProducerId("ID:c-1", 2, 1) });
        Assert.Equal([c["temp"], c["advisory"], c["session1"], c["producer1"], c["session2"], c["consumer2"]], tracker.RestoreState());
    }

    [Fact]
    public void Removing_a_session_drops_its_producers_and_consumers()
    {
        var tracker = Populated(out var c);
        tracker.Track(new RemoveInfo { ObjectId = Session1 });
        Assert.Equal([c["temp"], c["advisory"], c["session2"], c["producer2"], c["consumer2"]], tracker.RestoreState());
    }

    [Fact]
    public void Removing_the_connection_drops_everything()
    {
        var tracker = Populated(out _);
        tracker.Track(new TransactionInfo { ConnectionId = Connection, TransactionId = new LocalTransactionId(Connection, 1), Type = (byte)TransactionType.Begin });
        tracker.Track(new RemoveInfo { ObjectId = Connection });
        Assert.Empty(tracker.RestoreConnections());
        Assert.Empty(tracker.RestoreState());
        Assert.Empty(tracker.OpenTransactions);
    }

    [Fact]
    public void A_removed_temp_destination_is_not_recreated()
    {
        var tracker = Populated(out var c);
        var temp = (DestinationInfo)c["temp"];
        tracker.Track(new DestinationInfo { ConnectionId = Connection, Destination = temp.Destination, OperationType = DestinationInfo.Remove });
        Assert.DoesNotContain(temp, tracker.RestoreState());
    }

    [Fact]
    public void State_the_broker_refused_is_not_replayed()
    {
        var tracker = Populated(out var c);
        tracker.TrackResponse(c["consumer2"], new ExceptionResponse { Exception = new BrokerError(JmsErrors.InvalidSelector, "bad") });
        tracker.TrackResponse(c["producer1"], new Response());
        Assert.DoesNotContain(c["consumer2"], tracker.RestoreState());
        Assert.Contains(c["producer1"], tracker.RestoreState());
    }

    [Fact]
    public void A_transaction_open_when_the_link_is_lost_is_rolled_back_by_failover_until_ended()
    {
        var tracker = Populated(out _);
        var open = new LocalTransactionId(Connection, 1);
        var committed = new LocalTransactionId(Connection, 2);
        tracker.Track(new TransactionInfo { ConnectionId = Connection, TransactionId = open, Type = (byte)TransactionType.Begin });
        var commit = new TransactionInfo { ConnectionId = Connection, TransactionId = committed, Type = (byte)TransactionType.CommitOnePhase };
        tracker.Track(new TransactionInfo { ConnectionId = Connection, TransactionId = committed, Type = (byte)TransactionType.Begin });
        tracker.Track(commit);
        tracker.TrackResponse(commit, new Response());
        Assert.Equal([open], tracker.OpenTransactions);

        Assert.Equal([open], tracker.OnInterrupted());
        Assert.True(tracker.IsRolledBackByFailover(open));
        Assert.False(tracker.IsRolledBackByFailover(committed));
        Assert.Empty(tracker.OpenTransactions);
        Assert.Empty(tracker.OnInterrupted());

        tracker.Forget(open);
        Assert.False(tracker.IsRolledBackByFailover(open));
    }

    [Fact]
    public void With_track_messages_recent_one_way_messages_replay_oldest_first_within_the_cache_size()
    {
        var tracker = Populated(out _, trackMessages: true);
        var producer = new ProducerId("ID:c-1", 1, 1);
        var messages = Enumerable.Range(1, 4).Select(i => new Message(DataTypes.TextMessage)
        {
            ProducerId = producer,
            MessageId = new MessageId(producer, i),
            Destination = Destination.Queue("q"),
            Content = new byte[200],
        }).ToList();
        foreach (var m in messages)
        {
            tracker.Track(m);
        }
        // Sync sends and transacted sends are not cached: the former are resent as requests, the latter die with their transaction.
        tracker.Track(new Message { ProducerId = producer, MessageId = new MessageId(producer, 9), ResponseRequired = true });
        tracker.Track(new Message { ProducerId = producer, MessageId = new MessageId(producer, 10), TransactionId = new LocalTransactionId(Connection, 5) });
        // 1224 bytes each (1024 + content, as the Java client counts), 3000 bytes allowed: the oldest two are dropped.
        Assert.Equal(2 * 1224, tracker.CachedMessageBytes);
        var replayed = tracker.RestoreState().OfType<Message>().ToList();
        Assert.Equal([messages[2], messages[3]], replayed);
    }

    [Fact]
    public void Without_track_messages_no_message_is_kept()
    {
        var tracker = Populated(out _);
        var producer = new ProducerId("ID:c-1", 1, 1);
        tracker.Track(new Message { ProducerId = producer, MessageId = new MessageId(producer, 1) });
        Assert.Empty(tracker.RestoreState().OfType<Message>());
        Assert.Equal(0, tracker.CachedMessageBytes);
    }

    [Fact]
    public void A_pull_that_waits_forever_is_repeated_until_a_dispatch_answers_it()
    {
        var tracker = Populated(out _);
        var consumer = new ConsumerId("ID:c-1", 1, 1);
        var pull = new MessagePull { ConsumerId = consumer, Destination = Destination.Queue("q"), Timeout = 0 };
        tracker.Track(pull);
        Assert.Same(pull, tracker.RestoreState()[^1]);
        tracker.TrackDispatch(new MessageDispatch { ConsumerId = consumer });
        Assert.DoesNotContain(pull, tracker.RestoreState());

        tracker.Track(new MessagePull { ConsumerId = consumer, Timeout = 500 });
        Assert.Empty(tracker.RestoreState().OfType<MessagePull>());
    }
}

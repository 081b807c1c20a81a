using System.Collections.Concurrent;
using System.Globalization;
using Ferry.Protocol.OpenWire;
using Ferry.Protocol.OpenWire.Commands;
using Ferry.Protocol.Stomp;

namespace Ferry.Broker.Connections;

/// <summary>The read loop's side: each client frame becomes OpenWire commands for the connection.</summary>
public sealed partial class StompChannel
{
    private static readonly string IdPrefix = $"ID:{Environment.MachineName}-stomp-{Environment.ProcessId}-{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}";
    private static long _connectionCounter;

    // Connection state: written by the read loop only; the write loop reads the concurrent maps.
    private readonly Dictionary<string, StompSubscription> _subscriptionsById = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<ConsumerId, StompSubscription> _subscriptions = new();
    private readonly Dictionary<string, StompTransaction> _transactions = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Destination> _tempByName = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Destination, string> _tempNames = new();
    // Commands the engine refused (noted by Send as the ExceptionResponse is queued, read by the read loop).
    private int _lastRefusedCommand; // correlation id of the latest ExceptionResponse; command ids are never reused
    private Func<DataStructure, ValueTask> _onCommand = _ => ValueTask.CompletedTask;
    private bool _connected;
    private ConnectionId _connectionId = new("");
    private ProducerId _producerId = new();
    private int _nextCommandId;
    private long _nextConsumer;
    private long _nextMessage;
    private long _nextTransaction;
    private long _nextTemp;
    private long _nextAckId;

    /// <summary>A STOMP-level refusal: ERROR (with the frame's receipt id), and the connection closed when fatal.</summary>
    private sealed class StompRefusal(string message, bool fatal = false) : Exception(message)
    {
        public bool Fatal { get; } = fatal;
    }

    private sealed class StompTransaction(LocalTransactionId id)
    {
        public LocalTransactionId Id { get; } = id;
        /// <summary>Deliveries acked inside the transaction: ackable again after ABORT.</summary>
        public List<(StompSubscription Subscription, List<StompDelivery> Deliveries)> Acked { get; } = [];
    }

    private async ValueTask HandleFrameAsync(StompFrame frame, Func<DataStructure, ValueTask> onCommand)
    {
        _onCommand = onCommand;
        string? receipt = frame[StompHeaders.Receipt];
        try
        {
            string command = frame.Command;
            if (command.StartsWith("CONNECT", StringComparison.Ordinal) || command.StartsWith("STOMP", StringComparison.Ordinal))
            {
                await OnConnectAsync(frame);
                return;
            }
            if (!IsKnown(command))
            {
                throw new StompRefusal("Unknown STOMP action: " + command, fatal: true);
            }
            if (!_connected)
            {
                throw new StompRefusal("Not connected.");
            }
            if (command.StartsWith("SEND", StringComparison.Ordinal))
            {
                await OnSendAsync(frame, receipt);
            }
            else if (command.StartsWith("ACK", StringComparison.Ordinal))
            {
                await OnAckAsync(frame, receipt, nack: false);
            }
            else if (command.StartsWith("NACK", StringComparison.Ordinal))
            {
                await OnAckAsync(frame, receipt, nack: true);
            }
            else if (command.StartsWith("BEGIN", StringComparison.Ordinal))
            {
                await OnBeginAsync(frame, receipt);
            }
            else if (command.StartsWith("COMMIT", StringComparison.Ordinal))
            {
                await OnCommitOrAbortAsync(frame, receipt, commit: true);
            }
            else if (command.StartsWith("ABORT", StringComparison.Ordinal))
            {
                await OnCommitOrAbortAsync(frame, receipt, commit: false);
            }
            else if (command.StartsWith("SUB", StringComparison.Ordinal))
            {
                await OnSubscribeAsync(frame, receipt);
            }
            else if (command.StartsWith("UNSUB", StringComparison.Ordinal))
            {
                await OnUnsubscribeAsync(frame, receipt);
            }
            else
            {
                await OnDisconnectAsync(receipt);
            }
        }
        catch (StompRefusal refusal)
        {
            LogErrorFrame(_logger, RemoteAddress, refusal.Message);
            if (refusal.Fatal)
            {
                Fail(refusal.Message, receipt);
            }
            else
            {
                _output.Enqueue(ErrorFrame(refusal.Message, receipt));
            }
        }
    }

    // ActiveMQ matches commands by prefix, in this order.
    private static bool IsKnown(string command) =>
        command.StartsWith("SEND", StringComparison.Ordinal) || command.StartsWith("ACK", StringComparison.Ordinal)
        || command.StartsWith("NACK", StringComparison.Ordinal) || command.StartsWith("BEGIN", StringComparison.Ordinal)
        || command.StartsWith("COMMIT", StringComparison.Ordinal) || command.StartsWith("ABORT", StringComparison.Ordinal)
        || command.StartsWith("SUB", StringComparison.Ordinal) || command.StartsWith("UNSUB", StringComparison.Ordinal)
        || command.StartsWith("DISCONNECT", StringComparison.Ordinal);

    /// <summary>Hands a command to the connection; with a receipt, the engine's answer becomes RECEIPT (or ERROR).</summary>
    /// <param name="answerAlways">Ask for a response even without a receipt, so a refusal is an ExceptionResponse (<see cref="_lastRefusedCommand"/>).</param>
    private ValueTask SubmitAsync(Command command, string? receipt, StompFrame? onSuccess = null, bool answerAlways = false)
    {
        command.CommandId = Interlocked.Increment(ref _nextCommandId);
        onSuccess ??= receipt is null ? null : ReceiptFrame(receipt);
        if (onSuccess is not null || answerAlways)
        {
            command.ResponseRequired = true;
            _pendingReplies[command.CommandId] = new PendingReply(receipt, onSuccess);
        }
        return _onCommand(command);
    }

    private async ValueTask OnConnectAsync(StompFrame frame)
    {
        if (_connected)
        {
            throw new StompRefusal("Already connected.");
        }
        string? accept = frame[StompHeaders.AcceptVersion];
        if (!StompVersions.TryNegotiate(accept, out var version))
        {
            throw new StompRefusal(StompVersions.UnsupportedMessage(accept!), fatal: true);
        }
        var heartBeat = _options.DefaultHeartBeat;
        if (frame[StompHeaders.HeartBeat] is { } hb && !StompTransportOptions.TryParseHeartBeat(hb, out heartBeat))
        {
            throw new StompRefusal("Invalid heart-beat header:" + hb, fatal: true);
        }
        long n = Interlocked.Increment(ref _connectionCounter);
        _connectionId = new ConnectionId($"{IdPrefix}-{n}:1");
        _producerId = new ProducerId(_connectionId.Value!, -1, 1);
        string clientId = frame[StompHeaders.ClientId] is { Length: > 0 } id ? id : _connectionId.Value!;
        var connected = new List<KeyValuePair<string, string>>
        {
            new(StompHeaders.Server, "Ferry"),
            new(StompHeaders.HeartBeat, $"{heartBeat.ClientWants},{heartBeat.ClientSends}"),
            new(StompHeaders.Session, clientId),
            new(StompHeaders.Version, version.ToHeaderValue()),
        };
        if ((frame[StompHeaders.RequestId] ?? frame[StompHeaders.Receipt]) is { } requestId)
        {
            connected.Add(new(StompHeaders.ResponseId, requestId));
            connected.Add(new(StompHeaders.ReceiptId, requestId));
        }
        Version = version;
        // Login and passcode are carried to the engine, which accepts anyone until security exists.
        await SubmitAsync(new ConnectionInfo
        {
            ConnectionId = _connectionId,
            ClientId = clientId,
            UserName = frame[StompHeaders.Login],
            Password = frame[StompHeaders.Passcode],
            ClientIp = frame[StompHeaders.Host],
        }, receipt: null, onSuccess: new StompFrame(StompCommands.Connected, [.. connected], ReadOnlyMemory<byte>.Empty));
        if (IsClosed)
        {
            return;
        }
        _connected = true;
        _parser.Version = version;
        await SubmitAsync(new SessionInfo { SessionId = new SessionId(_connectionId.Value!, -1) }, null);
        await SubmitAsync(new ProducerInfo { ProducerId = _producerId }, null);
        StartHeartBeats(heartBeat.ClientSends, heartBeat.ClientWants);
    }

    private async ValueTask OnSendAsync(StompFrame frame, string? receipt)
    {
        string name = frame[StompHeaders.Destination] is { } d && d.Trim().Length > 0
            ? d
            : throw new StompRefusal("SEND received without a Destination specified!");
        var destination = await ToDestinationAsync(name);
        Destination? replyTo = null;
        if (frame[StompHeaders.ReplyTo] is { } replyName && IsDestinationName(replyName))
        {
            replyTo = await ToDestinationAsync(replyName);
        }
        var transaction = frame[StompHeaders.Transaction] is { } tx ? Transaction(tx).Id : null;
        Message message;
        try
        {
            message = StompMessageConverter.ToMessage(frame, destination, replyTo, new MessageId(_producerId, Interlocked.Increment(ref _nextMessage)),
                _time.GetUtcNow().ToUnixTimeMilliseconds());
        }
        catch (FormatException ex)
        {
            throw new StompRefusal(ex.Message);
        }
        message.ProducerId = _producerId;
        message.TransactionId = transaction;
        await SubmitAsync(message, receipt);
    }

    private async ValueTask OnSubscribeAsync(StompFrame frame, string? receipt)
    {
        string? id = frame[StompHeaders.Id];
        if (id is null && Version != StompVersion.V10)
        {
            throw new StompRefusal("SUBSCRIBE received without a subscription id!");
        }
        string name = frame[StompHeaders.Destination] is { } d && d.Trim().Length > 0 && d.Trim() != "null"
            ? d.Trim()
            : throw new StompRefusal("Invalid empty or 'null' Destination header");
        var consumerId = new ConsumerId(_connectionId.Value!, -1, ++_nextConsumer);
        string key = id ?? consumerId.ToString();
        if (_subscriptionsById.ContainsKey(key))
        {
            throw new StompRefusal($"A subscription with id {key} already exists on this connection");
        }
        bool browser = frame[StompHeaders.Browser] == "true";
        if (browser && Version == StompVersion.V10)
        {
            throw new StompRefusal("Queue Browser feature only valid for Stomp v1.1+ clients!");
        }
        var destination = await ToDestinationAsync(name);
        // ActiveMQ reads the durable name from either spelling (it once shipped with a typo).
        string? durableName = frame[StompHeaders.SubscriptionName] ?? frame[StompHeaders.SubscriptionNameMisspelt];
        if (durableName is not null && destination.IsQueue)
        {
            throw new StompRefusal("Invalid Subscription: cannot durably subscribe to a Queue destination!");
        }
        var info = new ConsumerInfo
        {
            ConsumerId = consumerId,
            Destination = destination,
            Browser = browser,
            DispatchAsync = true,
            // As ActiveMQ: STOMP properties are strings, so let them compare as numbers.
            Selector = frame[StompHeaders.Selector] is { Length: > 0 } selector ? Selectors.MessageSelector.ConvertStringExpressionsPrefix + selector : null,
            SubscriptionName = durableName,
            PrefetchSize = browser ? 500 : destination.IsQueue ? 1000 : durableName is not null ? 100 : 32767,
        };
        ApplyConsumerOptions(frame, info);
        var mode = frame[StompHeaders.Ack] switch
        {
            "client" => StompAckMode.Client,
            "client-individual" => StompAckMode.ClientIndividual,
            _ => StompAckMode.Auto,
        };
        var subscription = new StompSubscription(id, consumerId, destination, name, browser ? StompAckMode.Auto : mode);
        _subscriptionsById[key] = subscription;
        _subscriptions[consumerId] = subscription;
        int prefetch = info.PrefetchSize;
        // With a receipt, subscribe with no window, send the RECEIPT, then open the window:
        // no MESSAGE of this subscription can overtake its RECEIPT (ActiveMQ does the same).
        if (receipt is not null && prefetch > 0 && !browser)
        {
            info.PrefetchSize = 0;
        }
        // Always answered, so a refused SUBSCRIBE (bad selector, durable in use) is known here and forgotten.
        await SubmitAsync(info, receipt, answerAlways: true);
        if (Volatile.Read(ref _lastRefusedCommand) == info.CommandId)
        {
            _subscriptionsById.Remove(key);
            _subscriptions.TryRemove(consumerId, out _);
            return;
        }
        if (IsClosed)
        {
            return;
        }
        if (info.PrefetchSize != prefetch)
        {
            await SubmitAsync(new ConsumerControl { ConsumerId = consumerId, Destination = destination, Prefetch = prefetch }, null);
        }
    }

    /// <summary>Any <c>activemq.x</c> header sets ConsumerInfo's x; those the engine uses are read here.</summary>
    private static void ApplyConsumerOptions(StompFrame frame, ConsumerInfo info)
    {
        foreach (var (name, value) in frame.Headers)
        {
            switch (name)
            {
                case "activemq.prefetchSize":
                    info.PrefetchSize = ParseInt(name, value);
                    break;
                case "activemq.exclusive":
                    info.Exclusive = ParseBool(value);
                    break;
                case "activemq.retroactive":
                    // Accepted and recorded; the engine has no retroactive replay yet (see ARCHITECTURE.md).
                    info.Retroactive = ParseBool(value);
                    break;
                case "activemq.noLocal":
                    info.NoLocal = ParseBool(value);
                    break;
                case "activemq.priority":
                    info.Priority = (sbyte)ParseInt(name, value);
                    break;
                case "activemq.maximumPendingMessageLimit":
                    info.MaximumPendingMessageLimit = ParseInt(name, value);
                    break;
            }
        }
        if (info.PrefetchSize < 0)
        {
            throw new StompRefusal("activemq.prefetchSize must not be negative");
        }
    }

    private static int ParseInt(string name, string value) =>
        int.TryParse(value.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v : throw new StompRefusal($"Invalid {name} header: {value}");

    private static bool ParseBool(string value) => string.Equals(value.Trim(), "true", StringComparison.OrdinalIgnoreCase);

    private async ValueTask OnUnsubscribeAsync(StompFrame frame, string? receipt)
    {
        string? id = frame[StompHeaders.Id];
        string? destinationName = frame[StompHeaders.Destination];
        if (id is null && Version != StompVersion.V10)
        {
            throw new StompRefusal("UNSUBSCRIBE received without a subscription id!");
        }
        string? durableName = frame[StompHeaders.SubscriptionName] ?? frame[StompHeaders.SubscriptionNameMisspelt];
        if (durableName is not null)
        {
            // Removes the stored durable subscription; an active consumer is not closed (ActiveMQ).
            await SubmitAsync(new RemoveSubscriptionInfo { ConnectionId = _connectionId, SubscriptionName = durableName }, receipt);
            return;
        }
        StompSubscription? subscription = null;
        if (id is not null)
        {
            _subscriptionsById.TryGetValue(id, out subscription);
        }
        else if (destinationName is not null)
        {
            subscription = _subscriptionsById.Values.FirstOrDefault(s => s.StompDestination == destinationName.Trim());
        }
        if (subscription is null)
        {
            throw new StompRefusal("No subscription matched.");
        }
        // Forget it first: MESSAGE frames still queued for it are dropped, and the engine requeues them.
        _subscriptionsById.Remove(subscription.Id ?? subscription.ConsumerId.ToString());
        _subscriptions.TryRemove(subscription.ConsumerId, out _);
        await SubmitAsync(new RemoveInfo { ObjectId = subscription.ConsumerId, LastDeliveredSequenceId = -2 }, receipt);
    }

    private async ValueTask OnAckAsync(StompFrame frame, string? receipt, bool nack)
    {
        string what = nack ? "NACK" : "ACK";
        if (nack && Version == StompVersion.V10)
        {
            throw new StompRefusal("NACK received but connection is in v1.0 mode.");
        }
        StompSubscription? subscription;
        int index;
        string? messageId;
        if (Version == StompVersion.V12)
        {
            string ackId = frame[StompHeaders.Id] ?? throw new StompRefusal($"{what} received without a ack id for acknowledge!");
            messageId = ackId;
            (subscription, index) = FindByAckId(ackId);
        }
        else
        {
            messageId = frame[StompHeaders.MessageId] ?? throw new StompRefusal($"{what} received without a message-id to acknowledge!");
            string? subscriptionId = frame[StompHeaders.Subscription];
            if (subscriptionId is null && Version == StompVersion.V11)
            {
                throw new StompRefusal($"{what} received without a subscription id for acknowledge!");
            }
            (subscription, index) = FindByMessageId(messageId, subscriptionId);
        }
        if (subscription is null || index < 0 || subscription.Mode == StompAckMode.Auto)
        {
            throw new StompRefusal($"Unexpected {what} received for message-id [{messageId}]");
        }
        var transaction = frame[StompHeaders.Transaction] is { } tx ? Transaction(tx) : null;
        List<StompDelivery> covered;
        lock (subscription.Unacked)
        {
            // client: cumulative up to this message; client-individual and NACK: this message only.
            int first = subscription.Mode == StompAckMode.Client && !nack ? 0 : index;
            covered = subscription.Unacked.GetRange(first, index - first + 1);
            subscription.Unacked.RemoveRange(first, index - first + 1);
        }
        var ack = new MessageAck
        {
            ConsumerId = subscription.ConsumerId,
            Destination = subscription.Destination,
            TransactionId = transaction?.Id,
            AckType = nack ? AckType.Poison : subscription.Mode == StompAckMode.Client ? AckType.Standard : AckType.Individual,
            FirstMessageId = covered[0].MessageId,
            LastMessageId = covered[^1].MessageId,
            MessageCount = covered.Count,
            PoisonCause = nack ? new Ferry.Protocol.OpenWire.BrokerError("javax.jms.JMSException", "NACK received from a STOMP client") : null,
        };
        if (nack && transaction is not null)
        {
            // A transacted poison ack is not something the engine holds back: apply it at once.
            ack.TransactionId = null;
        }
        else
        {
            transaction?.Acked.Add((subscription, covered));
        }
        await SubmitAsync(ack, receipt);
    }

    private (StompSubscription? Subscription, int Index) FindByAckId(string ackId)
    {
        foreach (var subscription in _subscriptions.Values)
        {
            lock (subscription.Unacked)
            {
                int i = subscription.Unacked.FindIndex(d => d.AckId == ackId);
                if (i >= 0)
                {
                    return (subscription, i);
                }
            }
        }
        return (null, -1);
    }

    private (StompSubscription? Subscription, int Index) FindByMessageId(string messageId, string? subscriptionId)
    {
        foreach (var subscription in _subscriptions.Values)
        {
            if (subscriptionId is not null && subscription.Id != subscriptionId)
            {
                continue;
            }
            lock (subscription.Unacked)
            {
                int i = subscription.Unacked.FindIndex(d => d.MessageId.ToString() == messageId);
                if (i >= 0)
                {
                    return (subscription, i);
                }
            }
        }
        return (null, -1);
    }

    private StompTransaction Transaction(string name) =>
        _transactions.TryGetValue(name, out var transaction) ? transaction : throw new StompRefusal("Invalid transaction id: " + name);

    private async ValueTask OnBeginAsync(StompFrame frame, string? receipt)
    {
        string name = frame[StompHeaders.Transaction] ?? throw new StompRefusal("Must specify the transaction you are beginning");
        if (_transactions.ContainsKey(name))
        {
            throw new StompRefusal("The transaction was already started: " + name);
        }
        var transaction = new StompTransaction(new LocalTransactionId(_connectionId, ++_nextTransaction));
        _transactions[name] = transaction;
        await SubmitAsync(new TransactionInfo { ConnectionId = _connectionId, TransactionId = transaction.Id, Type = (byte)TransactionType.Begin }, receipt);
    }

    private async ValueTask OnCommitOrAbortAsync(StompFrame frame, string? receipt, bool commit)
    {
        string name = frame[StompHeaders.Transaction] ?? throw new StompRefusal("Must specify the transaction you are committing");
        var transaction = Transaction(name);
        _transactions.Remove(name);
        if (!commit)
        {
            // The engine keeps rolled-back acks' messages dispatched: the client may ACK them again.
            foreach (var (subscription, deliveries) in transaction.Acked)
            {
                lock (subscription.Unacked)
                {
                    subscription.Unacked.AddRange(deliveries);
                    subscription.Unacked.Sort(static (a, b) => a.Sequence.CompareTo(b.Sequence));
                }
            }
        }
        await SubmitAsync(new TransactionInfo
        {
            ConnectionId = _connectionId,
            TransactionId = transaction.Id,
            Type = (byte)(commit ? TransactionType.CommitOnePhase : TransactionType.Rollback),
        }, receipt);
    }

    private async ValueTask OnDisconnectAsync(string? receipt)
    {
        // As ActiveMQ: remove the connection (clean close: unacked messages go back, counted as
        // redelivered), answer the receipt, then shut down, which closes the socket after the RECEIPT.
        await SubmitAsync(new RemoveInfo { ObjectId = _connectionId, LastDeliveredSequenceId = -2 }, receipt);
        await SubmitAsync(new ShutdownInfo(), null);
        Close("client disconnected");
    }

    private static bool IsDestinationName(string name)
    {
        string n = name.Trim();
        return n.StartsWith(StompDestinations.Queue, StringComparison.Ordinal) || n.StartsWith(StompDestinations.Topic, StringComparison.Ordinal)
            || n.StartsWith(StompDestinations.TempQueue, StringComparison.Ordinal) || n.StartsWith(StompDestinations.TempTopic, StringComparison.Ordinal)
            || n.StartsWith(StompDestinations.RemoteTempQueue, StringComparison.Ordinal) || n.StartsWith(StompDestinations.RemoteTempTopic, StringComparison.Ordinal);
    }

    /// <summary>
    /// A STOMP destination name as the engine's destination. <c>/temp-queue/x</c> and
    /// <c>/temp-topic/x</c> name a temporary destination of this connection, created (with a
    /// DestinationInfo, so advisories fire) on first use; no prefix means a queue of that name.
    /// </summary>
    private async ValueTask<Destination> ToDestinationAsync(string name)
    {
        name = name.Trim();
        if (StompDestinations.TryParse(name, out var destination))
        {
            return destination;
        }
        var kind = name.StartsWith(StompDestinations.TempQueue, StringComparison.Ordinal) ? DestinationKind.TempQueue : DestinationKind.TempTopic;
        if (_tempByName.TryGetValue(name, out var existing))
        {
            return existing;
        }
        var temp = new Destination(kind, $"{_connectionId.Value}:{++_nextTemp}");
        await SubmitAsync(new DestinationInfo { ConnectionId = _connectionId, Destination = temp, OperationType = DestinationInfo.Add }, null);
        _tempByName[name] = temp;
        _tempNames[temp] = name;
        return temp;
    }
}

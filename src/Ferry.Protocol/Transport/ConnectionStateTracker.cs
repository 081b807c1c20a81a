using Ferry.Protocol.OpenWire;
using Ferry.Protocol.OpenWire.Commands;

namespace Ferry.Protocol.Transport;

/// <summary>
/// What a failover transport must replay on a new link so the broker there sees the same client:
/// connections, temporary destinations, sessions, producers and consumers (in the order they were
/// created), plus — with <c>trackMessages</c> — recently sent one-way messages, and outstanding
/// <c>MessagePull</c>s that wait indefinitely. A <see cref="RemoveInfo"/> drops what it names and
/// everything under it. It also keeps the open transactions: a transaction open when a link is lost
/// cannot be completed on the next one (the broker rolled it back), so it is remembered as
/// "rolled back by failover" until the client ends it. Thread-safe (one short lock).
/// </summary>
public sealed class ConnectionStateTracker
{
    /// <summary>The session id the Java client uses for its advisory consumer; it has no SessionInfo.</summary>
    public const long DefaultSessionId = -1;

    private readonly object _gate = new();
    private readonly OrderedDictionary<ConnectionId, ConnectionState> _connections = new();
    private readonly HashSet<TransactionId> _open = [];
    private readonly HashSet<TransactionId> _rolledBackByFailover = [];
    private readonly LinkedList<Message> _messageCache = new();
    private readonly Dictionary<MessageId, LinkedListNode<Message>> _messageIndex = new();
    private readonly OrderedDictionary<ConsumerId, MessagePull> _pulls = new();
    private long _cachedBytes;

    public ConnectionStateTracker(bool trackMessages = false, int maxCacheSize = FailoverOptions.DefaultMaxCacheSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxCacheSize);
        TrackMessages = trackMessages;
        MaxCacheSize = maxCacheSize;
    }

    public bool TrackMessages { get; }
    public int MaxCacheSize { get; }

    /// <summary>Bytes of messages held for replay (<c>trackMessages</c>), counted as the Java client counts them.</summary>
    public long CachedMessageBytes
    {
        get
        {
            lock (_gate)
            {
                return _cachedBytes;
            }
        }
    }

    /// <summary>Transactions begun on the current link and not yet ended.</summary>
    public IReadOnlyCollection<TransactionId> OpenTransactions
    {
        get
        {
            lock (_gate)
            {
                return _open.ToList();
            }
        }
    }

    /// <summary>Records the effect of a command that went out on the link.</summary>
    public void Track(Command command)
    {
        ArgumentNullException.ThrowIfNull(command);
        lock (_gate)
        {
            switch (command)
            {
                case ConnectionInfo { ConnectionId: { } id } info:
                    if (_connections.TryGetValue(id, out var existing))
                    {
                        existing.Info = info;
                    }
                    else
                    {
                        _connections.Add(id, new ConnectionState(info));
                    }
                    break;
                case SessionInfo { SessionId: { } id } info:
                    if (Connection(id.ConnectionId) is { } sessionOwner)
                    {
                        sessionOwner.Session(id).Info = info;
                    }
                    break;
                case ConsumerInfo { ConsumerId: { } id } info:
                    Connection(id.ConnectionId)?.Session(id.ParentId).Consumers[id] = info;
                    break;
                case ProducerInfo { ProducerId: { } id } info:
                    Connection(id.ConnectionId)?.Session(id.ParentId).Producers[id] = info;
                    break;
                case DestinationInfo { Destination: { IsTemporary: true } destination } info:
                    var tempOwner = info.ConnectionId is { } cid ? Connection(cid.Value) : null;
                    if (info.OperationType == DestinationInfo.Add)
                    {
                        tempOwner?.TempDestinations[destination] = info;
                    }
                    else
                    {
                        tempOwner?.TempDestinations.Remove(destination);
                    }
                    break;
                case RemoveInfo remove:
                    OnRemove(remove.ObjectId);
                    break;
                case TransactionInfo { Kind: TransactionType.Begin, TransactionId: { } tx }:
                    _rolledBackByFailover.Remove(tx);
                    _open.Add(tx);
                    break;
                case Message { ResponseRequired: false, TransactionId: null, MessageId: { } messageId } message when TrackMessages:
                    CacheMessage(messageId, message);
                    break;
                case MessagePull { ConsumerId: { } consumer } pull:
                    // Only a pull that waits indefinitely must be repeated; a timed one is answered
                    // (with an empty dispatch) by its own timeout on the client side.
                    if (pull.Timeout == 0)
                    {
                        _pulls[consumer] = pull;
                    }
                    else
                    {
                        _pulls.Remove(consumer);
                    }
                    break;
            }
        }
    }

    /// <summary>Records the broker's answer to a tracked request: an ended transaction is forgotten; refused state is dropped.</summary>
    public void TrackResponse(Command request, Response response)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(response);
        lock (_gate)
        {
            if (request is TransactionInfo { TransactionId: { } tx } transaction
                && transaction.Kind is TransactionType.CommitOnePhase or TransactionType.CommitTwoPhase or TransactionType.Rollback or TransactionType.Forget)
            {
                _open.Remove(tx);
                _rolledBackByFailover.Remove(tx);
                return;
            }
            if (response is not ExceptionResponse)
            {
                return;
            }
            switch (request)
            {
                case ConnectionInfo { ConnectionId: { } id } info when _connections.TryGetValue(id, out var state) && ReferenceEquals(state.Info, info):
                    _connections.Remove(id);
                    break;
                case SessionInfo { SessionId: { } id }:
                    OnRemove(id);
                    break;
                case ConsumerInfo { ConsumerId: { } id } info when ReferenceEquals(Connection(id.ConnectionId)?.FindConsumer(id), info):
                    OnRemove(id);
                    break;
                case ProducerInfo { ProducerId: { } id } info when ReferenceEquals(Connection(id.ConnectionId)?.FindProducer(id), info):
                    OnRemove(id);
                    break;
                case DestinationInfo { OperationType: DestinationInfo.Add, Destination: { } destination, ConnectionId: { } cid }:
                    Connection(cid.Value)?.TempDestinations.Remove(destination);
                    break;
            }
        }
    }

    /// <summary>A dispatch answers any outstanding pull of its consumer.</summary>
    public void TrackDispatch(MessageDispatch dispatch)
    {
        ArgumentNullException.ThrowIfNull(dispatch);
        if (dispatch.ConsumerId is { } consumer)
        {
            lock (_gate)
            {
                _pulls.Remove(consumer);
            }
        }
    }

    /// <summary>
    /// The link was lost: every open transaction is now rolled back (the broker dropped it with the
    /// connection). Returns them; each stays marked until <see cref="Forget"/> or a new BEGIN.
    /// </summary>
    public IReadOnlyList<TransactionId> OnInterrupted()
    {
        lock (_gate)
        {
            var lost = _open.ToList();
            _rolledBackByFailover.UnionWith(lost);
            _open.Clear();
            return lost;
        }
    }

    /// <summary>True if <paramref name="transactionId"/> was open when a link was lost: it can only be rolled back now.</summary>
    public bool IsRolledBackByFailover(TransactionId? transactionId)
    {
        if (transactionId is null)
        {
            return false;
        }
        lock (_gate)
        {
            return _rolledBackByFailover.Contains(transactionId);
        }
    }

    /// <summary>The client has ended (rolled back) a transaction lost in a failover.</summary>
    public void Forget(TransactionId transactionId)
    {
        ArgumentNullException.ThrowIfNull(transactionId);
        lock (_gate)
        {
            _rolledBackByFailover.Remove(transactionId);
            _open.Remove(transactionId);
        }
    }

    /// <summary>The ConnectionInfos to send first on a new link: copies marked <c>failoverReconnect</c>.</summary>
    public IReadOnlyList<ConnectionInfo> RestoreConnections()
    {
        lock (_gate)
        {
            return _connections.Values.Select(c =>
            {
                var copy = (ConnectionInfo)c.Info.ShallowCopy();
                copy.FailoverReconnect = true;
                return copy;
            }).ToList();
        }
    }

    /// <summary>
    /// The rest of the state, in replay order: per connection its temporary destinations, then per
    /// session its SessionInfo, producers and consumers (creation order); then cached messages
    /// (oldest first) and pulls that wait indefinitely. The commands keep their original ids.
    /// </summary>
    public IReadOnlyList<Command> RestoreState()
    {
        lock (_gate)
        {
            var commands = new List<Command>();
            foreach (var connection in _connections.Values)
            {
                commands.AddRange(connection.TempDestinations.Values);
                foreach (var session in connection.Sessions.Values)
                {
                    if (session.Info is { } info && info.SessionId?.Value != DefaultSessionId)
                    {
                        commands.Add(info);
                    }
                    commands.AddRange(session.Producers.Values);
                    commands.AddRange(session.Consumers.Values);
                }
            }
            commands.AddRange(_messageCache);
            commands.AddRange(_pulls.Values);
            return commands;
        }
    }

    /// <summary>True if <paramref name="command"/> (this very object) is part of what <see cref="RestoreState"/> replays.</summary>
    public bool IsReplayed(Command command)
    {
        lock (_gate)
        {
            return command switch
            {
                SessionInfo { SessionId: { } id } => ReferenceEquals(Connection(id.ConnectionId)?.FindSession(id)?.Info, command),
                ConsumerInfo { ConsumerId: { } id } => ReferenceEquals(Connection(id.ConnectionId)?.FindConsumer(id), command),
                ProducerInfo { ProducerId: { } id } => ReferenceEquals(Connection(id.ConnectionId)?.FindProducer(id), command),
                DestinationInfo { ConnectionId: { } cid, Destination: { } d } => Connection(cid.Value) is { } c
                    && c.TempDestinations.TryGetValue(d, out var info) && ReferenceEquals(info, command),
                Message { MessageId: { } id } => _messageIndex.TryGetValue(id, out var node) && ReferenceEquals(node.Value, command),
                MessagePull { ConsumerId: { } consumer } => _pulls.TryGetValue(consumer, out var pull) && ReferenceEquals(pull, command),
                _ => false,
            };
        }
    }

    private void OnRemove(object? objectId)
    {
        switch (objectId)
        {
            case ConnectionId id:
                _connections.Remove(id);
                _open.RemoveWhere(t => t is LocalTransactionId local && Equals(local.ConnectionId, id));
                _rolledBackByFailover.RemoveWhere(t => t is LocalTransactionId local && Equals(local.ConnectionId, id));
                break;
            case SessionId id when Connection(id.ConnectionId) is { } connection && connection.Sessions.Remove(id, out var session):
                foreach (var consumer in session.Consumers.Keys)
                {
                    _pulls.Remove(consumer);
                }
                break;
            case ConsumerId id:
                Connection(id.ConnectionId)?.FindSession(id.ParentId)?.Consumers.Remove(id);
                _pulls.Remove(id);
                break;
            case ProducerId id:
                Connection(id.ConnectionId)?.FindSession(id.ParentId)?.Producers.Remove(id);
                break;
        }
    }

    private void CacheMessage(MessageId id, Message message)
    {
        if (_messageIndex.Remove(id, out var old))
        {
            _messageCache.Remove(old);
            _cachedBytes -= old.Value.WindowSize;
        }
        _messageIndex[id] = _messageCache.AddLast(message);
        _cachedBytes += message.WindowSize;
        while (_cachedBytes > MaxCacheSize && _messageCache.First is { } oldest)
        {
            _messageCache.RemoveFirst();
            _messageIndex.Remove(oldest.Value.MessageId!);
            _cachedBytes -= oldest.Value.WindowSize;
        }
    }

    private ConnectionState? Connection(string? connectionId) =>
        connectionId is not null && _connections.TryGetValue(new ConnectionId(connectionId), out var state) ? state : null;

    private sealed class ConnectionState(ConnectionInfo info)
    {
        public ConnectionInfo Info { get; set; } = info;
        public OrderedDictionary<Destination, DestinationInfo> TempDestinations { get; } = new();
        public OrderedDictionary<SessionId, SessionState> Sessions { get; } = new();

        public SessionState Session(SessionId id)
        {
            if (!Sessions.TryGetValue(id, out var session))
            {
                session = new SessionState();
                Sessions.Add(id, session);
            }
            return session;
        }

        public SessionState? FindSession(SessionId id) => Sessions.TryGetValue(id, out var s) ? s : null;
        public ConsumerInfo? FindConsumer(ConsumerId id) => FindSession(id.ParentId)?.Consumers.GetValueOrDefault(id);
        public ProducerInfo? FindProducer(ProducerId id) => FindSession(id.ParentId)?.Producers.GetValueOrDefault(id);
    }

    private sealed class SessionState
    {
        /// <summary>Null for a session used without a SessionInfo (the advisory consumer's session -1).</summary>
        public SessionInfo? Info { get; set; }
        public OrderedDictionary<ConsumerId, ConsumerInfo> Consumers { get; } = new();
        public OrderedDictionary<ProducerId, ProducerInfo> Producers { get; } = new();
    }
}

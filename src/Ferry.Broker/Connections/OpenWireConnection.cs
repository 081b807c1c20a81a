using System.Collections.Concurrent;
using Ferry.Broker.Advisory;
using Ferry.Broker.Destinations;
using Ferry.Broker.Storage;
using Ferry.Protocol.OpenWire;
using Ferry.Protocol.OpenWire.Commands;
using Ferry.Protocol.Transport;
using Microsoft.Extensions.Logging;

namespace Ferry.Broker.Connections;

/// <summary>
/// One OpenWire client as the broker sees it: its connection, sessions, producers, consumers and
/// temporary destinations. Commands are handled one at a time by the channel's read loop, so this
/// state has a single writer; other threads only read snapshots (advisory replay) and queue
/// dispatches through <see cref="Send"/>.
/// </summary>
public sealed partial class OpenWireConnection : IConsumerEndpoint
{
    private readonly BrokerService _broker;
    private readonly ICommandChannel _channel;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<ConsumerId, ConsumerState> _consumers = new();
    private readonly ConcurrentDictionary<ProducerId, ProducerInfo> _producers = new();
    private readonly HashSet<SessionId> _sessions = [];
    private readonly List<Destination> _tempDestinations = [];
    private readonly Dictionary<TransactionId, LocalTransaction> _transactions = [];
    private readonly CancellationTokenSource _connectionClosed = new();
    private volatile ConnectionInfo? _info;
    private Task _parkedSends = Task.CompletedTask;
    private bool _cleanedUp;

    /// <param name="createChannel">Makes the protocol channel (OpenWire, or STOMP translated to OpenWire commands).</param>
    internal OpenWireConnection(BrokerService broker, TransportConnector? connector, Func<OpenWireConnection, ILogger, ICommandChannel> createChannel)
    {
        _broker = broker;
        Connector = connector;
        _logger = broker.LoggerFactory.CreateLogger("Ferry.Broker.Connection");
        _channel = createChannel(this, _logger);
    }

    public TransportConnector? Connector { get; }
    public string RemoteAddress => _channel.RemoteAddress;
    public ConnectionInfo? Info => _info;
    public string ConnectionId => _info?.ConnectionId?.Value ?? "";
    public bool IsClosing => _channel.IsClosed;
    public IEnumerable<ConsumerInfo> ConsumerInfos => _consumers.Values.Select(c => c.Info);
    public IEnumerable<ProducerInfo> ProducerInfos => _producers.Values;

    public bool Send(DataStructure command) => _channel.Send(command);

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        LogAccepted(_logger, RemoteAddress);
        try
        {
            await _channel.RunAsync(HandleAsync, cancellationToken);
        }
        finally
        {
            // A connection that went away without removing itself loses its in-flight deliveries:
            // they return to their queues marked redelivered.
            CleanUp(abrupt: true);
            await _channel.DisposeAsync();
            LogClosed(_logger, RemoteAddress, _info?.ClientId ?? "-", _channel.CloseReason ?? "closed");
        }
    }

    /// <summary>Drops the connection at once (its state is cleaned up as for any dropped client).</summary>
    public void Drop(string reason) => _channel.Abort(reason);

    /// <summary>Tells the client the broker is going away, then closes.</summary>
    public void CloseForShutdown()
    {
        _channel.Send(new ConnectionError { Exception = new BrokerError(JmsErrors.JmsException, "Broker " + _broker.BrokerName + " is shutting down") });
        _channel.Close("broker shutting down");
    }

    private async ValueTask HandleAsync(DataStructure received)
    {
        if (received is WireFormatInfo)
        {
            Send(new BrokerInfo
            {
                BrokerId = _broker.BrokerId,
                BrokerUrl = Connector?.BoundUri ?? _broker.BrokerUrl,
                BrokerName = _broker.BrokerName,
                // With cluster updates on, ActiveMQ sends the (here empty) list of peer brokers.
                PeerBrokerInfos = Connector?.Options?.UpdateClusterClients == true ? [] : null,
            });
            return;
        }
        if (received is not Command command)
        {
            LogIgnored(_logger, RemoteAddress, received.GetType().Name);
            return;
        }
        try
        {
            if (command is Message message)
            {
                // Sends answer for themselves: they may be parked waiting for memory.
                await OnMessageAsync(message);
                return;
            }
            var response = await ProcessAsync(command);
            if (command.ResponseRequired)
            {
                response ??= new Response();
                response.CorrelationId = command.CommandId;
                Send(response);
            }
        }
        catch (Exception ex) when (IsRequestFailure(ex))
        {
            Refuse(command, ex);
            if (command is ConnectionInfo)
            {
                _channel.Close("connection refused: " + ex.Message);
            }
        }
    }

    private static bool IsRequestFailure(Exception ex) => ex is BrokerException or ArgumentException or InvalidOperationException or IOException;

    /// <summary>Answers a failed command: ExceptionResponse if the client waits, ConnectionError otherwise.</summary>
    private void Refuse(Command command, Exception ex)
    {
        var error = ex is BrokerException be ? be.ToBrokerError() : new BrokerError(JmsErrors.JmsException, ex.Message);
        LogRefusedCommand(_logger, RemoteAddress, command.GetType().Name, error.ToString());
        Send(command.ResponseRequired
            ? new ExceptionResponse { CorrelationId = command.CommandId, Exception = error }
            : new ConnectionError { Exception = error, ConnectionId = _info?.ConnectionId });
    }

    private async ValueTask<Response?> ProcessAsync(Command command)
    {
        switch (command)
        {
            case MessageAck ack:
                OnAck(ack);
                return null;
            case MessagePull pull:
                OnPull(pull);
                return null;
            case ConnectionInfo info:
                OnConnectionInfo(info);
                return null;
            case SessionInfo session:
                RequireConnected();
                _sessions.Add(session.SessionId ?? throw new BrokerException("SessionInfo without a session id"));
                return null;
            case ConsumerInfo consumer:
                await OnConsumerInfoAsync(consumer);
                return null;
            case ProducerInfo producer:
                OnProducerInfo(producer);
                return null;
            case RemoveInfo remove:
                OnRemove(remove);
                return null;
            case DestinationInfo destination:
                OnDestinationInfo(destination);
                return null;
            case ConsumerControl control:
                OnConsumerControl(control);
                return null;
            case ShutdownInfo:
                CleanUp(abrupt: false);
                _channel.Close("client shut down");
                return null;
            case TransactionInfo transaction:
                return await OnTransactionAsync(transaction);
            case RemoveSubscriptionInfo unsubscribe:
                await OnRemoveSubscriptionAsync(unsubscribe);
                return null;
            default:
                // ConnectionControl, FlushCommand, ControlCommand, BrokerInfo, responses: nothing to do.
                return null;
        }
    }

    private void RequireConnected()
    {
        if (_info is null)
        {
            throw new BrokerException(JmsErrors.IllegalState, "ConnectionInfo must be sent first");
        }
    }

    private void OnConnectionInfo(ConnectionInfo info)
    {
        if (_info is not null)
        {
            throw new BrokerException(JmsErrors.IllegalState, "Connection already established");
        }
        if (info.ConnectionId?.Value is not { Length: > 0 })
        {
            throw new BrokerException(JmsErrors.JmsException, "ConnectionInfo without a connection id");
        }
        string clientId = info.ClientId is { Length: > 0 } id ? id : info.ConnectionId.Value;
        if (!_broker.TryRegisterClientId(clientId, this, info.ConnectionId))
        {
            throw new BrokerException(JmsErrors.InvalidClientId,
                $"Broker: {_broker.BrokerName} - Client: {clientId} already connected from {RemoteAddress}");
        }
        info.ClientId = clientId;
        info.ClientIp = RemoteAddress;
        _info = info;
        if (info.Manageable)
        {
            var options = Connector?.Options;
            Send(new ConnectionControl
            {
                // The client-facing URIs of the cluster: this broker alone until networks of brokers exist.
                ConnectedBrokers = options?.UpdateClusterClients == true ? Connector!.BoundUri : "",
                RebalanceConnection = options?.RebalanceClusterClients == true,
                ReconnectTo = "",
            });
        }
        _broker.Advisories.ConnectionAdded(info);
    }

    /// <summary>
    /// A message from a producer. Outside a transaction it is accepted (stored when persistent) before
    /// the reply. A send that must wait for memory is parked when the client waits for an answer
    /// (response or producer window), so this connection's acks keep flowing; an async send without
    /// a window blocks the connection instead, which is the back-pressure the client feels.
    /// </summary>
    private async ValueTask OnMessageAsync(Message message)
    {
        RequireConnected();
        if (message.MessageId is null || message.Destination is null)
        {
            throw new BrokerException(JmsErrors.JmsException, "Message without a message id or destination");
        }
        long now = _broker.Time.GetUtcNow().ToUnixTimeMilliseconds();
        message.BrokerInTime = now;
        message.MessageId.BrokerSequenceId = _broker.NextSequence();
        if (message.TransactionId is { } txId)
        {
            Transaction(txId).Sends.Add(message);
            Acknowledge(message);
            return;
        }
        if (message.IsExpired(now))
        {
            _broker.ExpiredOnArrival(message);
            Acknowledge(message);
            return;
        }
        bool answered = message.ResponseRequired || Windowed(message);
        var targets = _parkedSends.IsCompleted ? _broker.Resolve(message.Destination) : null;
        if (targets is not null && !BrokerService.MustWaitForSpace(targets))
        {
            await AcceptAndAcknowledgeAsync(message, answered ? StoreDurability.Sync : StoreDurability.Deferred, targets);
        }
        else if (answered)
        {
            _parkedSends = ParkAsync(_parkedSends, message);
        }
        else
        {
            await _parkedSends;
            await AcceptAndAcknowledgeAsync(message, StoreDurability.Deferred);
        }
    }

    private async Task ParkAsync(Task previous, Message message)
    {
        await previous;
        await AcceptAndAcknowledgeAsync(message);
    }

    private async Task AcceptAndAcknowledgeAsync(Message message, StoreDurability durability = StoreDurability.Sync, IReadOnlyList<BrokerDestination>? targets = null)
    {
        try
        {
            await _broker.AcceptAsync(message, _connectionClosed.Token, durability, targets);
            Acknowledge(message);
        }
        catch (OperationCanceledException) when (_connectionClosed.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (IsRequestFailure(ex))
        {
            Refuse(message, ex);
        }
    }

    private bool Windowed(Message message) =>
        message.ProducerId is { } pid && _producers.TryGetValue(pid, out var producer) && producer.WindowSize > 0;

    /// <summary>The reply a producer waits for: a Response for a sync send, a ProducerAck for a windowed async one.</summary>
    private void Acknowledge(Message message)
    {
        if (message.ResponseRequired)
        {
            Send(new Response { CorrelationId = message.CommandId });
        }
        else if (Windowed(message))
        {
            Send(new ProducerAck { ProducerId = message.ProducerId, Size = message.WindowSize });
        }
    }

    private void OnProducerInfo(ProducerInfo info)
    {
        RequireConnected();
        var id = info.ProducerId ?? throw new BrokerException("ProducerInfo without a producer id");
        if (info.Destination is { IsTemporary: true } d && !_broker.TempDestinationExists(d))
        {
            throw new BrokerException(JmsErrors.InvalidDestination, $"Cannot publish to a deleted Destination: {d}");
        }
        if (!_producers.TryAdd(id, info))
        {
            throw new BrokerException(JmsErrors.JmsException, $"Producer {id} already exists");
        }
        if (info.Destination is { } destination)
        {
            _broker.Advisories.ProducerChanged(destination, info, ProducerCountOn(destination));
        }
    }

    private int ProducerCountOn(Destination destination) => _producers.Values.Count(p => destination.Equals(p.Destination));

    private void RemoveProducer(ProducerId id)
    {
        if (_producers.TryRemove(id, out var info) && info.Destination is { } destination)
        {
            _broker.Advisories.ProducerChanged(destination, new RemoveInfo { ObjectId = id }, ProducerCountOn(destination));
        }
    }

    private void OnDestinationInfo(DestinationInfo info)
    {
        RequireConnected();
        var destination = info.Destination ?? throw new BrokerException(JmsErrors.InvalidDestination, "DestinationInfo without a destination");
        if (info.OperationType == DestinationInfo.Add)
        {
            if (destination.IsTemporary)
            {
                _broker.AddTempDestination(info, this);
                _tempDestinations.Add(destination);
            }
            else
            {
                _broker.Destinations.GetOrCreate(destination);
            }
        }
        else if (info.OperationType == DestinationInfo.Remove)
        {
            if (destination.IsTemporary)
            {
                _broker.RemoveTempDestination(destination, this, info);
                _tempDestinations.Remove(destination);
            }
            else
            {
                if (_broker.ConsumerCountOf(destination) > 0)
                {
                    throw new BrokerException($"Destination still has an active subscription: {destination}");
                }
                _broker.Destinations.Remove(destination);
            }
        }
        else
        {
            throw new BrokerException($"Unknown DestinationInfo operation {info.OperationType}");
        }
    }

    private void OnRemove(RemoveInfo remove)
    {
        switch (remove.ObjectId)
        {
            case ConsumerId consumer:
                RemoveConsumer(consumer, remove.LastDeliveredSequenceId, abrupt: false);
                break;
            case ProducerId producer:
                RemoveProducer(producer);
                break;
            case SessionId session:
                foreach (var consumer in _consumers.Keys.Where(c => c.SessionId == session.Value).ToList())
                {
                    RemoveConsumer(consumer, remove.LastDeliveredSequenceId, abrupt: false);
                }
                foreach (var producer in _producers.Keys.Where(p => p.SessionId == session.Value).ToList())
                {
                    RemoveProducer(producer);
                }
                _sessions.Remove(session);
                break;
            case Protocol.OpenWire.Commands.ConnectionId:
                CleanUp(abrupt: false, lastDeliveredSequenceId: remove.LastDeliveredSequenceId);
                break;
            default:
                throw new BrokerException($"Cannot remove {remove.ObjectId?.GetType().Name ?? "nothing"}");
        }
    }

    /// <summary>Releases everything the connection holds. Idempotent.</summary>
    private void CleanUp(bool abrupt, long lastDeliveredSequenceId = -2)
    {
        if (_cleanedUp)
        {
            return;
        }
        _cleanedUp = true;
        _connectionClosed.Cancel();
        foreach (var transaction in _transactions.Values)
        {
            Rollback(transaction);
        }
        _transactions.Clear();
        foreach (var consumer in _consumers.Keys.ToList())
        {
            RemoveConsumer(consumer, lastDeliveredSequenceId, abrupt);
        }
        foreach (var producer in _producers.Keys.ToList())
        {
            RemoveProducer(producer);
        }
        foreach (var destination in _tempDestinations)
        {
            _broker.RemoveTempDestination(destination, this, null);
        }
        _tempDestinations.Clear();
        _sessions.Clear();
        if (_info is { } info)
        {
            _broker.UnregisterClientId(info.ClientId!, this);
            _broker.Advisories.ConnectionRemoved(info.ConnectionId!);
        }
    }

    [LoggerMessage(EventId = 20, Level = LogLevel.Debug, Message = "Accepted connection from {Remote}")]
    private static partial void LogAccepted(ILogger logger, string remote);

    [LoggerMessage(EventId = 21, Level = LogLevel.Information, Message = "Connection from {Remote} (client {ClientId}) closed: {Reason}")]
    private static partial void LogClosed(ILogger logger, string remote, string clientId, string reason);

    [LoggerMessage(EventId = 22, Level = LogLevel.Debug, Message = "Ignoring {Type} from {Remote}")]
    private static partial void LogIgnored(ILogger logger, string remote, string type);

    [LoggerMessage(EventId = 23, Level = LogLevel.Warning, Message = "Refused {Command} from {Remote}: {Error}")]
    private static partial void LogRefusedCommand(ILogger logger, string remote, string command, string error);
}

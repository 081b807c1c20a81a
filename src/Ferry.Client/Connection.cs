using System.Collections.Concurrent;
using System.Globalization;
using Ferry.Protocol.OpenWire;
using Ferry.Protocol.Transport;
using Wire = Ferry.Protocol.OpenWire.Commands;

namespace Ferry.Client;

/// <summary>
/// One logical connection to the broker. Create sessions from it; start it to let consumers receive.
/// Disposing closes every session, consumer and producer and tells the broker (graceful close).
/// </summary>
public sealed partial class Connection : IAsyncDisposable
{
    private readonly IOpenWireTransport _transport;
    private readonly ConcurrentDictionary<long, Session> _sessions = new();
    private readonly ConcurrentDictionary<Wire.ConsumerId, MessageConsumer> _consumers = new();
    private readonly ConcurrentDictionary<Wire.ProducerId, MessageProducer> _producers = new();
    private long _sessionIds;
    private long _tempDestinationIds;
    private long _transactionIds;
    private volatile bool _started;
    private int _closed;
    private volatile MessagingException? _failure;

    private Connection(ConnectionOptions options, IOpenWireTransport transport, TimeProvider time)
    {
        Options = options;
        _transport = transport;
        Time = time;
        Id = new Wire.ConnectionId(Internal.IdGenerator.NextConnectionId());
        ClientId = options.ClientId ?? Id.Value!;
    }

    /// <summary>The JMS client id: <see cref="ConnectionOptions.ClientId"/>, or one the client generated.</summary>
    public string ClientId { get; }

    /// <summary>The OpenWire connection id (<c>ID:host-…:n</c>); message ids start with it.</summary>
    public string ConnectionId => Id.Value!;

    /// <summary>The broker's name, from its BrokerInfo.</summary>
    public string? BrokerName => _transport.BrokerInfo?.BrokerName;

    /// <summary>True between <see cref="StartAsync"/> and <see cref="StopAsync"/>.</summary>
    public bool IsStarted => _started;

    /// <summary>An asynchronous error: the broker reported a failed one-way command (ConnectionError), or the transport failed for good.</summary>
    public event EventHandler<ConnectionExceptionEventArgs>? ExceptionThrown;

    /// <summary>The transport lost its broker; a failover transport is reconnecting.</summary>
    public event EventHandler<ConnectionStateEventArgs>? Interrupted;

    /// <summary>Counts interruptions and resumptions, so a request wait knows a failover happened meanwhile.</summary>
    private long _outages;

    /// <summary>The failover transport reconnected and replayed the connection's state.</summary>
    public event EventHandler<ConnectionStateEventArgs>? Resumed;

    internal ConnectionOptions Options { get; }
    internal TimeProvider Time { get; }
    internal Wire.ConnectionId Id { get; }
    internal bool IsClosed => Volatile.Read(ref _closed) != 0;

    internal static async Task<Connection> ConnectAsync(ConnectionOptions options, IOpenWireTransport transport, TimeProvider time, CancellationToken cancellationToken)
    {
        var connection = new Connection(options, transport, time);
        transport.OnCommand = connection.OnCommandAsync;
        transport.Interrupted += (_, e) =>
        {
            Interlocked.Increment(ref connection._outages);
            connection.Interrupted?.Invoke(connection, new ConnectionStateEventArgs(e.Address, e.Reason));
        };
        transport.Resumed += (_, e) =>
        {
            Interlocked.Increment(ref connection._outages);
            connection.Resumed?.Invoke(connection, new ConnectionStateEventArgs(e.Address, e.Reason));
        };
        transport.Failed += (_, e) => connection.OnTransportFailed(e);
        try
        {
            await transport.StartAsync(cancellationToken);
            await connection.RequestAsync(new Wire.ConnectionInfo
            {
                ConnectionId = connection.Id,
                ClientId = connection.ClientId,
                UserName = options.UserName,
                Password = options.Password,
                Manageable = true,
                ClientMaster = true,
                FaultTolerant = transport.IsFaultTolerant,
            }, "Connecting", cancellationToken);
            return connection;
        }
        catch (Exception e)
        {
            await transport.DisposeAsync();
            if (e is TransportClosedException or IOException or System.Net.Sockets.SocketException or TimeoutException)
            {
                throw new MessagingException($"Could not connect to {options.TransportUri}: {e.Message}", e);
            }
            throw;
        }
    }

    /// <summary>Lets consumers deliver messages (prefetched messages wait until then).</summary>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        _started = true;
        foreach (var consumer in _consumers.Values)
        {
            consumer.Wake();
        }
        return Task.CompletedTask;
    }

    /// <summary>Pauses delivery to consumers; sending still works.</summary>
    public Task StopAsync(CancellationToken cancellationToken = default)
    {
        _started = false;
        return Task.CompletedTask;
    }

    /// <summary>Creates a session (SessionInfo) with the given acknowledgement mode.</summary>
    public async Task<Session> CreateSessionAsync(AcknowledgeMode acknowledgeMode = AcknowledgeMode.Auto, CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        var id = new Wire.SessionId(Id.Value!, Interlocked.Increment(ref _sessionIds));
        await SendAsync(new Wire.SessionInfo { SessionId = id }, cancellationToken);
        var session = new Session(this, id, acknowledgeMode);
        _sessions[id.Value] = session;
        return session;
    }

    /// <summary>Closes the connection: its sessions, then RemoveInfo (waiting up to the close timeout) and ShutdownInfo.</summary>
    public async Task CloseAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }
        _started = false;
        try
        {
            if (_failure is null)
            {
                foreach (var session in _sessions.Values)
                {
                    await session.CloseAsync(cancellationToken);
                }
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(Options.CloseTimeout);
                await _transport.RequestAsync(new Wire.RemoveInfo { ObjectId = Id, LastDeliveredSequenceId = -1 }, timeout.Token);
                await _transport.SendAsync(new Wire.ShutdownInfo(), timeout.Token);
            }
        }
        catch (Exception e) when (e is TransportClosedException or OperationCanceledException or MessagingException or IOException)
        {
            // The broker is gone or slow: closing locally is all that is left.
        }
        finally
        {
            foreach (var consumer in _consumers.Values)
            {
                consumer.CloseLocally();
            }
            await _transport.DisposeAsync();
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await CloseAsync();

    internal async Task<Wire.Response> RequestAsync(Command command, string what, CancellationToken cancellationToken, TimeSpan? timeout = null)
    {
        ThrowIfFailed();
        var limit = timeout ?? Options.RequestTimeout;
        using var abandon = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            var response = _transport.RequestAsync(command, abandon.Token);
            // The limit is for a broker that is connected but silent. Through a failover the transport
            // bounds the outage itself (its `timeout` option), so a wait that saw a reconnect starts over.
            while (true)
            {
                long outages = Interlocked.Read(ref _outages);
                try
                {
                    return MessagingException.EnsureOk(await response.WaitAsync(limit, cancellationToken), what);
                }
                catch (TimeoutException e) when (e is not FailoverTimeoutException
                    && _transport.IsFaultTolerant && (Interlocked.Read(ref _outages) != outages || _transport.RemoteAddress is null))
                {
                }
            }
        }
        catch (FailoverTimeoutException e)
        {
            throw new MessagingException($"{what}: {e.Message}", e);
        }
        catch (TimeoutException)
        {
            await abandon.CancelAsync();
            throw new MessagingException($"{what}: no response from the broker within {limit.TotalSeconds} s");
        }
        catch (TransportClosedException e)
        {
            throw new MessagingException($"{what}: {e.Message}", e);
        }
        catch (Ferry.Protocol.Transport.TransactionRolledBackException e)
        {
            throw new TransactionRolledBackException($"{what}: {e.Message}", e.InDoubt, e);
        }
    }

    internal async ValueTask SendAsync(Command command, CancellationToken cancellationToken)
    {
        ThrowIfFailed();
        try
        {
            await _transport.SendAsync(command, cancellationToken);
        }
        catch (TransportClosedException e)
        {
            throw new MessagingException(e.Message, e);
        }
        catch (Ferry.Protocol.Transport.TransactionRolledBackException e)
        {
            throw new TransactionRolledBackException(e.Message, e.InDoubt, e);
        }
        catch (FailoverTimeoutException e)
        {
            throw new MessagingException(e.Message, e);
        }
    }

    internal long NextTransactionId() => Interlocked.Increment(ref _transactionIds);

    internal void Register(MessageConsumer consumer) => _consumers[consumer.Id] = consumer;

    internal void Unregister(MessageConsumer consumer) => _consumers.TryRemove(consumer.Id, out _);

    internal void Register(MessageProducer producer) => _producers[producer.Id] = producer;

    internal void Unregister(MessageProducer producer) => _producers.TryRemove(producer.Id, out _);

    internal void Unregister(Session session) => _sessions.TryRemove(session.Id.Value, out _);

    internal async Task<T> CreateTemporaryDestinationAsync<T>(bool topic, CancellationToken cancellationToken) where T : Destination
    {
        ThrowIfClosed();
        string name = string.Create(CultureInfo.InvariantCulture, $"{Id.Value}:{Interlocked.Increment(ref _tempDestinationIds)}");
        Destination destination = topic ? new TemporaryTopic(name, this) : new TemporaryQueue(name, this);
        await RequestAsync(new Wire.DestinationInfo
        {
            ConnectionId = Id,
            Destination = destination.ToWire(),
            OperationType = Wire.DestinationInfo.Add,
        }, "Creating a temporary destination", cancellationToken);
        return (T)destination;
    }

    internal async Task DeleteTemporaryDestinationAsync(Destination destination, CancellationToken cancellationToken)
    {
        ThrowIfClosed();
        await RequestAsync(new Wire.DestinationInfo
        {
            ConnectionId = Id,
            Destination = destination.ToWire(),
            OperationType = Wire.DestinationInfo.Remove,
        }, $"Deleting {destination}", cancellationToken);
    }

    internal async Task UnsubscribeAsync(string name, CancellationToken cancellationToken)
    {
        ThrowIfClosed();
        await RequestAsync(new Wire.RemoveSubscriptionInfo { ConnectionId = Id, SubscriptionName = name, ClientId = ClientId },
            $"Removing durable subscription '{name}'", cancellationToken);
    }

    private async ValueTask OnCommandAsync(Command command)
    {
        switch (command)
        {
            case Wire.MessageDispatch dispatch when dispatch.ConsumerId is { } id && _consumers.TryGetValue(id, out var consumer):
                await consumer.OnDispatchAsync(dispatch);
                break;
            case Wire.ProducerAck ack when ack.ProducerId is { } id && _producers.TryGetValue(id, out var producer):
                producer.OnProducerAck(ack.Size);
                break;
            case Wire.ConnectionError error:
                Raise(MessagingException.FromBroker(error.Exception, "The broker reported an error"));
                break;
            case Wire.ConsumerControl { Close: true } control when control.ConsumerId is { } id && _consumers.TryGetValue(id, out var closing):
                closing.CloseLocally();
                break;
        }
    }

    private void OnTransportFailed(TransportEventArgs e)
    {
        var failure = new MessagingException($"Connection to {e.Address} failed: {e.Reason}");
        _failure = failure;
        foreach (var consumer in _consumers.Values)
        {
            consumer.Wake();
        }
        foreach (var producer in _producers.Values)
        {
            producer.OnProducerAck(0);
        }
        if (!IsClosed)
        {
            Raise(failure);
        }
    }

    private void Raise(MessagingException exception)
    {
        try
        {
            ExceptionThrown?.Invoke(this, new ConnectionExceptionEventArgs(exception));
        }
#pragma warning disable CA1031 // an application handler must not break the read loop
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    internal void ThrowIfFailed()
    {
        if (_failure is { } failure)
        {
            throw new MessagingException(failure.Message, failure);
        }
    }

    internal void ThrowIfClosed()
    {
        ObjectDisposedException.ThrowIf(IsClosed, this);
        ThrowIfFailed();
    }
}

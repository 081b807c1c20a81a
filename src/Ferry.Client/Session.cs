using Wire = Ferry.Protocol.OpenWire.Commands;

namespace Ferry.Client;

/// <summary>
/// A single-threaded context for producing and consuming, with one acknowledgement mode. In
/// <see cref="AcknowledgeMode.Transacted"/> mode its sends and acknowledgements form local
/// transactions, begun lazily and ended by <see cref="CommitAsync"/> or <see cref="RollbackAsync"/>.
/// </summary>
public sealed class Session : IAsyncDisposable
{
    private readonly List<MessageConsumer> _consumers = [];
    // Consumers closed while the open transaction holds messages they delivered: they leave when it ends.
    private readonly List<MessageConsumer> _closeAfterTransaction = [];
    private readonly List<MessageProducer> _producers = [];
    private readonly SemaphoreSlim _transactionGate = new(1, 1);
    private Wire.LocalTransactionId? _transactionId;
    private long _consumerIds;
    private long _producerIds;
    private int _closed;

    internal Session(Connection connection, Wire.SessionId id, AcknowledgeMode acknowledgeMode)
    {
        Connection = connection;
        Id = id;
        AcknowledgeMode = acknowledgeMode;
    }

    /// <summary>The session's acknowledgement mode.</summary>
    public AcknowledgeMode AcknowledgeMode { get; }

    /// <summary>True for <see cref="AcknowledgeMode.Transacted"/>.</summary>
    public bool Transacted => AcknowledgeMode == AcknowledgeMode.Transacted;

    internal Connection Connection { get; }
    internal Wire.SessionId Id { get; }
    internal bool IsClosed => Volatile.Read(ref _closed) != 0;

    /// <summary>
    /// Creates a producer (ProducerInfo). With a null <paramref name="destination"/> it is anonymous and
    /// each send names its destination.
    /// </summary>
    public async Task<MessageProducer> CreateProducerAsync(Destination? destination = null, CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        var id = new Wire.ProducerId(Id.ConnectionId!, Id.Value, Interlocked.Increment(ref _producerIds));
        var producer = new MessageProducer(this, id, destination);
        Connection.Register(producer);
        try
        {
            await Connection.RequestAsync(new Wire.ProducerInfo
            {
                ProducerId = id,
                Destination = destination?.ToWire(),
                WindowSize = Connection.Options.ProducerWindowSize,
            }, $"Creating a producer on {destination?.ToString() ?? "no destination"}", cancellationToken);
        }
        catch
        {
            Connection.Unregister(producer);
            throw;
        }
        lock (_producers)
        {
            _producers.Add(producer);
        }
        return producer;
    }

    /// <summary>
    /// Creates a consumer (ConsumerInfo) on a queue or topic, optionally with a JMS selector and, for
    /// topics, <paramref name="noLocal"/> to skip messages this connection published.
    /// </summary>
    /// <exception cref="MessagingException">The broker refused it (e.g. an invalid selector).</exception>
    public Task<MessageConsumer> CreateConsumerAsync(Destination destination, string? selector = null, bool noLocal = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var prefetch = Connection.Options.Prefetch;
        return CreateConsumerCoreAsync(destination, selector, noLocal, null, destination.IsTopic ? prefetch.TopicPrefetch : prefetch.QueuePrefetch, cancellationToken);
    }

    /// <summary>
    /// Creates a consumer on the durable subscription <paramref name="name"/> of this connection's client id,
    /// creating the subscription if needed. Messages published while no consumer is open are kept for it.
    /// </summary>
    public Task<MessageConsumer> CreateDurableConsumerAsync(Topic topic, string name, string? selector = null, bool noLocal = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(topic);
        ArgumentException.ThrowIfNullOrEmpty(name);
        return CreateConsumerCoreAsync(topic, selector, noLocal, name, Connection.Options.Prefetch.DurableTopicPrefetch, cancellationToken);
    }

    /// <summary>Removes the durable subscription <paramref name="name"/> (RemoveSubscriptionInfo); its consumer must be closed first.</summary>
    public Task UnsubscribeAsync(string name, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ThrowIfClosed();
        return Connection.UnsubscribeAsync(name, cancellationToken);
    }

    /// <summary>Creates a temporary queue that lives as long as the connection.</summary>
    public Task<TemporaryQueue> CreateTemporaryQueueAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        return Connection.CreateTemporaryDestinationAsync<TemporaryQueue>(topic: false, cancellationToken);
    }

    /// <summary>Creates a temporary topic that lives as long as the connection.</summary>
    public Task<TemporaryTopic> CreateTemporaryTopicAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        return Connection.CreateTemporaryDestinationAsync<TemporaryTopic>(topic: true, cancellationToken);
    }

    /// <summary>
    /// Commits the current transaction: acknowledges what its consumers delivered (a STANDARD ack with the
    /// transaction id) and sends COMMIT. If the commit fails the transaction is rolled back locally and the
    /// error thrown.
    /// </summary>
    /// <exception cref="InvalidOperationException">The session is not transacted.</exception>
    /// <exception cref="TransactionRolledBackException">The transaction was open while a failover connection moved to another broker; it is rolled back.</exception>
    public async Task CommitAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        if (!Transacted)
        {
            throw new InvalidOperationException("CommitAsync needs a transacted session");
        }
        await _transactionGate.WaitAsync(cancellationToken);
        try
        {
            if (_transactionId is { } tx)
            {
                try
                {
                    foreach (var consumer in Consumers())
                    {
                        await consumer.AcknowledgeDeliveredAsync(Wire.AckType.Standard, tx, cancellationToken);
                    }
                    await Connection.RequestAsync(new Wire.TransactionInfo
                    {
                        ConnectionId = Connection.Id,
                        TransactionId = tx,
                        Type = (byte)Wire.TransactionType.CommitOnePhase,
                    }, "Commit", cancellationToken);
                }
                catch
                {
                    _transactionId = null;
                    foreach (var consumer in Consumers())
                    {
                        await consumer.RedeliverLocallyAsync(CancellationToken.None);
                    }
                    await LeaveClosedConsumersAsync(CancellationToken.None);
                    throw;
                }
                _transactionId = null;
            }
            foreach (var consumer in Consumers())
            {
                consumer.ForgetDelivered();
            }
            await LeaveClosedConsumersAsync(cancellationToken);
        }
        finally
        {
            _transactionGate.Release();
        }
    }

    /// <summary>
    /// Keeps a closed consumer in the session until the open transaction ends (its acks go with the commit).
    /// False if no transaction is open: the consumer leaves now.
    /// </summary>
    internal bool CloseAfterTransaction(MessageConsumer consumer)
    {
        lock (_consumers)
        {
            if (_transactionId is null)
            {
                return false;
            }
            _closeAfterTransaction.Add(consumer);
            return true;
        }
    }

    private async Task LeaveClosedConsumersAsync(CancellationToken cancellationToken)
    {
        MessageConsumer[] leaving;
        lock (_consumers)
        {
            leaving = [.. _closeAfterTransaction];
            _closeAfterTransaction.Clear();
        }
        foreach (var consumer in leaving)
        {
            await consumer.LeaveAsync(cancellationToken);
        }
    }

    /// <summary>
    /// Rolls back the current transaction: the broker discards its sends, and the messages its consumers
    /// delivered are delivered again locally, marked redelivered (up to the redelivery policy's limit).
    /// </summary>
    /// <exception cref="InvalidOperationException">The session is not transacted.</exception>
    public async Task RollbackAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        if (!Transacted)
        {
            throw new InvalidOperationException("RollbackAsync needs a transacted session");
        }
        await _transactionGate.WaitAsync(cancellationToken);
        try
        {
            await RollbackCoreAsync(cancellationToken);
        }
        finally
        {
            _transactionGate.Release();
        }
    }

    /// <summary>
    /// Delivers again, marked redelivered, every message this session delivered but did not acknowledge
    /// (JMS <c>recover</c>). Not for transacted sessions.
    /// </summary>
    public async Task RecoverAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        if (Transacted)
        {
            throw new InvalidOperationException("A transacted session uses RollbackAsync, not RecoverAsync");
        }
        foreach (var consumer in Consumers())
        {
            await consumer.RedeliverLocallyAsync(cancellationToken);
        }
    }

    /// <summary>Closes the session's consumers and producers, rolls back an open transaction and removes the session.</summary>
    public async Task CloseAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }
        try
        {
            if (Transacted && _transactionId is not null && !Connection.IsClosed)
            {
                await RollbackCoreAsync(cancellationToken);
            }
            foreach (var consumer in Consumers())
            {
                await consumer.CloseAsync(cancellationToken);
            }
            MessageProducer[] producers;
            lock (_producers)
            {
                producers = [.. _producers];
            }
            foreach (var producer in producers)
            {
                await producer.CloseAsync(cancellationToken);
            }
            await Connection.SendAsync(new Wire.RemoveInfo { ObjectId = Id, LastDeliveredSequenceId = -2 }, cancellationToken);
        }
        catch (MessagingException)
        {
            // The connection failed: nothing to tell the broker.
        }
        finally
        {
            Connection.Unregister(this);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await CloseAsync();

    private async Task RollbackCoreAsync(CancellationToken cancellationToken)
    {
        if (_transactionId is { } tx)
        {
            _transactionId = null;
            await Connection.RequestAsync(new Wire.TransactionInfo
            {
                ConnectionId = Connection.Id,
                TransactionId = tx,
                Type = (byte)Wire.TransactionType.Rollback,
            }, "Rollback", cancellationToken);
        }
        foreach (var consumer in Consumers())
        {
            await consumer.RedeliverLocallyAsync(cancellationToken);
        }
        await LeaveClosedConsumersAsync(cancellationToken);
    }

    /// <summary>The current local transaction, begun (BEGIN, one-way) at the first send or delivery after a commit or rollback.</summary>
    internal async ValueTask<Wire.TransactionId?> EnsureTransactionAsync(CancellationToken cancellationToken)
    {
        if (!Transacted)
        {
            return null;
        }
        if (_transactionId is { } current)
        {
            return current;
        }
        await _transactionGate.WaitAsync(cancellationToken);
        try
        {
            if (_transactionId is null)
            {
                var tx = new Wire.LocalTransactionId(Connection.Id, Connection.NextTransactionId());
                await Connection.SendAsync(new Wire.TransactionInfo
                {
                    ConnectionId = Connection.Id,
                    TransactionId = tx,
                    Type = (byte)Wire.TransactionType.Begin,
                }, cancellationToken);
                _transactionId = tx;
            }
            return _transactionId;
        }
        finally
        {
            _transactionGate.Release();
        }
    }

    /// <summary>Client-acknowledge mode: acknowledges everything every consumer of the session delivered.</summary>
    internal async Task AcknowledgeAllAsync(CancellationToken cancellationToken)
    {
        foreach (var consumer in Consumers())
        {
            await consumer.AcknowledgeDeliveredAsync(Wire.AckType.Standard, null, cancellationToken);
            consumer.ForgetDelivered();
        }
    }

    internal async Task<MessageConsumer> CreateConsumerCoreAsync(Destination destination, string? selector, bool noLocal, string? subscriptionName, int prefetch, CancellationToken cancellationToken)
    {
        ThrowIfClosed();
        var id = new Wire.ConsumerId(Id.ConnectionId!, Id.Value, Interlocked.Increment(ref _consumerIds));
        var info = new Wire.ConsumerInfo
        {
            ConsumerId = id,
            Destination = destination.ToWire(),
            PrefetchSize = prefetch,
            DispatchAsync = Connection.Options.DispatchAsync,
            Selector = string.IsNullOrWhiteSpace(selector) ? null : selector,
            ClientId = Connection.ClientId,
            SubscriptionName = subscriptionName,
            NoLocal = noLocal,
        };
        var consumer = new MessageConsumer(this, id, destination, info);
        Connection.Register(consumer);
        try
        {
            await Connection.RequestAsync(info, $"Creating a consumer on {destination}", cancellationToken);
        }
        catch
        {
            Connection.Unregister(consumer);
            throw;
        }
        lock (_consumers)
        {
            _consumers.Add(consumer);
        }
        return consumer;
    }

    internal void Remove(MessageConsumer consumer)
    {
        lock (_consumers)
        {
            _consumers.Remove(consumer);
        }
    }

    internal void Remove(MessageProducer producer)
    {
        lock (_producers)
        {
            _producers.Remove(producer);
        }
    }

    private MessageConsumer[] Consumers()
    {
        lock (_consumers)
        {
            return [.. _consumers];
        }
    }

    private void ThrowIfClosed()
    {
        ObjectDisposedException.ThrowIf(IsClosed, this);
        Connection.ThrowIfClosed();
    }
}

using System.Collections.Concurrent;
using Ferry.Broker.Advisory;
using Ferry.Broker.Connections;
using Ferry.Broker.Destinations;
using Ferry.Broker.Storage;
using Ferry.Protocol.OpenWire;
using Ferry.Protocol.OpenWire.Commands;
using Ferry.Protocol.Stomp;
using Ferry.Protocol.Transport;
using Microsoft.Extensions.Logging;

namespace Ferry.Broker;

/// <summary>
/// The broker: its connectors, connections, destinations and advisories. Start binds every
/// connector (failing if any cannot bind); Stop closes connectors, then connections, in that order.
/// </summary>
public sealed partial class BrokerService : IAsyncDisposable, IDestinationHost
{
    private static long _instances;

    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly List<TransportConnector> _connectors = [];
    private readonly ConcurrentDictionary<OpenWireConnection, Task> _connections = new();
    private readonly ConcurrentDictionary<string, OpenWireConnection> _clientIds = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Destination, TempDestination> _tempDestinations = new();
    private readonly CancellationTokenSource _stopping = new();
    private long _sequence;
    private long _subscriptionIds;
    private int _state; // 0 new, 1 started, 2 stopped
    private ITimer? _expiryTimer;

    public BrokerService(BrokerOptions options, ILoggerFactory loggerFactory, IPersistenceAdapter store, TimeProvider? time = null)
    {
        options.Validate();
        Options = options;
        Store = store;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger("Ferry.Broker");
        Time = time ?? TimeProvider.System;
        long startMillis = Time.GetUtcNow().ToUnixTimeMilliseconds();
        BrokerId = new BrokerId($"ID:{Environment.MachineName}-{Environment.ProcessId}-{startMillis}-{Interlocked.Increment(ref _instances)}:1");
        Memory = new MemoryUsage("broker", options.MemoryLimit);
        Destinations = new DestinationRegistry(this, UsageFor);
        Advisories = new AdvisoryPublisher(this);
        Destinations.DestinationCreated += Advisories.DestinationCreated;
    }

    public BrokerOptions Options { get; }
    public TimeProvider Time { get; }
    public IPersistenceAdapter Store { get; }
    /// <summary>Bytes of messages held by the whole broker, against <see cref="BrokerOptions.MemoryLimit"/>.</summary>
    public MemoryUsage Memory { get; }
    public ProducerAudit Audit { get; } = new();
    public BrokerId BrokerId { get; }
    public string BrokerName => Options.BrokerName;
    public DestinationRegistry Destinations { get; }
    public AdvisoryPublisher Advisories { get; }

    /// <summary>The first connector's address, as advertised in BrokerInfo.</summary>
    public string BrokerUrl => _connectors.Count > 0 ? _connectors[0].BoundUri : "vm://" + BrokerName;

    /// <summary>Where each connector listens, with real ports.</summary>
    public IReadOnlyList<string> BoundUris => _connectors.Select(c => c.BoundUri).ToList();

    public int ConnectionCount => _connections.Count;

    internal ILoggerFactory LoggerFactory => _loggerFactory;

    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0)
        {
            throw new InvalidOperationException("broker already started");
        }
        await RecoverAsync(cancellationToken);
        try
        {
            foreach (var config in Options.TransportConnectors)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var connector = new TransportConnector(config, this, _loggerFactory.CreateLogger("Ferry.Broker.Connector"));
                _connectors.Add(connector);
                await connector.StartAsync(cancellationToken);
            }
        }
        catch
        {
            // One connector could not bind: release those that did, so the failed start holds no port.
            foreach (var connector in _connectors)
            {
                await connector.DisposeAsync();
            }
            _connectors.Clear();
            throw;
        }
        _expiryTimer = Time.CreateTimer(_ => ExpireMessages(), null,
            TimeSpan.FromMilliseconds(Options.ExpireMessagesPeriod), TimeSpan.FromMilliseconds(Options.ExpireMessagesPeriod));
        LogStarted(_logger, BrokerName, BrokerId.Value!, Store.Description);
    }

    /// <summary>Publishes ActiveMQ.Advisory.MasterBroker: this broker now serves (it holds the shared lock).</summary>
    public void AnnounceMaster() => Advisories.MasterBroker(new BrokerInfo
    {
        BrokerId = BrokerId,
        BrokerName = BrokerName,
        BrokerUrl = BrokerUrl,
        MasterBroker = true,
    });

    /// <summary>Rebuilds destinations, durable subscriptions and pending messages from the store.</summary>
    public async Task RecoverAsync(CancellationToken cancellationToken)
    {
        var recovered = await Store.RecoverAsync(cancellationToken);
        var subscriptions = new Dictionary<long, TopicSubscription>();
        foreach (var info in recovered.Subscriptions)
        {
            var consumerInfo = new ConsumerInfo
            {
                ConsumerId = new ConsumerId("durable:" + info.ClientId, 0, info.Id),
                Destination = info.Destination,
                Selector = info.Selector,
                SubscriptionName = info.Name,
                ClientId = info.ClientId,
                NoLocal = info.NoLocal,
                PrefetchSize = 0,
            };
            var subscription = new TopicSubscription(consumerInfo, null, this, Options.TopicSubscriberMaxPending, info)
            {
                Usage = TopicUsage(info.Destination),
            };
            Destinations.AddDurable(subscription);
            subscriptions[info.Id] = subscription;
            _subscriptionIds = Math.Max(_subscriptionIds, info.Id);
        }
        int messages = 0;
        foreach (var message in recovered.Messages)
        {
            var m = message.Message;
            m.MessageId!.BrokerSequenceId = NextSequence();
            Audit.Record(m.MessageId);
            if (m.Destination!.IsTopic)
            {
                if (message.PendingSubscriptions.Count > 1)
                {
                    m.SharedHeader = new();
                }
                foreach (var id in message.PendingSubscriptions)
                {
                    subscriptions.GetValueOrDefault(id)?.Recover(m);
                }
            }
            else
            {
                Destinations.GetOrCreateQueue(m.Destination).Recover(m);
            }
            messages++;
        }
        foreach (var (producer, sequence) in recovered.ProducerSequences)
        {
            Audit.Record(producer, sequence);
        }
        LogRecovered(_logger, messages, recovered.Subscriptions.Count, Store.Description);
    }

    private void ExpireMessages()
    {
        foreach (var destination in Destinations.All.ToList())
        {
            destination.ExpireMessages();
        }
    }

    /// <summary>
    /// What a topic subscription's held messages count against: its topic's usage, or the broker's
    /// alone when it spans several topics (wildcard, composite).
    /// </summary>
    internal MemoryUsage TopicUsage(Destination destination) => destination.IsComposite || destination.IsWildcard
        ? Memory
        : Destinations.GetOrCreateTopic(destination).Usage;

    private MemoryUsage UsageFor(Destination destination)
    {
        long limit = PolicyFor(destination)?.MemoryLimit ?? Options.DestinationMemoryLimit;
        return new MemoryUsage(destination.QualifiedName, limit, Memory);
    }

    private DestinationPolicy? PolicyFor(Destination destination) => Options.DestinationPolicies.Find(p => p.Applies(destination));

    /// <summary>Serves one accepted OpenWire connection until it ends (tests pass in-memory connections here).</summary>
    public Task Serve(IDuplexConnection transport, TransportConnector? connector, WireFormatOptions? wireFormat = null)
    {
        var options = new OpenWireChannelOptions
        {
            MaxPendingOutputBytes = Options.MaxPendingOutputBytesPerConnection,
            HandshakeTimeout = connector?.Options?.ConnectionTimeout ?? TimeSpan.FromSeconds(30),
        };
        var format = wireFormat ?? connector?.Options?.WireFormat ?? WireFormatOptions.Listener;
        return Serve(new OpenWireConnection(this, connector, (_, logger) => new OpenWireChannel(transport, format, options, Time, logger)));
    }

    /// <summary>Serves one accepted STOMP connection (TCP or WebSocket) until it ends.</summary>
    public Task ServeStomp(IDuplexConnection transport, TransportConnector? connector, StompTransportOptions? stompOptions = null)
    {
        var options = stompOptions ?? connector?.StompOptions ?? StompTransportOptions.Default;
        return Serve(new OpenWireConnection(this, connector, (connection, logger) =>
            new StompChannel(transport, options, Options.MaxPendingOutputBytesPerConnection, Time, logger, connection.AcknowledgeFromProtocol)));
    }

    private Task Serve(OpenWireConnection connection)
    {
        var task = RunConnectionAsync(connection);
        _connections[connection] = task;
        return task;
    }

    private async Task RunConnectionAsync(OpenWireConnection connection)
    {
        await Task.Yield();
        try
        {
            await connection.RunAsync(_stopping.Token);
        }
        catch (Exception ex)
        {
            LogConnectionFailed(_logger, connection.RemoteAddress, ex);
        }
        finally
        {
            _connections.TryRemove(connection, out _);
        }
    }

    internal int ConnectionCountOn(TransportConnector connector) => _connections.Keys.Count(c => c.Connector == connector);

    public long NextSequence() => Interlocked.Increment(ref _sequence);

    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _state, 2) == 2)
        {
            return;
        }
        LogStopping(_logger, BrokerName);
        _expiryTimer?.Dispose();
        // WebSocket clients first: Kestrel stops accepting only once its open requests have ended.
        foreach (var connection in _connections.Keys.Where(c => c.Connector?.StompOptions?.IsWebSocket == true))
        {
            connection.CloseForShutdown();
        }
        // Stop accepting first, then close connections (each sends the client a ConnectionError).
        foreach (var connector in _connectors)
        {
            await connector.DisposeAsync();
        }
        foreach (var connection in _connections.Keys)
        {
            connection.CloseForShutdown();
        }
        await _stopping.CancelAsync();
        var all = _connections.Values.ToArray();
        try
        {
            await Task.WhenAll(all).WaitAsync(Options.ShutdownTimeout, Time);
        }
        catch (TimeoutException)
        {
            LogShutdownTimeout(_logger, all.Count(t => !t.IsCompleted));
        }
        LogStopped(_logger, BrokerName);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        await Store.DisposeAsync();
        _stopping.Dispose();
    }

    // ---- client ids and temporary destinations ----

    /// <summary>
    /// Claims a client id. The same logical connection coming back (a failover client reconnecting
    /// before the broker noticed its old socket died) takes the id over and the stale connection is
    /// dropped, as ActiveMQ does; anyone else gets false.
    /// </summary>
    internal bool TryRegisterClientId(string clientId, OpenWireConnection connection, ConnectionId connectionId)
    {
        while (!_clientIds.TryAdd(clientId, connection))
        {
            if (!_clientIds.TryGetValue(clientId, out var existing))
            {
                continue;
            }
            if (existing.Info?.ConnectionId is not { } held || !held.Equals(connectionId))
            {
                return false;
            }
            LogStaleConnection(_logger, clientId, existing.RemoteAddress);
            existing.Drop("replaced by a reconnect of the same connection from " + connection.RemoteAddress);
            if (_clientIds.TryUpdate(clientId, connection, existing))
            {
                return true;
            }
        }
        return true;
    }

    internal void UnregisterClientId(string clientId, OpenWireConnection connection) =>
        _clientIds.TryRemove(new KeyValuePair<string, OpenWireConnection>(clientId, connection));

    internal void AddTempDestination(DestinationInfo info, OpenWireConnection owner)
    {
        var destination = info.Destination!;
        if (!_tempDestinations.TryAdd(destination, new TempDestination(owner, info)))
        {
            // A reconnecting client replays its temporary destinations: the new connection inherits them.
            if (_tempDestinations.TryGetValue(destination, out var existing) && existing.Owner != owner
                && Equals(existing.Owner.Info?.ConnectionId, owner.Info?.ConnectionId))
            {
                _tempDestinations[destination] = new TempDestination(owner, info);
            }
            return;
        }
        Destinations.GetOrCreate(destination);
        Advisories.TempDestinationChanged(info);
    }

    /// <summary>
    /// Deletes a temporary destination: explicitly (a client's DestinationInfo REMOVE, refused while
    /// it has consumers) or because its owner's connection ended.
    /// </summary>
    internal void RemoveTempDestination(Destination destination, OpenWireConnection owner, DestinationInfo? explicitRemoval)
    {
        if (!_tempDestinations.TryGetValue(destination, out var temp))
        {
            return;
        }
        if (temp.Owner != owner)
        {
            if (explicitRemoval is null)
            {
                return; // a stale connection cleaning up what its successor now owns
            }
            throw new BrokerException(JmsErrors.InvalidDestination, $"Temporary destination {destination} belongs to another connection");
        }
        if (explicitRemoval is not null && ConsumerCountOf(destination) > 0)
        {
            throw new BrokerException(JmsErrors.JmsException, $"Destination still has an active subscription: {destination}");
        }
        _tempDestinations.TryRemove(destination, out _);
        Destinations.Remove(destination);
        var info = explicitRemoval ?? new DestinationInfo { ConnectionId = temp.Info.ConnectionId, Destination = destination };
        info.OperationType = DestinationInfo.Remove;
        Advisories.TempDestinationChanged(info);
    }

    internal bool TempDestinationExists(Destination destination) => _tempDestinations.ContainsKey(destination);

    private sealed record TempDestination(OpenWireConnection Owner, DestinationInfo Info);

    // ---- routing ----

    internal long NextSubscriptionId() => Interlocked.Increment(ref _subscriptionIds);

    /// <summary>The concrete destinations a message sent to <paramref name="destination"/> reaches.</summary>
    internal IReadOnlyList<BrokerDestination> Resolve(Destination destination)
    {
        if (!destination.IsComposite && !destination.IsWildcard && !destination.IsTemporary)
        {
            return Destinations.GetOrCreate(destination).AsTargets;
        }
        var targets = new List<BrokerDestination>(1);
        foreach (var part in destination.IsComposite ? destination.CompositeParts() : [destination])
        {
            if (part.IsWildcard && part.IsQueue)
            {
                throw new BrokerException(JmsErrors.InvalidDestination, $"Cannot send to a wildcard destination: {part}");
            }
            if (part.IsTemporary && !TempDestinationExists(part))
            {
                throw new BrokerException(JmsErrors.InvalidDestination, $"Cannot publish to a deleted Destination: {part}");
            }
            if (part.IsTopic && part.IsWildcard)
            {
                targets.AddRange(Destinations.Topics.Where(t => DestinationFilter.Matches(part.Name, t.Name)));
                continue;
            }
            targets.Add(Destinations.GetOrCreate(part));
        }
        return targets;
    }

    /// <summary>Whether a send to these destinations would have to wait for memory.</summary>
    internal static bool MustWaitForSpace(IReadOnlyList<BrokerDestination> targets)
    {
        for (int i = 0; i < targets.Count; i++)
        {
            if (targets[i].Usage.IsFull)
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Waits (bounded by sendFailIfNoSpaceAfterTimeout) until every target has memory to spare.</summary>
    private const long BlockedProducerWarningIntervalMs = 30_000;

    internal async ValueTask WaitForSpaceAsync(IReadOnlyList<BrokerDestination> targets, CancellationToken cancellationToken)
    {
        foreach (var target in targets)
        {
            if (!target.Usage.IsFull)
            {
                continue;
            }
            // Once per destination and interval (as ActiveMQ's blockedProducerWarningInterval): a producer
            // running into the limit waits once per message, and a warning each time cost measurable CPU.
            long now = Time.GetUtcNow().ToUnixTimeMilliseconds();
            if (target.LastBlockedWarning is not { } last || now - last >= BlockedProducerWarningIntervalMs)
            {
                target.LastBlockedWarning = now;
                LogProducerBlocked(_logger, target.Destination.ToString(), target.Usage.Used, Memory.Used);
            }
            var timeout = TimeSpan.FromMilliseconds(Options.SendFailIfNoSpaceAfterTimeout);
            if (!await target.Usage.WaitForSpaceAsync(timeout, Time, cancellationToken))
            {
                throw new BrokerException(JmsErrors.ResourceAllocation,
                    $"Usage Manager memory limit reached on {target.Destination} ({target.Usage.Used} bytes held, broker {Memory.Used} of {Memory.Limit}). " +
                    $"Send failed after waiting {Options.SendFailIfNoSpaceAfterTimeout} ms for space (sendFailIfNoSpaceAfterTimeout)");
            }
        }
    }

    /// <summary>
    /// Accepts a message outside a transaction: drops a duplicate (a failover resend), waits for
    /// memory, stores it if persistent, then hands it to its destinations. Returns once it is durable.
    /// </summary>
    /// <param name="durability">
    /// <see cref="StoreDurability.Deferred"/> for a send nobody waits on (an async send): written in order,
    /// made durable by the next flush instead of a flush of its own, as KahaDB stores a message that
    /// needs no response.
    /// </param>
    /// <param name="targets">Where the message goes, when the caller resolved that already.</param>
    internal async ValueTask AcceptAsync(Message message, CancellationToken cancellationToken, StoreDurability durability = StoreDurability.Sync,
        IReadOnlyList<BrokerDestination>? targets = null)
    {
        var id = message.MessageId!;
        if (Audit.IsDuplicate(id))
        {
            LogDuplicate(_logger, id.ToString());
            return;
        }
        targets ??= Resolve(message.Destination!);
        await WaitForSpaceAsync(targets, cancellationToken);
        var deliveries = Deliveries(message, targets);
        var batch = new StoreBatch(durability);
        AddStoreOperations(deliveries, batch);
        if (!batch.IsEmpty)
        {
            EnsureStoreSpace();
            await Store.StoreAsync(batch, cancellationToken);
        }
        Audit.Record(id);
        foreach (var (target, copy) in deliveries)
        {
            target.Send(copy);
        }
    }

    /// <summary>Commits a local transaction: its sends and the removal of what it acknowledged, atomically.</summary>
    internal async ValueTask CommitAsync(IReadOnlyList<Message> sends, IReadOnlyList<MessageReference> consumed, CancellationToken cancellationToken)
    {
        var deliveries = new List<(BrokerDestination, Message)>();
        foreach (var message in sends)
        {
            if (!Audit.IsDuplicate(message.MessageId!))
            {
                deliveries.AddRange(Deliveries(message, Resolve(message.Destination!)));
            }
        }
        var batch = new StoreBatch();
        AddStoreOperations(deliveries, batch);
        foreach (var reference in consumed)
        {
            if (StoredFor(reference.Message) && reference.Message.Destination!.IsQueue)
            {
                batch.Operations.Add(new RemoveMessage(reference.Message.Destination, reference.Id));
            }
        }
        if (!batch.IsEmpty)
        {
            EnsureStoreSpace();
            await Store.StoreAsync(batch, cancellationToken);
        }
        foreach (var message in sends)
        {
            Audit.Record(message.MessageId!);
        }
        foreach (var (target, copy) in deliveries)
        {
            target.Send(copy);
        }
    }

    /// <summary>Each target gets its own copy when the message fans out to several (composite destinations).</summary>
    private static List<(BrokerDestination Target, Message Copy)> Deliveries(Message message, IReadOnlyList<BrokerDestination> targets)
    {
        var deliveries = new List<(BrokerDestination, Message)>(targets.Count);
        foreach (var target in targets)
        {
            var copy = message;
            if (targets.Count > 1 || !Equals(message.Destination, target.Destination))
            {
                copy = message.CopyForChange();
                copy.Destination = target.Destination;
                if (!Equals(message.Destination, target.Destination) && targets.Count > 1)
                {
                    copy.OriginalDestination ??= message.Destination;
                }
            }
            copy.TransactionId = null;
            deliveries.Add((target, copy));
        }
        return deliveries;
    }

    private static void AddStoreOperations(List<(BrokerDestination Target, Message Copy)> deliveries, StoreBatch batch)
    {
        foreach (var (target, copy) in deliveries)
        {
            if (!StoredFor(copy))
            {
                continue;
            }
            if (target is Topic topic)
            {
                if (topic.DurableSubscriptionsFor(copy) is { } subscriptions)
                {
                    batch.Operations.Add(new AddMessage(copy, subscriptions));
                }
            }
            else
            {
                batch.Operations.Add(new AddMessage(copy));
            }
        }
    }

    /// <summary>Persistent messages on regular destinations are stored; temporary destinations die with their owner.</summary>
    private static bool StoredFor(Message message) => message.Persistent && message.Destination is { IsTemporary: false };

    private void EnsureStoreSpace()
    {
        if (Store.UsedBytes >= Options.StoreLimit)
        {
            throw new BrokerException(JmsErrors.ResourceAllocation,
                $"Persistent store is full: {Store.UsedBytes} bytes used of the {Options.StoreLimit} byte storeLimit; send refused");
        }
    }

    // ---- IDestinationHost ----

    void IDestinationHost.Consumed(Destination destination, MessageReference reference, long? subscriptionId)
    {
        var message = reference.Message;
        if (!StoredFor(message) || (destination.IsTopic && subscriptionId is null))
        {
            return;
        }
        StoreInBackground(new StoreBatch(new RemoveMessage(message.Destination!, reference.Id, subscriptionId), StoreDurability.Deferred));
    }

    void IDestinationHost.DeadLetter(Destination destination, MessageReference reference, string cause, long? subscriptionId) =>
        MoveToDeadLetterQueue(reference, cause, subscriptionId);

    void IDestinationHost.Expired(Destination destination, MessageReference reference, long? subscriptionId)
    {
        var message = reference.Message;
        if (Options.ExpiredMessagesToDeadLetter && (message.Persistent || Options.NonPersistentToDeadLetter))
        {
            MoveToDeadLetterQueue(reference, "message expired", subscriptionId);
            return;
        }
        LogExpiredDropped(_logger, message.MessageId?.ToString() ?? "?", destination.ToString());
        ((IDestinationHost)this).Consumed(destination, reference, subscriptionId);
    }

    /// <summary>
    /// A message that arrived already expired (a send held up past its time to live, or a producer's clock ahead):
    /// never stored nor dispatched, it is dead-lettered as a message expiring in its queue would be (as ActiveMQ does).
    /// </summary>
    internal void ExpiredOnArrival(Message message)
    {
        if (message.MessageId is { } id)
        {
            if (Audit.IsDuplicate(id))
            {
                return; // a failover resend of a message accepted before: not a second copy for the DLQ
            }
            Audit.Record(id);
        }
        // A composite or wildcard send has no one destination to name a dead-letter queue after: dropped, as before.
        if (Options.ExpiredMessagesToDeadLetter && (message.Persistent || Options.NonPersistentToDeadLetter)
            && message.Destination is { IsComposite: false, IsWildcard: false })
        {
            MoveToDeadLetterQueue(new MessageReference(message), "message expired", subscriptionId: null, stored: false);
            return;
        }
        LogExpiredDropped(_logger, message.MessageId?.ToString() ?? "?", message.Destination?.ToString() ?? "?");
    }

    int IDestinationHost.MaximumRedeliveries(Destination destination) =>
        PolicyFor(destination)?.MaximumRedeliveries ?? Options.MaximumRedeliveries;

    internal Destination DeadLetterQueueFor(Destination original)
    {
        if (PolicyFor(original)?.DeadLetterQueue is { } configured)
        {
            return Destination.Queue(configured);
        }
        return Options.DeadLetterStrategy == "individual"
            ? Destination.Queue((original.IsTopic ? "ActiveMQ.DLQ.Topic." : "ActiveMQ.DLQ.Queue.") + original.Name)
            : Destination.Queue(Options.DeadLetterQueue);
    }

    /// <summary>
    /// Moves a message that cannot be delivered to its dead-letter queue (atomically in the store; <paramref name="stored"/>
    /// false for one that never was).
    /// </summary>
    internal void MoveToDeadLetterQueue(MessageReference reference, string cause, long? subscriptionId, bool stored = true)
    {
        var original = reference.Message;
        var source = original.Destination!;
        var dlq = DeadLetterQueueFor(source);
        var removal = stored && StoredFor(original) && (source.IsQueue || subscriptionId is not null)
            ? new RemoveMessage(source, reference.Id, subscriptionId)
            : null;
        if (source.IsQueue && source.Name == dlq.Name)
        {
            LogDroppedFromDlq(_logger, original.MessageId?.ToString() ?? "?");
            if (removal is not null)
            {
                StoreInBackground(new StoreBatch(removal, StoreDurability.Deferred));
            }
            return;
        }
        if (!original.Persistent && !Options.NonPersistentToDeadLetter)
        {
            LogExpiredDropped(_logger, original.MessageId?.ToString() ?? "?", source.ToString());
            return;
        }
        var copy = original.CopyForChange();
        copy.OriginalDestination = source;
        copy.Destination = dlq;
        copy.RedeliveryCounter = reference.RedeliveryCounter;
        copy.Expiration = 0;
        copy.MessageId = new MessageId(original.MessageId!.ProducerId!, original.MessageId.ProducerSequenceId)
        {
            TextView = original.MessageId.TextView,
            BrokerSequenceId = NextSequence(),
        };
        copy.MarshalledProperties = WithProperty(original.MarshalledProperties, "dlqDeliveryFailureCause", cause);
        LogDeadLettered(_logger, copy.MessageId.ToString(), source.ToString(), dlq.ToString(), cause);
        var batch = new StoreBatch(StoreDurability.Deferred);
        if (StoredFor(copy))
        {
            batch.Operations.Add(new AddMessage(copy));
        }
        if (removal is not null)
        {
            batch.Operations.Add(removal);
        }
        var queue = Destinations.GetOrCreateQueue(dlq);
        if (batch.IsEmpty)
        {
            queue.Send(copy);
            return;
        }
        // The copy becomes visible only once stored, so an ack of it always finds it in the store.
        _ = StoreThenSendAsync(batch, queue, copy);
    }

    private async Task StoreThenSendAsync(StoreBatch batch, Queue queue, Message message)
    {
        try
        {
            await Store.StoreAsync(batch, CancellationToken.None);
            queue.Send(message);
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or ObjectDisposedException)
        {
            LogStoreFailed(_logger, ex);
        }
    }

    private static byte[]? WithProperty(byte[]? marshalled, string name, object value)
    {
        var properties = marshalled is null ? new Dictionary<string, object?>(StringComparer.Ordinal) : Ferry.Protocol.OpenWire.Marshalling.PrimitiveMap.Decode(marshalled) ?? new(StringComparer.Ordinal);
        properties[name] = value;
        return Ferry.Protocol.OpenWire.Marshalling.PrimitiveMap.Encode(properties);
    }

    /// <summary>Store work nobody waits for (acks, dead-lettering); a failure is logged loudly.</summary>
    private void StoreInBackground(StoreBatch batch)
    {
        var pending = Store.StoreAsync(batch, CancellationToken.None);
        if (!pending.IsCompletedSuccessfully)
        {
            _ = ObserveAsync(pending);
        }
    }

    private async Task ObserveAsync(ValueTask pending)
    {
        try
        {
            await pending;
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or ObjectDisposedException)
        {
            LogStoreFailed(_logger, ex);
        }
    }

    // ---- advisory state replay ----

    /// <summary>Everything a new advisory subscriber may be told about, as (topic, payload, property).</summary>
    internal IEnumerable<(string Topic, DataStructure Payload, (string, int)? Property)> AdvisoryState()
    {
        foreach (var temp in _tempDestinations.Values)
        {
            yield return (temp.Info.Destination!.IsTopic ? AdvisoryPublisher.TempTopicTopic : AdvisoryPublisher.TempQueueTopic, temp.Info, null);
        }
        foreach (var connection in _connections.Keys)
        {
            if (connection.Info is { } info)
            {
                yield return (AdvisoryPublisher.ConnectionTopic, AdvisoryPublisher.Sanitize(info), null);
            }
            foreach (var consumer in connection.ConsumerInfos)
            {
                if (consumer.Destination is { } d && !AdvisoryPublisher.IsAdvisory(d))
                {
                    foreach (var part in d.CompositeParts())
                    {
                        yield return (AdvisoryPublisher.ConsumerTopicFor(part), consumer, ("consumerCount", ConsumerCountOf(part)));
                    }
                }
            }
            foreach (var producer in connection.ProducerInfos)
            {
                if (producer.Destination is { } d && !AdvisoryPublisher.IsAdvisory(d))
                {
                    yield return (AdvisoryPublisher.ProducerTopicFor(d), producer, ("producerCount", 1));
                }
            }
        }
        foreach (var queue in Destinations.Queues)
        {
            if (!queue.Destination.IsTemporary && !AdvisoryPublisher.IsAdvisory(queue.Destination))
            {
                yield return (AdvisoryPublisher.QueueTopic, new DestinationInfo { Destination = queue.Destination }, null);
            }
        }
        foreach (var topic in Destinations.Topics)
        {
            if (!topic.Destination.IsTemporary && !AdvisoryPublisher.IsAdvisory(topic.Destination))
            {
                yield return (AdvisoryPublisher.TopicTopic, new DestinationInfo { Destination = topic.Destination }, null);
            }
        }
    }

    internal int ConsumerCountOf(Destination destination) => destination.IsTopic
        ? Destinations.FindTopic(destination.Name)?.ConsumerCount ?? 0
        : Destinations.FindQueue(destination.Name)?.ConsumerCount ?? 0;

    [LoggerMessage(EventId = 10, Level = LogLevel.Information, Message = "Broker {Name} ({Id}) started, store: {Store}")]
    private static partial void LogStarted(ILogger logger, string name, string id, string store);

    [LoggerMessage(EventId = 17, Level = LogLevel.Information, Message = "Recovered {Messages} message(s) and {Subscriptions} durable subscription(s) from {Store}")]
    private static partial void LogRecovered(ILogger logger, int messages, int subscriptions, string store);

    [LoggerMessage(EventId = 18, Level = LogLevel.Information, Message = "Duplicate message {MessageId} (a resend) dropped")]
    private static partial void LogDuplicate(ILogger logger, string messageId);

    [LoggerMessage(EventId = 19, Level = LogLevel.Warning, Message = "Producer to {Destination} waits for memory: destination holds {Used} bytes, broker {BrokerUsed}")]
    private static partial void LogProducerBlocked(ILogger logger, string destination, long used, long brokerUsed);

    [LoggerMessage(EventId = 20, Level = LogLevel.Debug, Message = "Message {MessageId} on {Destination} expired and was dropped")]
    private static partial void LogExpiredDropped(ILogger logger, string messageId, string destination);

    [LoggerMessage(EventId = 22, Level = LogLevel.Warning, Message = "Client {ClientId} reconnected; dropping its stale connection from {Remote}")]
    private static partial void LogStaleConnection(ILogger logger, string clientId, string remote);

    [LoggerMessage(EventId = 21, Level = LogLevel.Critical, Message = "Store write failed; the broker can no longer promise durability")]
    private static partial void LogStoreFailed(ILogger logger, Exception ex);

    [LoggerMessage(EventId = 11, Level = LogLevel.Information, Message = "Broker {Name} stopping")]
    private static partial void LogStopping(ILogger logger, string name);

    [LoggerMessage(EventId = 12, Level = LogLevel.Information, Message = "Broker {Name} stopped")]
    private static partial void LogStopped(ILogger logger, string name);

    [LoggerMessage(EventId = 13, Level = LogLevel.Warning, Message = "{Count} connection(s) did not finish within the shutdown timeout")]
    private static partial void LogShutdownTimeout(ILogger logger, int count);

    [LoggerMessage(EventId = 14, Level = LogLevel.Error, Message = "Connection from {Remote} failed")]
    private static partial void LogConnectionFailed(ILogger logger, string remote, Exception ex);

    [LoggerMessage(EventId = 15, Level = LogLevel.Warning, Message = "Message {MessageId} from {Destination} moved to {DeadLetterQueue}: {Cause}")]
    private static partial void LogDeadLettered(ILogger logger, string messageId, string destination, string deadLetterQueue, string cause);

    [LoggerMessage(EventId = 16, Level = LogLevel.Warning, Message = "Poison message {MessageId} on the dead-letter queue itself dropped")]
    private static partial void LogDroppedFromDlq(ILogger logger, string messageId);
}

using System.Collections.Concurrent;
using Ferry.Broker.Advisory;
using Ferry.Broker.Connections;
using Ferry.Broker.Destinations;
using Ferry.Protocol.OpenWire;
using Ferry.Protocol.OpenWire.Commands;
using Ferry.Protocol.Transport;
using Microsoft.Extensions.Logging;

namespace Ferry.Broker;

/// <summary>
/// The broker: its connectors, connections, destinations and advisories. Start binds every
/// connector (failing if any cannot bind); Stop closes connectors, then connections, in that order.
/// </summary>
public sealed partial class BrokerService : IAsyncDisposable
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
    private int _state; // 0 new, 1 started, 2 stopped

    public BrokerService(BrokerOptions options, ILoggerFactory loggerFactory, TimeProvider? time = null)
    {
        options.Validate();
        Options = options;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger("Ferry.Broker");
        Time = time ?? TimeProvider.System;
        long startMillis = Time.GetUtcNow().ToUnixTimeMilliseconds();
        BrokerId = new BrokerId($"ID:{Environment.MachineName}-{Environment.ProcessId}-{startMillis}-{Interlocked.Increment(ref _instances)}:1");
        Destinations = new DestinationRegistry(Time, DeadLetter);
        Advisories = new AdvisoryPublisher(this);
        Destinations.DestinationCreated += Advisories.DestinationCreated;
    }

    public BrokerOptions Options { get; }
    public TimeProvider Time { get; }
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

    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0)
        {
            throw new InvalidOperationException("broker already started");
        }
        try
        {
            foreach (var config in Options.TransportConnectors)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var connector = new TransportConnector(config, this, _loggerFactory.CreateLogger("Ferry.Broker.Connector"));
                connector.Start();
                _connectors.Add(connector);
            }
        }
        catch
        {
            foreach (var connector in _connectors)
            {
                connector.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
            _connectors.Clear();
            throw;
        }
        LogStarted(_logger, BrokerName, BrokerId.Value!);
        return Task.CompletedTask;
    }

    /// <summary>Serves one accepted connection until it ends (tests pass in-memory connections here).</summary>
    public Task Serve(IDuplexConnection transport, TransportConnector? connector, WireFormatOptions? wireFormat = null)
    {
        var connection = new OpenWireConnection(this, transport, connector, wireFormat ?? connector?.Options.WireFormat ?? new WireFormatOptions(),
            new OpenWireChannelOptions
            {
                MaxPendingOutputBytes = Options.MaxPendingOutputBytesPerConnection,
                HandshakeTimeout = connector?.Options.ConnectionTimeout ?? TimeSpan.FromSeconds(30),
            });
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
        _stopping.Dispose();
    }

    // ---- client ids and temporary destinations ----

    internal bool TryRegisterClientId(string clientId, OpenWireConnection connection) => _clientIds.TryAdd(clientId, connection);

    internal void UnregisterClientId(string clientId, OpenWireConnection connection) =>
        _clientIds.TryRemove(new KeyValuePair<string, OpenWireConnection>(clientId, connection));

    internal void AddTempDestination(DestinationInfo info, OpenWireConnection owner)
    {
        var destination = info.Destination!;
        if (!_tempDestinations.TryAdd(destination, new TempDestination(owner, info)))
        {
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

    /// <summary>Delivers a message to its destination (each part of a composite one).</summary>
    internal void Route(Message message)
    {
        var destination = message.Destination ?? throw new BrokerException(JmsErrors.InvalidDestination, "Message has no destination");
        if (destination.IsComposite)
        {
            foreach (var part in destination.CompositeParts())
            {
                RouteTo(part, message);
            }
            return;
        }
        RouteTo(destination, message);
    }

    private void RouteTo(Destination destination, Message message)
    {
        if (destination.IsWildcard && destination.IsQueue)
        {
            throw new BrokerException(JmsErrors.InvalidDestination, $"Cannot send to a wildcard destination: {destination}");
        }
        if (destination.IsTemporary && !TempDestinationExists(destination))
        {
            throw new BrokerException(JmsErrors.InvalidDestination, $"Cannot publish to a deleted Destination: {destination}");
        }
        if (destination.IsTopic && destination.IsWildcard)
        {
            foreach (var topic in Destinations.Topics)
            {
                if (DestinationFilter.Matches(destination.Name, topic.Name))
                {
                    topic.Send(message);
                }
            }
            return;
        }
        Destinations.GetOrCreate(destination).Send(message);
    }

    /// <summary>Moves a message that cannot be delivered to the dead-letter queue.</summary>
    internal void DeadLetter(MessageReference reference, string cause)
    {
        var original = reference.Message;
        if (original.Destination is { } d && d.IsQueue && d.Name == Options.DeadLetterQueue)
        {
            LogDroppedFromDlq(_logger, original.MessageId?.ToString() ?? "?");
            return;
        }
        var copy = original.CopyForDispatch();
        copy.OriginalDestination = original.Destination;
        copy.Destination = Destination.Queue(Options.DeadLetterQueue);
        copy.RedeliveryCounter = reference.RedeliveryCounter;
        copy.MessageId = new MessageId(original.MessageId!.ProducerId!, original.MessageId.ProducerSequenceId)
        {
            TextView = original.MessageId.TextView,
            BrokerSequenceId = NextSequence(),
        };
        LogDeadLettered(_logger, copy.MessageId.ToString(), original.Destination?.ToString() ?? "?", cause);
        Destinations.GetOrCreateQueue(copy.Destination).Send(copy);
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

    [LoggerMessage(EventId = 10, Level = LogLevel.Information, Message = "Broker {Name} ({Id}) started")]
    private static partial void LogStarted(ILogger logger, string name, string id);

    [LoggerMessage(EventId = 11, Level = LogLevel.Information, Message = "Broker {Name} stopping")]
    private static partial void LogStopping(ILogger logger, string name);

    [LoggerMessage(EventId = 12, Level = LogLevel.Information, Message = "Broker {Name} stopped")]
    private static partial void LogStopped(ILogger logger, string name);

    [LoggerMessage(EventId = 13, Level = LogLevel.Warning, Message = "{Count} connection(s) did not finish within the shutdown timeout")]
    private static partial void LogShutdownTimeout(ILogger logger, int count);

    [LoggerMessage(EventId = 14, Level = LogLevel.Error, Message = "Connection from {Remote} failed")]
    private static partial void LogConnectionFailed(ILogger logger, string remote, Exception ex);

    [LoggerMessage(EventId = 15, Level = LogLevel.Warning, Message = "Message {MessageId} from {Destination} moved to the dead-letter queue: {Cause}")]
    private static partial void LogDeadLettered(ILogger logger, string messageId, string destination, string cause);

    [LoggerMessage(EventId = 16, Level = LogLevel.Warning, Message = "Poison message {MessageId} on the dead-letter queue itself dropped")]
    private static partial void LogDroppedFromDlq(ILogger logger, string messageId);
}

using System.Globalization;
using System.Threading.Channels;
using Ferry.Broker;
using Ferry.Protocol.OpenWire;
using Ferry.Protocol.OpenWire.Commands;
using Ferry.Protocol.Transport;
using Ferry.Store.Memory;
using Ferry.TestKit;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ferry.Tests.Transport;

/// <summary>An in-process broker on 127.0.0.1 that can be stopped and started again on the same port and store.</summary>
internal sealed class FailoverTestBroker : IAsyncDisposable
{
    private readonly Action<BrokerOptions>? _configure;

    private FailoverTestBroker(string name, BrokerService service, MemoryPersistenceAdapter store, int port, Action<BrokerOptions>? configure)
    {
        _configure = configure;
        Name = name;
        Service = service;
        Store = store;
        Port = port;
    }

    public string Name { get; }
    public BrokerService Service { get; private set; }
    public MemoryPersistenceAdapter Store { get; }
    public int Port { get; }
    public string Uri => $"tcp://127.0.0.1:{Port}";
    public bool Running { get; private set; } = true;

    public static async Task<FailoverTestBroker> StartAsync(string name, Action<BrokerOptions>? configure = null)
    {
        var store = new MemoryPersistenceAdapter();
        var service = await LaunchAsync(name, 0, store, configure);
        string bound = service.BoundUris[0];
        return new FailoverTestBroker(name, service, store, int.Parse(bound[(bound.LastIndexOf(':') + 1)..], CultureInfo.InvariantCulture), configure);
    }

    private static async Task<BrokerService> LaunchAsync(string name, int port, MemoryPersistenceAdapter store, Action<BrokerOptions>? configure)
    {
        var options = new BrokerOptions { BrokerName = name };
        options.TransportConnectors.Add(new TransportConnectorOptions { Uri = $"tcp://127.0.0.1:{port}" });
        configure?.Invoke(options);
        var service = new BrokerService(options, NullLoggerFactory.Instance, store);
        await service.StartAsync();
        return service;
    }

    /// <summary>Stops the broker: clients are told it is shutting down and their sockets close.</summary>
    public async Task StopAsync()
    {
        Running = false;
        await Service.StopAsync();
    }

    /// <summary>Starts it again on the same port with the same (memory) store.</summary>
    public async Task RestartAsync()
    {
        Service = await LaunchAsync(Name, Port, Store, _configure);
        Running = true;
    }

    public async ValueTask DisposeAsync()
    {
        if (Running)
        {
            await Service.StopAsync();
        }
    }
}

/// <summary>
/// A bare client over a <see cref="FailoverTransport"/>: it builds the raw commands a JMS client would
/// and records what arrives and which transport events happened.
/// </summary>
internal sealed class FailoverTestClient : IAsyncDisposable
{
    private readonly Channel<MessageDispatch> _dispatches = Channel.CreateUnbounded<MessageDispatch>();
    private readonly List<string> _events = [];
    private long _producerSeq;

    public FailoverTestClient(string uri, TimeProvider? time = null)
    {
        Transport = (FailoverTransport)TransportFactory.Create(uri, time);
        Transport.OnCommand = OnCommand;
        Transport.Interrupted += (_, e) => Record("interrupted " + e.Address);
        Transport.Resumed += (_, e) => Record("resumed " + e.Address);
        Transport.Failed += (_, e) => Record("failed " + e.Reason);
        ConnectionId = new ConnectionId($"ID:failover-test-{Guid.NewGuid():N}:1");
        SessionId = new SessionId(ConnectionId.Value!, 1);
    }

    public FailoverTransport Transport { get; }
    public ConnectionId ConnectionId { get; }
    public SessionId SessionId { get; }
    public List<Command> Received { get; } = [];

    public IReadOnlyList<string> Events
    {
        get
        {
            lock (_events)
            {
                return _events.ToList();
            }
        }
    }

    public int Count(string prefix) => Events.Count(e => e.StartsWith(prefix, StringComparison.Ordinal));

    public Task WaitForEventAsync(string prefix, int count = 1, double seconds = 20) =>
        WaitFor.ConditionAsync(() => Count(prefix) >= count, TimeSpan.FromSeconds(seconds), $"{count} '{prefix}' event(s); saw [{string.Join(", ", Events)}]");

    private void Record(string what)
    {
        lock (_events)
        {
            _events.Add(what);
        }
    }

    private ValueTask OnCommand(Command command)
    {
        lock (Received)
        {
            Received.Add(command);
        }
        if (command is MessageDispatch dispatch)
        {
            _dispatches.Writer.TryWrite(dispatch);
        }
        return ValueTask.CompletedTask;
    }

    public async Task ConnectAsync(double seconds = 20)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        await Transport.StartAsync(cts.Token);
        EnsureOk(await RequestAsync(new ConnectionInfo
        {
            ConnectionId = ConnectionId,
            ClientId = ConnectionId.Value,
            Manageable = true,
            ClientMaster = true,
            FaultTolerant = true,
        }));
        await Transport.SendAsync(new SessionInfo { SessionId = SessionId }, CancellationToken.None);
    }

    public async Task<Response> RequestAsync(Command command, double seconds = 20)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        return await Transport.RequestAsync(command, cts.Token);
    }

    public async Task<ConsumerId> SubscribeAsync(Destination destination, long value = 1, int prefetch = 1000)
    {
        var id = new ConsumerId(ConnectionId.Value!, SessionId.Value, value);
        EnsureOk(await RequestAsync(new ConsumerInfo { ConsumerId = id, Destination = destination, PrefetchSize = prefetch, DispatchAsync = true }));
        return id;
    }

    public async Task<ProducerId> AddProducerAsync(Destination? destination, long value = 1)
    {
        var id = new ProducerId(ConnectionId.Value!, SessionId.Value, value);
        EnsureOk(await RequestAsync(new ProducerInfo { ProducerId = id, Destination = destination }));
        return id;
    }

    public Message Text(ProducerId producer, Destination destination, string text, bool persistent = true, TransactionId? transaction = null)
    {
        var message = OpenWireTestClient.TextMessage(producer, Interlocked.Increment(ref _producerSeq), destination, text);
        message.Persistent = persistent;
        message.TransactionId = transaction;
        return message;
    }

    /// <summary>A sync send (responseRequired), as a JMS client sends a persistent message.</summary>
    public async Task SendTextAsync(ProducerId producer, Destination destination, string text, double seconds = 20) =>
        EnsureOk(await RequestAsync(Text(producer, destination, text), seconds));

    public async Task<MessageDispatch> ReceiveAsync(double seconds = 20)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        return await _dispatches.Reader.ReadAsync(cts.Token);
    }

    public async Task<string> ReceiveTextAsync(double seconds = 20)
    {
        var dispatch = await ReceiveAsync(seconds);
        await AckAsync(dispatch);
        return OpenWireTestClient.TextOf(dispatch.Message!);
    }

    public ValueTask AckAsync(MessageDispatch dispatch) => Transport.SendAsync(new MessageAck
    {
        AckType = AckType.Standard,
        ConsumerId = dispatch.ConsumerId,
        Destination = dispatch.Destination,
        FirstMessageId = dispatch.Message!.MessageId,
        LastMessageId = dispatch.Message.MessageId,
        MessageCount = 1,
    }, CancellationToken.None);

    public static void EnsureOk(Response response)
    {
        if (response is ExceptionResponse error)
        {
            throw new InvalidOperationException($"broker refused: {error.Exception}");
        }
    }

    public ValueTask DisposeAsync() => Transport.DisposeAsync();
}

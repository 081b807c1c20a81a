using System.Collections.Concurrent;
using Ferry.Broker;
using Ferry.Client;
using Ferry.Client.Internal;
using Ferry.Protocol.OpenWire;
using Ferry.Protocol.OpenWire.Commands;
using Ferry.Protocol.Transport;
using Ferry.Store.Memory;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ferry.Tests.Client;

/// <summary>An in-process broker on 127.0.0.1 (port 0) and client factories whose transports record what they send.</summary>
internal sealed class ClientBrokerFixture : IAsyncDisposable
{
    private ClientBrokerFixture(BrokerService broker) => Broker = broker;

    public BrokerService Broker { get; }
    public string Uri => Broker.BoundUris[0];
    public List<RecordingTransport> Transports { get; } = [];

    public static async Task<ClientBrokerFixture> StartAsync(Action<BrokerOptions>? configure = null)
    {
        var options = new BrokerOptions { BrokerName = "client-test" };
        options.TransportConnectors.Add(new TransportConnectorOptions { Uri = "tcp://127.0.0.1:0" });
        configure?.Invoke(options);
        var broker = new BrokerService(options, NullLoggerFactory.Instance, new MemoryPersistenceAdapter());
        await broker.StartAsync();
        return new ClientBrokerFixture(broker);
    }

    /// <summary>A factory for this broker; <paramref name="query"/> is appended to the URI (e.g. <c>jms.prefetchPolicy.all=3</c>).</summary>
    public ConnectionFactory Factory(string query = "")
    {
        var options = ConnectionOptions.Parse(Uri + (query.Length > 0 ? "?" + query : ""));
        return new ConnectionFactory(options, TimeProvider.System, uri =>
        {
            var transport = new RecordingTransport(ClientTransport.Create(uri, TimeProvider.System));
            lock (Transports)
            {
                Transports.Add(transport);
            }
            return transport;
        });
    }

    public async ValueTask DisposeAsync() => await Broker.DisposeAsync();
}

/// <summary>Passes everything through and keeps a copy of every command the client sent.</summary>
internal sealed class RecordingTransport(IOpenWireTransport inner) : IOpenWireTransport
{
    private readonly ConcurrentQueue<Command> _sent = new();

    public IReadOnlyList<Command> Sent => [.. _sent];

    public IEnumerable<MessageAck> Acks => Sent.OfType<MessageAck>();

    private readonly ConcurrentQueue<Command> _received = new();
    private Func<Command, ValueTask>? _handler;

    /// <summary>Every command the broker sent that reached the client (dispatches, ProducerAcks, …).</summary>
    public IReadOnlyList<Command> Received => [.. _received];

    public Func<Command, ValueTask>? OnCommand
    {
        get => _handler;
        set
        {
            _handler = value;
            inner.OnCommand = value is null ? null : command =>
            {
                _received.Enqueue(command);
                return value(command);
            };
        }
    }

    /// <summary>Hands <paramref name="command"/> to the client as if the broker had sent it (e.g. a dispatch repeated after a failover).</summary>
    public ValueTask InjectAsync(Command command) => _handler!(command);

    public event EventHandler<TransportEventArgs>? Interrupted { add => inner.Interrupted += value; remove => inner.Interrupted -= value; }

    public event EventHandler<TransportEventArgs>? Resumed { add => inner.Resumed += value; remove => inner.Resumed -= value; }

    public event EventHandler<TransportEventArgs>? Failed { add => inner.Failed += value; remove => inner.Failed -= value; }

    public BrokerInfo? BrokerInfo => inner.BrokerInfo;
    public string? RemoteAddress => inner.RemoteAddress;
    public bool IsFaultTolerant => inner.IsFaultTolerant;

    public Task StartAsync(CancellationToken cancellationToken) => inner.StartAsync(cancellationToken);

    public Task<Response> RequestAsync(Command command, CancellationToken cancellationToken)
    {
        _sent.Enqueue(command);
        return inner.RequestAsync(command, cancellationToken);
    }

    public ValueTask SendAsync(Command command, CancellationToken cancellationToken)
    {
        _sent.Enqueue(command);
        return inner.SendAsync(command, cancellationToken);
    }

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}

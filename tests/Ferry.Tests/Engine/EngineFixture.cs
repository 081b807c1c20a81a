using Ferry.Broker;
using Ferry.Protocol.OpenWire;
using Ferry.Protocol.Transport;
using Ferry.Store.Memory;
using Ferry.TestKit;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ferry.Tests.Engine;

/// <summary>A broker engine with no sockets: clients connect over in-memory pipes.</summary>
internal sealed class EngineFixture : IAsyncDisposable
{
    private readonly List<OpenWireTestClient> _clients = [];

    public EngineFixture(TimeProvider? time = null, Action<BrokerOptions>? configure = null, MemoryPersistenceAdapter? store = null)
    {
        var options = new BrokerOptions { BrokerName = "engine-test" };
        options.TransportConnectors.Add(new TransportConnectorOptions());
        configure?.Invoke(options);
        Store = store ?? new MemoryPersistenceAdapter();
        Broker = new BrokerService(options, NullLoggerFactory.Instance, Store, time);
    }

    public BrokerService Broker { get; }
    public MemoryPersistenceAdapter Store { get; }

    /// <summary>Connects a test client through an in-memory pipe pair.</summary>
    public async Task<OpenWireTestClient> ConnectAsync(string? clientId = null, WireFormatOptions? wireFormat = null)
    {
        var (client, server) = InMemoryConnection.CreatePair();
        _ = Broker.Serve(server, connector: null);
        var connected = await OpenWireTestClient.StartAsync(client, wireFormat, clientId);
        _clients.Add(connected);
        return connected;
    }

    /// <summary>The server end of a raw in-memory connection, for tests that write bytes themselves.</summary>
    public (InMemoryConnection Client, Task Served) ConnectRaw(WireFormatOptions? serverWireFormat = null)
    {
        var (client, server) = InMemoryConnection.CreatePair();
        return (client, Broker.Serve(server, connector: null, serverWireFormat));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var client in _clients)
        {
            await client.DisposeAsync();
        }
        await Broker.DisposeAsync();
    }
}

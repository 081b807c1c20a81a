using Ferry.TestKit;

namespace Ferry.IntegrationTests.Stomp;

/// <summary>One real <c>ferry broker</c> with OpenWire, STOMP and STOMP-over-WebSocket connectors, all on port 0.</summary>
public sealed class StompBroker : IAsyncLifetime
{
    public BrokerProcess Process { get; private set; } = null!;
    public int StompPort { get; private set; }
    public string WebSocketUri { get; private set; } = "";

    public async Task InitializeAsync()
    {
        Process = BrokerProcess.Launch(["--bind", "tcp://127.0.0.1:0", "--bind", "stomp://127.0.0.1:0", "--bind", "ws://127.0.0.1:0"]);
        await Process.WaitUntilListeningAsync(TimeSpan.FromSeconds(30));
        await Process.WaitForLogAsync("listening on ws://", TimeSpan.FromSeconds(30));
        StompPort = Process.PortOf("stomp");
        WebSocketUri = Process.ListeningUri("ws");
    }

    public async Task DisposeAsync() => await Process.DisposeAsync();
}

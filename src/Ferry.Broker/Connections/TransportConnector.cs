using System.Net;
using System.Net.Sockets;
using Ferry.Protocol.Transport;
using Microsoft.Extensions.Logging;

namespace Ferry.Broker.Connections;

/// <summary>
/// Listens on one <c>tcp://</c> or <c>nio://</c> address (both are the same asynchronous
/// implementation) and hands each accepted socket to the broker.
/// </summary>
public sealed partial class TransportConnector : IAsyncDisposable
{
    private readonly BrokerService _broker;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private Socket? _listener;
    private Task _acceptLoop = Task.CompletedTask;

    public TransportConnector(TransportConnectorOptions config, BrokerService broker, ILogger logger)
    {
        Name = config.Name;
        Options = TcpTransportOptions.Parse(config.Uri);
        _broker = broker;
        _logger = logger;
    }

    public string Name { get; }
    public TcpTransportOptions Options { get; }

    /// <summary>The address clients use, with the real port when port 0 was asked for.</summary>
    public string BoundUri { get; private set; } = "";

    public int ActiveConnections => _broker.ConnectionCountOn(this);

    /// <summary>Binds and starts accepting. Throws if the address cannot be bound (e.g. port in use).</summary>
    public void Start()
    {
        var endpoint = new IPEndPoint(Resolve(Options.Host), Options.Port);
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(endpoint);
            socket.Listen(1024);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        _listener = socket;
        var bound = (IPEndPoint)socket.LocalEndPoint!;
        string host = bound.Address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{bound.Address}]" : bound.Address.ToString();
        BoundUri = $"{Options.Scheme}://{host}:{bound.Port}";
        LogListening(_logger, Name, BoundUri);
        _acceptLoop = AcceptLoopAsync(_stop.Token);
    }

    private static IPAddress Resolve(string host) => host switch
    {
        "0.0.0.0" => IPAddress.Any,
        "localhost" => IPAddress.Loopback,
        _ when IPAddress.TryParse(host, out var address) => address,
        _ => Dns.GetHostAddresses(host).FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork)
             ?? throw new ArgumentException($"Cannot resolve host '{host}'"),
    };

    private async Task AcceptLoopAsync(CancellationToken token)
    {
        while (!token.IsCancellationRequested)
        {
            Socket accepted;
            try
            {
                accepted = await _listener!.AcceptAsync(token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex)
            {
                LogAcceptFailed(_logger, Name, ex.Message);
                continue;
            }
            if (ActiveConnections >= Options.MaximumConnections)
            {
                LogRefused(_logger, accepted.RemoteEndPoint?.ToString() ?? "?", Options.MaximumConnections);
                accepted.Dispose();
                continue;
            }
            _ = _broker.Serve(new TcpConnection(accepted, Options.WireFormat.TcpNoDelayEnabled), this);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener?.Dispose();
        await _acceptLoop;
        _stop.Dispose();
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Connector {Name} listening on {Uri}")]
    private static partial void LogListening(ILogger logger, string name, string uri);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "Connector {Name} failed to accept a connection: {Reason}")]
    private static partial void LogAcceptFailed(ILogger logger, string name, string reason);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "Refusing connection from {Remote}: maximumConnections={Max} reached")]
    private static partial void LogRefused(ILogger logger, string remote, int max);
}

using System.Net;
using System.Net.Sockets;
using Ferry.Protocol.OpenWire;
using Ferry.Protocol.Stomp;
using Ferry.Protocol.Transport;
using Microsoft.Extensions.Logging;

namespace Ferry.Broker.Connections;

/// <summary>
/// Listens on one address and hands each accepted client to the broker. The scheme picks the
/// protocol: <c>tcp://</c> and <c>nio://</c> OpenWire, <c>stomp://</c> and <c>stomp+nio://</c> STOMP
/// (each pair is the same asynchronous implementation), <c>ws://</c> STOMP over WebSocket (Kestrel).
/// </summary>
public sealed partial class TransportConnector : IAsyncDisposable
{
    private readonly BrokerService _broker;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private Socket? _listener;
    private Task _acceptLoop = Task.CompletedTask;
    private StompWebSocketListener? _webSocket;

    public TransportConnector(TransportConnectorOptions config, BrokerService broker, ILogger logger)
    {
        Name = config.Name;
        var uri = TransportUri.Parse(config.Uri);
        if (StompTransportOptions.Schemes.Contains(uri.Scheme))
        {
            StompOptions = StompTransportOptions.From(uri);
        }
        else
        {
            Options = TcpTransportOptions.From(uri, WireFormatOptions.Listener);
        }
        _broker = broker;
        _logger = logger;
    }

    /// <summary>Checks a connector URI (scheme and options) without binding anything.</summary>
    public static void Validate(string uri)
    {
        var parsed = TransportUri.Parse(uri);
        if (StompTransportOptions.Schemes.Contains(parsed.Scheme))
        {
            StompTransportOptions.From(parsed);
        }
        else
        {
            TcpTransportOptions.From(parsed, WireFormatOptions.Listener);
        }
    }

    public string Name { get; }

    /// <summary>OpenWire options; null for a STOMP connector.</summary>
    public TcpTransportOptions? Options { get; }

    /// <summary>STOMP options; null for an OpenWire connector.</summary>
    public StompTransportOptions? StompOptions { get; }

    private string Scheme => Options?.Scheme ?? StompOptions!.Scheme;
    private string Host => Options?.Host ?? StompOptions!.Host;
    private int Port => Options?.Port ?? StompOptions!.Port;
    private int MaximumConnections => Options?.MaximumConnections ?? StompOptions!.MaximumConnections;

    /// <summary>The address clients use, with the real port when port 0 was asked for.</summary>
    public string BoundUri { get; private set; } = "";

    public int ActiveConnections => _broker.ConnectionCountOn(this);

    /// <summary>Binds and starts accepting. Throws if the address cannot be bound (e.g. port in use).</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (StompOptions is { IsWebSocket: true } ws)
        {
            _webSocket = new StompWebSocketListener(ws, _broker, this, _broker.LoggerFactory);
            BoundUri = await _webSocket.StartAsync(new IPEndPoint(Resolve(ws.Host), ws.Port), cancellationToken);
            LogListening(_logger, Name, BoundUri);
            return;
        }
        Start();
    }

    private void Start()
    {
        var endpoint = new IPEndPoint(Resolve(Host), Port);
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
        BoundUri = $"{Scheme}://{host}:{bound.Port}";
        LogListening(_logger, Name, BoundUri);
        _acceptLoop = AcceptLoopAsync(_stop.Token);
    }

    internal static IPAddress Resolve(string host) => host switch
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
            if (!Admit(accepted.RemoteEndPoint?.ToString()))
            {
                accepted.Dispose();
                continue;
            }
            _ = Options is { } openWire
                ? _broker.Serve(new TcpConnection(accepted, openWire.WireFormat.TcpNoDelayEnabled), this)
                : _broker.ServeStomp(new TcpConnection(accepted), this);
        }
    }

    /// <summary>Whether one more client may connect (maximumConnections).</summary>
    internal bool Admit(string? remote)
    {
        if (ActiveConnections < MaximumConnections)
        {
            return true;
        }
        LogRefused(_logger, remote ?? "?", MaximumConnections);
        return false;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_webSocket is not null)
        {
            await _webSocket.DisposeAsync();
        }
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

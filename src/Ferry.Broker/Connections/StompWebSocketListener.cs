using System.Net;
using Ferry.Protocol.Stomp;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.AspNetCore.WebSockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Ferry.Broker.Connections;

/// <summary>
/// STOMP over WebSocket on a bare Kestrel server: no generic host, so Kestrel neither installs
/// signal handlers nor logs start-up banners; every upgraded request becomes one STOMP connection.
/// Subprotocols <c>v12.stomp</c>, <c>v11.stomp</c>, <c>v10.stomp</c> (and <c>stomp</c>) are accepted,
/// the client's first supported choice is confirmed; a client asking for none gets none.
/// </summary>
internal sealed partial class StompWebSocketListener : IAsyncDisposable
{
    private static readonly string[] SubProtocols = ["v12.stomp", "v11.stomp", "v10.stomp", "stomp"];

    private readonly StompTransportOptions _options;
    private readonly BrokerService _broker;
    private readonly TransportConnector _connector;
    private readonly ILogger _logger;
    private readonly KestrelServer _server;
    private readonly ServiceProvider _services;

    public StompWebSocketListener(StompTransportOptions options, BrokerService broker, TransportConnector connector, ILoggerFactory loggerFactory)
    {
        _options = options;
        _broker = broker;
        _connector = connector;
        _logger = loggerFactory.CreateLogger("Ferry.Broker.WebSocket");
        // Kestrel reports every connection's life at information level; the broker logs its own.
        loggerFactory = new WarningsOnly(loggerFactory);
        _services = new ServiceCollection().AddSingleton(loggerFactory).BuildServiceProvider();
        var kestrel = new KestrelServerOptions
        {
            ApplicationServices = _services,
            AddServerHeader = false,
        };
        kestrel.Limits.MaxRequestBodySize = 0;
        _server = new KestrelServer(Options.Create(kestrel), new SocketTransportFactory(Options.Create(new SocketTransportOptions()), loggerFactory), loggerFactory);
    }

    /// <summary>Binds and starts serving; returns the ws:// address with the real port.</summary>
    public async Task<string> StartAsync(IPEndPoint endpoint, CancellationToken cancellationToken)
    {
        _server.Options.Listen(endpoint);
        var webSockets = new WebSocketMiddleware(ServeAsync, Options.Create(new WebSocketOptions { KeepAliveInterval = TimeSpan.Zero }), _services.GetRequiredService<ILoggerFactory>());
        await _server.StartAsync(new Application(webSockets.Invoke), cancellationToken);
        string address = _server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault()
            ?? throw new InvalidOperationException("Kestrel reported no bound address");
        return "ws" + address[address.IndexOf(':', StringComparison.Ordinal)..];
    }

    private async Task ServeAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await context.Response.WriteAsync("This endpoint speaks STOMP over WebSocket only.\n", context.RequestAborted);
            return;
        }
        string remote = $"{context.Connection.RemoteIpAddress}:{context.Connection.RemotePort}";
        if (!_connector.Admit(remote))
        {
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            return;
        }
        var requested = context.WebSockets.WebSocketRequestedProtocols;
        string? subProtocol = requested.FirstOrDefault(p => SubProtocols.Contains(p, StringComparer.OrdinalIgnoreCase));
        if (requested.Count > 0 && subProtocol is null)
        {
            LogUnsupportedSubProtocol(_logger, remote, string.Join(",", requested));
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }
        using var socket = await context.WebSockets.AcceptWebSocketAsync(subProtocol);
        var connection = new WebSocketConnection(socket, "ws://" + remote, $"{context.Connection.LocalIpAddress}:{context.Connection.LocalPort}");
        await _broker.ServeStomp(connection, _connector, _options);
        await connection.Completion;
    }

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await _server.StopAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
        }
        _server.Dispose();
        await _services.DisposeAsync();
    }

    /// <summary>The smallest Kestrel application: a fresh HttpContext per request, run through the WebSocket middleware.</summary>
    private sealed class Application(RequestDelegate pipeline) : IHttpApplication<HttpContext>
    {
        public HttpContext CreateContext(IFeatureCollection contextFeatures) => new DefaultHttpContext(contextFeatures);
        public Task ProcessRequestAsync(HttpContext context) => pipeline(context);
        public void DisposeContext(HttpContext context, Exception? exception) { }
    }

    private sealed class WarningsOnly(ILoggerFactory inner) : ILoggerFactory
    {
        public ILogger CreateLogger(string categoryName) => new Logger(inner.CreateLogger(categoryName));
        public void AddProvider(ILoggerProvider provider) => inner.AddProvider(provider);
        public void Dispose() { }

        private sealed class Logger(ILogger inner) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => inner.BeginScope(state);
            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning && inner.IsEnabled(logLevel);
            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (IsEnabled(logLevel))
                {
                    inner.Log(logLevel, eventId, state, exception, formatter);
                }
            }
        }
    }

    [LoggerMessage(EventId = 120, Level = LogLevel.Warning, Message = "Refusing WebSocket from {Remote}: none of its subprotocols ({Requested}) is STOMP")]
    private static partial void LogUnsupportedSubProtocol(ILogger logger, string remote, string requested);
}

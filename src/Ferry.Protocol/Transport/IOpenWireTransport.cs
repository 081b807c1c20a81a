using Ferry.Protocol.OpenWire;
using Ferry.Protocol.OpenWire.Commands;

namespace Ferry.Protocol.Transport;

/// <summary>
/// A client-side OpenWire link to a broker, as the client library and network bridges use it:
/// requests correlated with their responses, one-way commands, and everything else the broker
/// sends handed to <see cref="OnCommand"/> in arrival order. A plain TCP transport ends with its
/// socket; the failover transport reconnects and replays state behind the same interface.
/// </summary>
public interface IOpenWireTransport : IAsyncDisposable
{
    /// <summary>Connects and exchanges WireFormatInfo. Bounded by the transport's own timeouts and <paramref name="cancellationToken"/>.</summary>
    Task StartAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Sends <paramref name="command"/> with responseRequired set (a command id is assigned) and
    /// returns the broker's Response or ExceptionResponse. Throws <see cref="TransportClosedException"/>
    /// if the transport fails for good first.
    /// </summary>
    Task<Response> RequestAsync(Command command, CancellationToken cancellationToken);

    /// <summary>Sends without waiting for an answer (a command id is assigned).</summary>
    ValueTask SendAsync(Command command, CancellationToken cancellationToken);

    /// <summary>Receives every command from the broker that is not a response: dispatches, ConnectionControl, ConnectionError, ProducerAck, BrokerInfo.</summary>
    Func<Command, ValueTask>? OnCommand { get; set; }

    /// <summary>The link was lost; a failover transport is reconnecting (sends wait meanwhile).</summary>
    event EventHandler<TransportEventArgs>? Interrupted;

    /// <summary>The link is back and its state was replayed.</summary>
    event EventHandler<TransportEventArgs>? Resumed;

    /// <summary>The transport gave up for good; every pending and later call fails.</summary>
    event EventHandler<TransportEventArgs>? Failed;

    /// <summary>The BrokerInfo of the broker currently connected, once received.</summary>
    BrokerInfo? BrokerInfo { get; }

    /// <summary>Where the transport is connected now (null while disconnected).</summary>
    string? RemoteAddress { get; }

    /// <summary>True for a failover transport (the client then marks its ConnectionInfo faultTolerant).</summary>
    bool IsFaultTolerant { get; }
}

public sealed class TransportEventArgs(string address, string? reason) : EventArgs
{
    public string Address { get; } = address;
    public string? Reason { get; } = reason;
}

/// <summary>The transport is closed or failed for good.</summary>
public sealed class TransportClosedException : IOException
{
    public TransportClosedException() { }

    public TransportClosedException(string message) : base(message) { }

    public TransportClosedException(string message, Exception inner) : base(message, inner) { }
}

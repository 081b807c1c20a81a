using Ferry.Protocol.OpenWire;

namespace Ferry.Protocol.Transport;

/// <summary>
/// A client conversation as the broker's connection sees it: OpenWire commands in, OpenWire
/// commands out. <see cref="OpenWire.OpenWireChannel"/> speaks OpenWire on the wire; the STOMP
/// channel translates STOMP frames to and from these commands, so both protocols share one engine.
/// </summary>
public interface ICommandChannel : IAsyncDisposable
{
    string RemoteAddress { get; }

    /// <summary>Why the channel closed, once it has.</summary>
    string? CloseReason { get; }

    bool IsClosed { get; }

    /// <summary>Runs until the peer goes away or the channel is closed; commands go to <paramref name="onCommand"/> one at a time.</summary>
    Task RunAsync(Func<DataStructure, ValueTask> onCommand, CancellationToken cancellationToken);

    /// <summary>Queues a command for the peer without blocking; false once closed.</summary>
    bool Send(DataStructure command);

    /// <summary>Stops reading, sends what is queued (bounded), then closes.</summary>
    void Close(string reason);

    /// <summary>Drops the connection without sending what is queued.</summary>
    void Abort(string reason);
}

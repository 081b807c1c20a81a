using System.Buffers;
using System.IO.Pipelines;
using System.Threading.Channels;
using Ferry.Protocol.OpenWire.Commands;
using Ferry.Protocol.Transport;
using Microsoft.Extensions.Logging;

namespace Ferry.Protocol.OpenWire;

/// <summary>Limits of one OpenWire connection.</summary>
public sealed record OpenWireChannelOptions
{
    /// <summary>Queued output beyond this is a slow consumer (closed, reason logged) or makes senders wait, by <see cref="Overflow"/>.</summary>
    public long MaxPendingOutputBytes { get; init; } = 64L * 1024 * 1024;
    /// <summary>Disconnect for the broker's dispatch (never wait for one client); Wait for a client's own sends (back-pressure).</summary>
    public OutputOverflow Overflow { get; init; } = OutputOverflow.Disconnect;
    /// <summary>The peer must send its WireFormatInfo within this time.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Output is flushed once this much is buffered, even if more commands are queued.</summary>
    public int FlushThresholdBytes { get; init; } = 64 * 1024;
}

/// <summary>
/// An OpenWire conversation over a duplex connection, the same for broker and client:
/// WireFormatInfo exchange and negotiation, framing, a read loop handing commands to a callback
/// in order, a write loop that batches queued commands into few socket writes, and keep-alives.
/// </summary>
public sealed partial class OpenWireChannel : ICommandChannel
{
    private readonly IDuplexConnection _connection;
    private readonly WireFormatOptions _local;
    private readonly OpenWireChannelOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly OpenWireFormat _format;
    private readonly ChannelOutput<DataStructure> _output;
    private InactivityMonitor? _monitor;
    private int _disposed;

    public OpenWireChannel(IDuplexConnection connection, WireFormatOptions local, OpenWireChannelOptions options, TimeProvider time, ILogger logger)
    {
        _connection = connection;
        _local = local;
        _options = options;
        _time = time;
        _logger = logger;
        _format = new OpenWireFormat(local.MaxFrameSize);
        _output = new ChannelOutput<DataStructure>(connection, options.MaxPendingOutputBytes, options.FlushThresholdBytes, time, logger, EstimateSize)
        {
            Flushed = () => _monitor?.MarkWritten(),
            Overflow = options.Overflow,
        };
    }

    public string RemoteAddress => _connection.RemoteAddress;
    public NegotiatedWireFormat? WireFormat { get; private set; }
    public WireFormatInfo? RemoteWireFormat { get; private set; }
    /// <summary>Why the channel closed, once it has.</summary>
    public string? CloseReason => _output.CloseReason;
    public bool IsClosed => CloseReason is not null;

    /// <summary>
    /// Runs the conversation until the peer goes away, the channel is closed, or bad input arrives.
    /// Every decoded command (the peer's WireFormatInfo first, after negotiation) goes to
    /// <paramref name="onCommand"/>, one at a time, in arrival order.
    /// </summary>
    public Task RunAsync(Func<DataStructure, ValueTask> onCommand, CancellationToken cancellationToken) =>
        _output.RunAsync(async token =>
        {
            await WriteDirectAsync(WireFormatInfo.From(_local), token);
            await ReadLoopAsync(onCommand, token);
        },
        onProtocolError: ex =>
        {
            _output.SetCloseReason("protocol error: " + ex.Message);
            LogProtocolError(_logger, RemoteAddress, ex.Message);
            _connection.Abort();
        },
        onEnd: () => _monitor?.Dispose(),
        cancellationToken);

    private async Task ReadLoopAsync(Func<DataStructure, ValueTask> onCommand, CancellationToken token)
    {
        var input = _connection.Input;
        using var handshake = new CancellationTokenSource(_options.HandshakeTimeout, _time);
        using var handshakeOrStop = CancellationTokenSource.CreateLinkedTokenSource(token, handshake.Token);
        while (true)
        {
            ReadResult result;
            try
            {
                result = await input.ReadAsync(WireFormat is null ? handshakeOrStop.Token : token);
            }
            catch (OperationCanceledException) when (handshake.IsCancellationRequested && !token.IsCancellationRequested)
            {
                throw new ProtocolException($"peer did not send its WireFormatInfo within {_options.HandshakeTimeout.TotalSeconds:0.#} s");
            }
            var buffer = result.Buffer;
            if (!buffer.IsEmpty)
            {
                _monitor?.MarkRead();
            }
            try
            {
                while (_format.TryReadFrame(ref buffer, out var command))
                {
                    if (command is null)
                    {
                        continue;
                    }
                    if (WireFormat is null)
                    {
                        Negotiate(command);
                    }
                    else if (command is KeepAliveInfo keepAlive)
                    {
                        if (keepAlive.ResponseRequired)
                        {
                            Send(new KeepAliveInfo());
                        }
                        continue;
                    }
                    await onCommand(command);
                    if (IsClosed)
                    {
                        return;
                    }
                }
            }
            finally
            {
                input.AdvanceTo(buffer.Start, buffer.End);
            }
            if (result.IsCompleted || result.IsCanceled)
            {
                if (!buffer.IsEmpty)
                {
                    throw new ProtocolException($"connection closed inside a frame ({buffer.Length} bytes of an incomplete frame)");
                }
                _output.SetCloseReason("peer closed the connection");
                return;
            }
        }
    }

    private void Negotiate(DataStructure first)
    {
        if (first is not WireFormatInfo remote)
        {
            throw new ProtocolException($"expected WireFormatInfo as the first frame, got data type {first.DataType}");
        }
        var negotiated = _local.Negotiate(remote);
        _format.Apply(negotiated);
        RemoteWireFormat = remote;
        WireFormat = negotiated;
        _output.Start((command, output) => _format.Write(command, output));
        if (negotiated.MaxInactivityDuration > 0)
        {
            _monitor = new InactivityMonitor(_time, negotiated.ReadCheckInterval, negotiated.WriteCheckInterval,
                TimeSpan.FromMilliseconds(negotiated.MaxInactivityDurationInitialDelay),
                onReadTimeout: () => Abort($"Channel was inactive for too (>{negotiated.MaxInactivityDuration}) long"),
                onWriteIdle: () => Send(new KeepAliveInfo()));
        }
    }

    /// <summary>
    /// Queues a command for the write loop; never blocks. Returns false if the channel is closed.
    /// With <see cref="OutputOverflow.Disconnect"/>, output piling up past the limit closes the channel as a slow consumer.
    /// </summary>
    public bool Send(DataStructure command) => _output.Enqueue(command);

    /// <summary>With <see cref="OutputOverflow.Wait"/>: waits while too much output is queued (see <see cref="ChannelOutput{T}.WaitForRoomAsync"/>).</summary>
    public ValueTask WaitForRoomAsync(CancellationToken cancellationToken) => _output.WaitForRoomAsync(cancellationToken);

    private static long EstimateSize(DataStructure command) => command switch
    {
        MessageDispatch { Message: { } m } => 256 + (m.Content?.Length ?? 0) + (m.MarshalledProperties?.Length ?? 0),
        Message m => 256 + (m.Content?.Length ?? 0) + (m.MarshalledProperties?.Length ?? 0),
        _ => 64,
    };

    private async Task WriteDirectAsync(DataStructure command, CancellationToken token)
    {
        _format.Write(command, _connection.Output);
        await _connection.Output.FlushAsync(token);
    }

    /// <summary>Stops reading, sends what is queued (bounded by a few seconds), then closes.</summary>
    public void Close(string reason) => _output.Close(reason);

    /// <summary>Drops the connection without sending what is queued.</summary>
    public void Abort(string reason) => _output.Abort(reason);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _monitor?.Dispose();
        await _output.DisposeAsync();
        _format.Dispose();
    }

    [LoggerMessage(EventId = 100, Level = LogLevel.Warning, Message = "Closing connection from {Remote}: {Reason}")]
    private static partial void LogProtocolError(ILogger logger, string remote, string reason);

}

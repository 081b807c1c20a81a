using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Threading.Channels;
using Ferry.Protocol;
using Ferry.Protocol.OpenWire;
using Ferry.Protocol.OpenWire.Commands;
using Ferry.Protocol.Stomp;
using Ferry.Protocol.Transport;
using Microsoft.Extensions.Logging;

namespace Ferry.Broker.Connections;

/// <summary>
/// A STOMP client translated into OpenWire commands, as ActiveMQ's ProtocolConverter does: the
/// broker's connection (<see cref="OpenWireConnection"/>) sees one ConnectionInfo, one session, one
/// producer and one consumer per SUBSCRIBE, and answers with the same commands it sends OpenWire
/// clients; this channel turns those back into CONNECTED, RECEIPT, MESSAGE and ERROR frames.
/// <para>
/// Threads: frames are read and handled one at a time by the read loop (<c>StompChannel.Frames.cs</c>);
/// <see cref="Send"/> may be called from any thread and only queues; one write loop
/// (<c>StompChannel.Output.cs</c>) turns queued commands into frames in order, making auto-acks just
/// before it writes a MESSAGE frame.
/// </para>
/// </summary>
public sealed partial class StompChannel : ICommandChannel
{
    private static readonly object HeartBeat = new();

    private readonly IDuplexConnection _connection;
    private readonly StompTransportOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Action<MessageAck> _acknowledge;
    private readonly StompParser _parser;
    private readonly ChannelOutput<object> _output;
    private readonly ConcurrentDictionary<int, PendingReply> _pendingReplies = new();
    private InactivityMonitor? _monitor;
    private int _version = (int)StompVersion.V10;
    private int _disposed;

    /// <param name="acknowledge">Applies a non-transacted ack outside the read loop (auto-ack subscriptions).</param>
    public StompChannel(IDuplexConnection connection, StompTransportOptions options, long maxPendingOutputBytes, TimeProvider time, ILogger logger, Action<MessageAck> acknowledge)
    {
        _connection = connection;
        _options = options;
        _time = time;
        _logger = logger;
        _acknowledge = acknowledge;
        _parser = new StompParser(options.Parser);
        _nameOf = NameOf; // one delegate, not one per delivered message
        _output = new ChannelOutput<object>(connection, maxPendingOutputBytes, 64 * 1024, time, logger, EstimateSize)
        {
            Flushed = () => _monitor?.MarkWritten(),
        };
    }

    private readonly StompMessageConverter.DestinationNamer _nameOf;

    public string RemoteAddress => _connection.RemoteAddress;
    public string? CloseReason => _output.CloseReason;
    public bool IsClosed => CloseReason is not null;

    /// <summary>The negotiated version: how header values are escaped both ways.</summary>
    private StompVersion Version
    {
        get => (StompVersion)Volatile.Read(ref _version);
        set => Volatile.Write(ref _version, (int)value);
    }

    /// <summary>What to write when the engine answers a command: a frame on success, an ERROR (with the receipt id) on failure.</summary>
    private sealed record PendingReply(string? ReceiptId, StompFrame? OnSuccess);

    public Task RunAsync(Func<DataStructure, ValueTask> onCommand, CancellationToken cancellationToken)
    {
        _output.Start(Write);
        return _output.RunAsync(token => ReadLoopAsync(onCommand, token),
            onProtocolError: ex =>
            {
                // Malformed input: tell the client why, then close (ActiveMQ treats these as fatal).
                LogProtocolError(_logger, RemoteAddress, ex.Message);
                Fail(ex.Message, receiptId: null);
            },
            onEnd: () => _monitor?.Dispose(),
            cancellationToken);
    }

    private async Task ReadLoopAsync(Func<DataStructure, ValueTask> onCommand, CancellationToken token)
    {
        var input = _connection.Input;
        using var connectTimeout = new CancellationTokenSource(_options.ConnectTimeout, _time);
        using var connectOrStop = CancellationTokenSource.CreateLinkedTokenSource(token, connectTimeout.Token);
        while (true)
        {
            ReadResult result;
            try
            {
                result = await input.ReadAsync(_connected ? token : connectOrStop.Token);
            }
            catch (OperationCanceledException) when (connectTimeout.IsCancellationRequested && !token.IsCancellationRequested)
            {
                _output.SetCloseReason($"no CONNECT frame within {_options.ConnectTimeout.TotalSeconds:0.#} s");
                LogConnectTimeout(_logger, RemoteAddress, _options.ConnectTimeout.TotalSeconds);
                _connection.Abort();
                return;
            }
            var buffer = result.Buffer;
            if (!buffer.IsEmpty)
            {
                // Any byte counts as a client heart-beat, including a lone LF.
                _monitor?.MarkRead();
            }
            try
            {
                while (!IsClosed && _parser.TryReadFrame(ref buffer, out var frame))
                {
                    await HandleFrameAsync(frame!, onCommand);
                }
                RefuseUnknownCommand(buffer);
            }
            finally
            {
                input.AdvanceTo(buffer.Start, buffer.End);
            }
            if (IsClosed)
            {
                return;
            }
            if (result.IsCompleted || result.IsCanceled)
            {
                if (!IsOnlyPadding(buffer))
                {
                    throw new ProtocolException($"connection closed inside a frame ({buffer.Length} bytes of an incomplete frame)");
                }
                _output.SetCloseReason("peer closed the connection");
                return;
            }
        }
    }

    /// <summary>
    /// Fails at once when the frame still being received has an unknown command (an HTTP request,
    /// say), instead of waiting for a NUL that may never come.
    /// </summary>
    private static void RefuseUnknownCommand(ReadOnlySequence<byte> buffer)
    {
        var reader = new SequenceReader<byte>(buffer);
        while (reader.TryPeek(out byte b) && (b == (byte)'\n' || b == (byte)'\r' || b == 0))
        {
            reader.Advance(1);
        }
        if (reader.TryReadTo(out ReadOnlySequence<byte> line, (byte)'\n') && line.Length <= 1024)
        {
            string command = System.Text.Encoding.UTF8.GetString(line.ToArray()).Trim();
            if (!command.StartsWith("CONNECT", StringComparison.Ordinal) && !command.StartsWith("STOMP", StringComparison.Ordinal) && !IsKnown(command))
            {
                throw new ProtocolException("Unknown STOMP action: " + command);
            }
        }
    }

    private static bool IsOnlyPadding(ReadOnlySequence<byte> buffer)
    {
        foreach (var segment in buffer)
        {
            if (segment.Span.IndexOfAnyExcept((byte)'\n', (byte)'\r', (byte)0) >= 0)
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Starts heart-beating both ways as negotiated in CONNECT (cx: the client sends, cy: the client wants).</summary>
    private void StartHeartBeats(long clientSends, long clientWants)
    {
        var read = clientSends > 0 ? TimeSpan.FromMilliseconds(clientSends * _options.HeartBeatGracePeriodMultiplier) : TimeSpan.Zero;
        // Checking at half the promised interval keeps every gap in our output below cy.
        var write = clientWants > 0 ? TimeSpan.FromMilliseconds(Math.Max(1, clientWants / 2)) : TimeSpan.Zero;
        if (read == TimeSpan.Zero && write == TimeSpan.Zero)
        {
            return;
        }
        _monitor = new InactivityMonitor(_time, read, write, TimeSpan.Zero,
            onReadTimeout: () => Abort($"no heart-beat or frame from the client for {read.TotalMilliseconds:0} ms"),
            onWriteIdle: () => _output.Enqueue(HeartBeat));
    }

    /// <summary>Queues a command (MessageDispatch, Response, ...) to become a frame; never blocks.</summary>
    public bool Send(DataStructure command)
    {
        if (command is ExceptionResponse refusal)
        {
            Volatile.Write(ref _lastRefusedCommand, refusal.CorrelationId);
        }
        return _output.Enqueue(command);
    }

    private static long EstimateSize(object item) => item switch
    {
        MessageDispatch { Message: { } m } => 256 + (m.Content?.Length ?? 0) + (m.MarshalledProperties?.Length ?? 0),
        StompFrame f => 128 + f.Body.Length,
        _ => 64,
    };

    /// <summary>Sends ERROR and closes the connection (fatal errors: bad frames, failed CONNECT).</summary>
    private void Fail(string message, string? receiptId)
    {
        _output.Enqueue(ErrorFrame(message, receiptId));
        Close("protocol error: " + message);
    }

    public void Close(string reason) => _output.Close(reason);

    public void Abort(string reason) => _output.Abort(reason);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _monitor?.Dispose();
        await _output.DisposeAsync();
    }

    [LoggerMessage(EventId = 110, Level = LogLevel.Warning, Message = "Closing STOMP connection from {Remote}: {Reason}")]
    private static partial void LogProtocolError(ILogger logger, string remote, string reason);

    [LoggerMessage(EventId = 112, Level = LogLevel.Warning, Message = "Dropping STOMP connection from {Remote}: no CONNECT frame within {Seconds} s")]
    private static partial void LogConnectTimeout(ILogger logger, string remote, double seconds);

    [LoggerMessage(EventId = 113, Level = LogLevel.Debug, Message = "STOMP ERROR to {Remote}: {Message}")]
    private static partial void LogErrorFrame(ILogger logger, string remote, string message);
}
